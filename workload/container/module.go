package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/canonical/pebble/client"
)

// HasPythonModule reports whether the workload image can import module,
// by running the image's python3 through Pebble.
func HasPythonModule(ctx context.Context, c *client.Client, module string) (bool, error) {
	var stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", "import " + module},
		Stderr:  &stderr,
		Timeout: 30 * time.Second,
	})
	if err != nil {
		return false, fmt.Errorf("check python module %s: %w", module, err)
	}
	err = proc.Wait()
	var exit *client.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && strings.Contains(stderr.String(), "ModuleNotFoundError"):
		return false, nil
	default:
		return false, fmt.Errorf("check python module %s: %w: %s", module, err, lastLine(stderr.String()))
	}
}

// FileContains reports whether a file in the container contains s; a
// missing file does not.
func FileContains(c *client.Client, path, s string) (bool, error) {
	var buf bytes.Buffer
	if err := c.Pull(&client.PullOptions{Path: path, Target: &buf}); err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return strings.Contains(buf.String(), s), nil
}

// SynapseVersion asks the image's Synapse for its version.
func SynapseVersion(ctx context.Context, c *client.Client) (string, error) {
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", "import synapse; print(synapse.__version__)"},
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: 30 * time.Second,
	})
	if err != nil {
		return "", fmt.Errorf("read synapse version: %w", err)
	}
	if err := proc.Wait(); err != nil {
		return "", fmt.Errorf("read synapse version: %w: %s", err, lastLine(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// HasFile reports whether path exists in the container.
func HasFile(c *client.Client, path string) (bool, error) {
	_, err := c.ListFiles(&client.ListFilesOptions{Path: path, Itself: true})
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("check file %s: %w", path, err)
}

// inviteCheckerProbe loads synapse_invite_checker the way Synapse does
// (its static parse_config), so a same-named module of another project
// (PyPI's famedly synapse-invite-checker) is not taken for it. Exit 3
// means the image cannot load it.
const inviteCheckerProbe = `import sys
try:
    from synapse_invite_checker import InviteChecker as C
    C.parse_config({"blocklist_allowlist_url": "https://example.com/list.json", "policy_room_ids": ["!a:example.com"]})
except Exception as e:
    print(type(e).__name__, e, file=sys.stderr)
    sys.exit(3)
`

// HasInviteChecker reports whether the image ships the invite checker
// module the invite_checker_* options configure.
func HasInviteChecker(ctx context.Context, c *client.Client) (bool, error) {
	var stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", inviteCheckerProbe},
		Stderr:  &stderr,
		Timeout: 30 * time.Second,
	})
	if err != nil {
		return false, fmt.Errorf("check synapse_invite_checker: %w", err)
	}
	err = proc.Wait()
	var exit *client.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return false, nil
	}
	return false, fmt.Errorf("check synapse_invite_checker: %w: %s", err, lastLine(stderr.String()))
}
