package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// The hook tools are one binary, built from ./cmd/hooktool with "go build"
// the first time a process needs it and cached by the hash of its source
// under the user cache directory, so parallel test processes share one
// build. Each model gets a tools directory with a symlink per tool name.

var hooktoolBuild struct {
	sync.Mutex
	path string
}

// HookToolBinary returns the path of the hooktool binary, building it if
// needed.
func HookToolBinary(ctx context.Context) (string, error) {
	hooktoolBuild.Lock()
	defer hooktoolBuild.Unlock()
	if hooktoolBuild.path != "" {
		if _, err := os.Stat(hooktoolBuild.path); err == nil {
			return hooktoolBuild.path, nil
		}
	}
	src, err := hooktoolSourceDir()
	if err != nil {
		return "", err
	}
	main, err := os.ReadFile(filepath.Join(src, "main.go"))
	if err != nil {
		return "", fmt.Errorf("hooktool source: %w", err)
	}
	sum := sha256.Sum256(main)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "jujusim")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "hooktool-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(path); err != nil {
		tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
		cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("build hooktool: %w: %s", err, out)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return "", err
		}
	}
	hooktoolBuild.path = path
	return path, nil
}

// hooktoolSourceDir finds tests/sim/cmd/hooktool: beside this source file,
// or under the module root above the working directory.
func hooktoolSourceDir() (string, error) {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "cmd", "hooktool"))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
				strings.Contains(string(data), "module github.com/synapse-charm/synapse-k8s-go") {
				candidates = append(candidates, filepath.Join(d, "tests", "sim", "cmd", "hooktool"))
				break
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "main.go")); err == nil {
			return c, nil
		}
	}
	return "", errors.New("hooktool source (tests/sim/cmd/hooktool) not found; set Options.HookTool")
}

// installHookTools makes dir a tools directory: the hooktool binary and a
// symlink to it for every tool name.
func installHookTools(ctx context.Context, prebuilt, dir string) (string, error) {
	bin := prebuilt
	if bin == "" {
		var err error
		if bin, err = HookToolBinary(ctx); err != nil {
			return "", err
		}
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Symlink(bin, filepath.Join(dir, "hooktool")); err != nil && !os.IsExist(err) {
		return "", err
	}
	for _, name := range ToolNames {
		if err := os.Symlink("hooktool", filepath.Join(dir, name)); err != nil && !os.IsExist(err) {
			return "", err
		}
	}
	return dir, nil
}
