package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefusesWhatDispatchRuns: hooks and other actions belong to dispatch;
// this program refuses them before asking Juju anything.
func TestRefusesWhatDispatchRuns(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "backup-actions")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, path := range []string{"hooks/update-status", "actions/register-user"} {
		cmd := exec.Command(bin)
		cmd.Env = []string{"PATH=" + t.TempDir(), "JUJU_DISPATCH_PATH=" + path, "JUJU_UNIT_NAME=synapse/0"}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, path)
		assert.Equal(t, 1, ee.ExitCode(), path)
		assert.Contains(t, string(out), "is not a backup action: dispatch runs it", path)
	}
}
