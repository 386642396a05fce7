package bed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// HostPackages are the Debian packages the bed runs on the host.
var hostPackages = map[string]string{
	// command -> package providing it
	"/usr/lib/postgresql": "postgresql",
	"redis-server":        "redis-server",
	"mmdebstrap":          "mmdebstrap",
	"umoci":               "umoci",
	"skopeo":              "skopeo",
	"nginx":               "nginx",
}

// EnsureHostPackages installs, with apt-get, the host packages the bed
// needs that are missing, so a fresh Debian machine runs the bed with no
// setup step. It does nothing when all are present, and needs root
// otherwise.
func EnsureHostPackages(ctx context.Context) error {
	var missing []string
	for probe, pkg := range hostPackages {
		if strings.HasPrefix(probe, "/") {
			if m, _ := filepath.Glob(probe + "/*/bin/postgres"); len(m) > 0 {
				continue
			}
		} else if _, err := exec.LookPath(probe); err == nil {
			continue
		} else if _, err := os.Stat("/usr/sbin/" + probe); err == nil {
			continue
		}
		missing = append(missing, pkg)
	}
	if len(missing) == 0 {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "synapse-bed-apt.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	update := exec.CommandContext(ctx, "apt-get", "update", "-q")
	update.Env = env
	if out, err := update.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %w: %s", err, tail2(out))
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	install := exec.CommandContext(ctx, "apt-get", args...)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %v: %w: %s", missing, err, tail2(out))
	}
	return nil
}

func tail2(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
