package container

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// nginxCheckDir is where CheckNginx puts the configuration it tests.
const nginxCheckDir = "/tmp/synapse-nginx-check"

// CheckNginx runs `nginx -t` on conf in the nginx container, so a broken
// configuration is caught before it replaces a working one. The error
// carries nginx's message.
func CheckNginx(ctx context.Context, c *client.Client, conf []byte) error {
	// Pebble's exec takes a timeout, not a context.
	timeout := 30 * time.Second
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check nginx.conf: %w", err)
	}
	if err := c.MakeDir(&client.MakeDirOptions{Path: nginxCheckDir, MakeParents: true, Permissions: 0o755}); err != nil {
		return fmt.Errorf("check nginx.conf: make %s: %w", nginxCheckDir, err)
	}
	defer func() {
		_ = c.RemovePath(&client.RemovePathOptions{Path: nginxCheckDir, Recursive: true})
	}()
	path := nginxCheckDir + "/nginx.conf"
	if err := c.Push(&client.PushOptions{Source: bytes.NewReader(conf), Path: path, Permissions: 0o644}); err != nil {
		return fmt.Errorf("check nginx.conf: write %s: %w", path, err)
	}
	var out bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{workload.NginxBinary, "-t", "-q", "-p", nginxCheckDir + "/", "-e", "stderr", "-c", path},
		Stdout:  &out,
		Stderr:  &out,
		Timeout: timeout,
	})
	if err != nil {
		return fmt.Errorf("check nginx.conf: run nginx -t: %w", err)
	}
	if err := proc.Wait(); err != nil {
		return fmt.Errorf("check nginx.conf: %s: %w", strings.TrimSpace(out.String()), err)
	}
	return nil
}
