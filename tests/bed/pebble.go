package bed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// DefaultCacheDir is where the bed keeps what it builds once per machine
// (the Pebble binary; the image's default location is beside it).
const DefaultCacheDir = "/var/cache/synapse-bed"

var pebbleBinary struct {
	sync.Mutex
	path string
}

// CacheDir is the bed's cache directory: $SYNAPSE_BED_CACHE, or
// DefaultCacheDir when that is unset.
func CacheDir() string {
	if d := os.Getenv("SYNAPSE_BED_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// PebbleBinary returns the path of a Pebble binary built from the version of
// github.com/canonical/pebble that this module's go.mod pins. It is built
// once (statically, CGO_ENABLED=0, so it runs in any root) into
// CacheDir()/bin/pebble-<version>, and rebuilt only if that file is missing.
// When not root and SYNAPSE_BED_CACHE is unset, a binary in the default
// cache is used if present, else one is built under os.UserCacheDir().
// The module root is found by walking up from the working directory (or
// this package's source directory) to go.mod.
func PebbleBinary(ctx context.Context) (string, error) {
	pebbleBinary.Lock()
	defer pebbleBinary.Unlock()
	if pebbleBinary.path != "" {
		if _, err := os.Stat(pebbleBinary.path); err == nil {
			return pebbleBinary.path, nil
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("pebble binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, goTool(), "list", "-m", "-f", "{{.Version}}", "github.com/canonical/pebble")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pebble binary: go list -m github.com/canonical/pebble: %w", err)
	}
	version := strings.TrimSpace(string(out))
	name := "pebble-" + version
	dirs := []string{filepath.Join(CacheDir(), "bin")}
	if os.Geteuid() != 0 && os.Getenv("SYNAPSE_BED_CACHE") == "" {
		// Use a root-built binary if there is one, else build our own.
		if d, err := os.UserCacheDir(); err == nil {
			dirs = append(dirs, filepath.Join(d, "synapse-bed", "bin"))
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			pebbleBinary.path = filepath.Join(d, name)
			return pebbleBinary.path, nil
		}
	}
	var errs []error
	for _, d := range dirs {
		path, err := buildPebble(ctx, root, d, name)
		if err == nil {
			pebbleBinary.path = path
			return path, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("pebble binary: %w", errors.Join(errs...))
}

// buildPebble builds Pebble into dir/name under a lock, unless another
// process built it while we waited for the lock.
func buildPebble(ctx context.Context, root, dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".pebble.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", tmp, "github.com/canonical/pebble/cmd/pebble")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, nil
}

// moduleRoot finds the directory of this module's go.mod.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			data, err := os.ReadFile(filepath.Join(d, "go.mod"))
			if err == nil && strings.Contains(string(data), "github.com/canonical/pebble") {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return "", fmt.Errorf("no go.mod requiring github.com/canonical/pebble above %v", starts)
}

// goTool is the go command on PATH ("go test" puts its own toolchain first).
func goTool() string { return "go" }
