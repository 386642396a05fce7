package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// checkDir is where CheckConfig stages the files it checks: outside /data,
// so the running processes' files are untouched until the check passed.
const checkDir = "/tmp/synapse-charm-check"

// checkScript loads each process's configuration with the image's Synapse,
// as the process itself would at start, and reports what Synapse rejects.
const checkScript = `
import json, os, sys
from synapse.config.homeserver import HomeServerConfig
p = json.load(sys.stdin)
out = {}

def load_appservices(config):
    # Loaded at process start, not by load_config: one file at a time
    # first, so the message names the registration Synapse refuses.
    from synapse.config.appservice import load_appservices as load
    files = config.appservice.app_service_config_files
    for f in files:
        try:
            load(config.server.server_name, [f])
        except BaseException as e:
            raise Exception("application service registration %s: %s" % (os.path.basename(f), str(e).strip() or type(e).__name__))
    try:
        load(config.server.server_name, files)
    except BaseException:
        # Synapse's message quotes the as_token: never into a status.
        raise Exception("application service registrations reuse an id or an as_token")

for name, paths in p["checks"].items():
    argv = []
    for path in paths:
        argv += ["--config-path", path]
    try:
        load_appservices(HomeServerConfig.load_config("synapse charm config check", argv))
    except SystemExit as e:
        out[name] = "Synapse exited loading the configuration (%s)" % e.code
    except BaseException as e:
        msg = str(e).strip() or type(e).__name__
        out[name] = msg.replace(p["dir"], "")
print(json.dumps(out))
`

// CheckConfig loads the configuration of each process of checks with the
// image's Synapse before the files replace the running ones: files are
// staged under a scratch directory (the paths they name rewritten into
// it), and each process's --config-path files loaded as Synapse loads them
// at start. It returns Synapse's message per rejected process; an error
// means the check itself could not run.
func CheckConfig(ctx context.Context, c *client.Client, files []workload.File, checks []workload.ConfigCheck) (map[string]string, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	_ = c.RemovePath(&client.RemovePathOptions{Path: checkDir, Recursive: true})
	defer func() { _ = c.RemovePath(&client.RemovePathOptions{Path: checkDir, Recursive: true}) }()
	for _, f := range files {
		content := f.Content
		if isConfigFile(f.Path) {
			content = []byte(strings.ReplaceAll(string(content), workload.DataDir+"/", checkDir+workload.DataDir+"/"))
		}
		if err := c.Push(&client.PushOptions{Source: bytes.NewReader(content), Path: checkDir + f.Path, MakeDirs: true, Permissions: f.Mode.Perm()}); err != nil {
			return nil, fmt.Errorf("stage %s for the config check: %w", f.Path, err)
		}
	}
	in := map[string]any{"dir": checkDir, "checks": map[string][]string{}}
	for _, chk := range checks {
		var paths []string
		for _, p := range chk.ConfigPaths {
			paths = append(paths, checkDir+p)
		}
		in["checks"].(map[string][]string)[chk.Service] = paths
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", checkScript},
		Stdin:   bytes.NewReader(stdin),
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("run the config check: %w", err)
	}
	if err := proc.Wait(); err != nil {
		return nil, fmt.Errorf("run the config check: %w: %s", err, lastLine(stderr.String()))
	}
	var rejected map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &rejected); err != nil {
		return nil, fmt.Errorf("run the config check: unexpected output %q", lastLine(stdout.String()))
	}
	return rejected, nil
}

func isConfigFile(p string) bool {
	ext := path.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}
