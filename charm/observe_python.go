package charm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// observeLegacySecret reads the secret this charm's earlier revisions named
// under "secret-id", the key the Python charm uses for its admin token: it
// is this charm's only when its content parses as this charm's secrets.
func (c *charm) observeLegacySecret(ctx context.Context, s *decide.Snapshot) decide.AppSecret {
	id := s.Peer.App[decide.LegacySecretIDKey]
	if id == "" {
		return decide.AppSecret{}
	}
	content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id})
	if err != nil {
		c.logf("secret %s (under %s) not readable: %v", id, decide.LegacySecretIDKey, err)
		return decide.AppSecret{}
	}
	if _, err := workload.SecretsFromContent(content); err != nil {
		return decide.AppSecret{} // the Python charm's admin token
	}
	return decide.AppSecret{ID: id, Content: content, Legacy: true}
}

// observePython reads what the Python charm left that the peer bag does
// not hold: on the leader about to create the application's secret, its
// signing and macaroon keys (secrets, else files on this unit's volume);
// on every unit, whether its media directory is this unit's.
func (c *charm) observePython(ctx context.Context, s *decide.Snapshot) error {
	if s.Peer == nil || s.ConfigErr != nil {
		return nil
	}
	var pc pebbleClient
	if s.Synapse.Reachable {
		var err error
		if pc, err = c.pebble(workload.SynapseContainer); err != nil {
			return err
		}
		if s.Python.MediaStore, err = pythonMediaStore(pc); err != nil {
			return err
		}
	}
	if !s.Leader || s.AppSecret.Fresh == nil {
		return nil
	}
	app := s.Peer.App
	s.Python.SigningKey = c.pythonSecret(ctx, app[decide.PySigningIDKey], decide.PySigningLabel, decide.PySigningContent)
	s.Python.Macaroon = c.pythonSecret(ctx, app[decide.PyMacaroonIDKey], decide.PyMacaroonLabel, decide.PyMacaroonContent)
	if pc == nil {
		return nil
	}
	var err error
	prefix := workload.DataDir + "/" + s.Config.ServerName
	if s.Python.SigningKeyFile, err = pullOptional(pc, prefix+decide.PySigningSuffix); err != nil {
		return err
	}
	if s.Python.MacaroonFile, err = pullOptional(pc, prefix+decide.PyMacaroonSuffix); err != nil {
		return err
	}
	return nil
}

// pythonSecret reads one value of a Python charm secret, by the ID its
// bag key holds, else by its label; "" when there is none.
func (c *charm) pythonSecret(ctx context.Context, id, label, key string) string {
	opts := &juju.SecretGetOptions{ID: id}
	if id == "" {
		opts = &juju.SecretGetOptions{Label: label}
	}
	content, err := c.tools.SecretGet(ctx, opts)
	if err != nil {
		if !juju.IsNotFound(err) || id != "" {
			c.logf("the Python charm's secret %s%s is not readable: %v", id, label, err)
		}
		return ""
	}
	// The Python charm strips the file's trailing newline before storing it.
	return strings.TrimSpace(content[key])
}

// pythonMediaStore returns the Python charm's media directory when this
// unit's volume has it and not this charm's own.
func pythonMediaStore(pc pebbleClient) (string, error) {
	files, err := pc.ListFiles(&client.ListFilesOptions{Path: workload.DataDir, Pattern: "media*"})
	if err != nil {
		if isPebbleNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("list %s: %w", workload.DataDir, err)
	}
	var python, own bool
	for _, f := range files {
		switch f.Path() {
		case decide.PyMediaStorePath:
			python = f.IsDir()
		case workload.MediaStorePath:
			own = true
		}
	}
	if python && !own {
		return decide.PyMediaStorePath, nil
	}
	return "", nil
}

// pullOptional reads a small file, "" when it does not exist.
func pullOptional(pc pebbleClient, path string) (string, error) {
	var buf bytes.Buffer
	if err := pc.Pull(&client.PullOptions{Path: path, Target: &buf}); err != nil {
		if isPebbleNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(buf.String()), nil
}

func isPebbleNotFound(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Kind == client.ErrorKindNotFound
}
