package charm

import (
	"context"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// secretLabel labels the application's one secret holding the signing key
// and the shared Synapse secrets.
const secretLabel = "synapse-secrets"

// secrets returns the application's shared secrets. The leader creates them
// once; other units wait until the peer app bag names the secret.
func (c *charm) secrets(ctx context.Context, s *Snapshot) (workload.Secrets, *verdict, error) {
	id := s.Peer.App[peerKeySecretID]
	if id == "" && s.Leader {
		// The peer bag may have lost the ID (a restored model): never make a
		// second set of secrets, a new signing key would break federation.
		found, err := c.findOwnSecret(ctx)
		if err != nil {
			return workload.Secrets{}, nil, fmt.Errorf("look for the application secret: %w: %w", err, ErrRetry)
		}
		if found != "" {
			if err := c.setPeerApp(ctx, s, map[string]string{peerKeySecretID: found}); err != nil {
				return workload.Secrets{}, nil, err
			}
			id = found
		}
	}
	if id == "" {
		if !s.Leader {
			v := waiting("waiting for the leader to create the application's secrets")
			return workload.Secrets{}, &v, nil
		}
		secrets, err := workload.GenerateSecrets()
		if err != nil {
			return workload.Secrets{}, nil, err
		}
		id, err := c.tools.SecretAdd(ctx, &juju.SecretAddOptions{
			Content:     secrets.Content(),
			Label:       secretLabel,
			Description: "Synapse signing key and shared secrets",
			Owner:       "application",
		})
		if err != nil {
			return workload.Secrets{}, nil, fmt.Errorf("create secrets: %w: %w", err, ErrRetry)
		}
		if err := c.setPeerApp(ctx, s, map[string]string{peerKeySecretID: id}); err != nil {
			return workload.Secrets{}, nil, err
		}
		_ = c.tools.Log(ctx, "INFO", "created the application secret "+id+" with a new signing key")
		return secrets, nil, nil
	}
	content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id, Refresh: c.ev.Kind() == "secret-changed" && c.ev.SecretID == id})
	if err != nil {
		return workload.Secrets{}, nil, fmt.Errorf("read secret %s: %w: %w", id, err, ErrRetry)
	}
	secrets, err := workload.SecretsFromContent(content)
	if err != nil {
		v := blocked("application secret %s is unusable (%v): restore it or remove it with juju remove-secret", id, err)
		return workload.Secrets{}, &v, nil
	}
	return secrets, nil, nil
}

// findOwnSecret returns the ID of the application's secret when it exists
// but the peer bag does not name it, "" when there is none.
func (c *charm) findOwnSecret(ctx context.Context) (string, error) {
	want, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{Label: secretLabel})
	if juju.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	ids, err := c.tools.SecretIDs(ctx)
	if err != nil {
		return "", err
	}
	wanted, err := workload.SecretsFromContent(want)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id})
		if err != nil {
			continue
		}
		if got, err := workload.SecretsFromContent(content); err == nil && got.SigningKey == wanted.SigningKey {
			return id, nil
		}
	}
	return "", fmt.Errorf("secret %q exists but secret-ids does not list it", secretLabel)
}
