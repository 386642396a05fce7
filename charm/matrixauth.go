package charm

import (
	"context"
	"fmt"
	"maps"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
)

// MatrixAuthEndpoint, as decide names it.
const MatrixAuthEndpoint = decide.MatrixAuthEndpoint

// observeMatrixAuth reads every matrix-auth relation: the requirer's bag,
// ours (leader) and a v0 requirer's registration secret, at its latest
// revision (the requirer updates it in place).
func (c *charm) observeMatrixAuth(ctx context.Context, leader bool) ([]*decide.RelationView, error) {
	ids, err := c.relationIDs(ctx, MatrixAuthEndpoint)
	if err != nil {
		return nil, err
	}
	var out []*decide.RelationView
	for _, id := range ids {
		v, err := c.observeRelation(ctx, id, leader, false, false, nil)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", id, err)
		}
		if v == nil {
			continue
		}
		if sid := relations.MatrixAuthRegistrationSecretIDOf(v.App); sid != "" && !v.Pending {
			if !relations.PlausibleSecretID(sid) {
				c.logf("registration secret ID %q of %s is not a secret URI: not read", cut(sid), id)
			} else if v.Secret, err = c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: sid, Refresh: true}); err != nil {
				c.logf("registration secret %s of %s not readable yet: %v", cut(sid), id, err)
				v.Secret = nil
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// observeMatrixAuthSecrets reads the secrets we provide over matrix-auth,
// named in the peer application bag. A leader whose bag lost an ID finds
// the secret by its label, so the key is never made twice; with no key
// secret at all it draws a fresh key.
func (c *charm) observeMatrixAuthSecrets(ctx context.Context, s *decide.Snapshot) (decide.MatrixAuthSecrets, error) {
	var out decide.MatrixAuthSecrets
	if s.Peer == nil || len(s.MatrixAuth) == 0 {
		return out, nil
	}
	for _, o := range []struct {
		into    *decide.OwnedSecret
		peerKey string
		label   string
	}{
		{&out.Shared, decide.MatrixAuthSharedIDKey, relations.MatrixAuthSharedSecretLabel},
		{&out.Key, decide.MatrixAuthKeyIDKey, relations.MatrixAuthEncryptionKeyLabel},
	} {
		if id := s.Peer.App[o.peerKey]; id != "" {
			content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id})
			if err != nil {
				return out, fmt.Errorf("read secret %s: %w", id, err)
			}
			*o.into = decide.OwnedSecret{ID: id, Content: content}
			continue
		}
		if !s.Leader {
			continue
		}
		id, content, err := c.findLabelledSecret(ctx, o.label, func(labelled, listed map[string]string) (bool, error) {
			return maps.Equal(labelled, listed), nil
		})
		if err != nil {
			return out, fmt.Errorf("look for secret %s: %w", o.label, err)
		}
		*o.into = decide.OwnedSecret{ID: id, Content: content}
	}
	if s.Leader && out.Key.ID == "" {
		key, err := fernet.GenerateKey()
		if err != nil {
			return out, err
		}
		out.FreshKey = key
	}
	return out, nil
}

// provideSecrets creates or updates the secrets matrix-auth requirers
// read, grants them and names them on the relations. A new secret's ID is
// recorded in the peer bag at once: a later failure of this hook must
// not make a second one.
func (c *charm) provideSecrets(ctx context.Context, s *decide.Snapshot, d *decide.Decision) error {
	for _, p := range d.ProvidedSecrets {
		id := p.ID
		switch {
		case id == "":
			var err error
			id, err = c.tools.SecretAdd(ctx, &juju.SecretAddOptions{Content: p.Content, Label: p.Label, Description: p.Description, Owner: "application"})
			if err != nil {
				return fmt.Errorf("create secret %s: %w", p.Label, err)
			}
			if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: s.Peer.ID, App: true, Data: map[string]string{p.PeerKey: id}}); err != nil {
				return fmt.Errorf("record secret %s: %w", p.Label, err)
			}
			_ = c.tools.Log(ctx, "INFO", "created secret "+p.Label+" "+id)
		case p.Content != nil:
			if err := c.tools.SecretSet(ctx, &juju.SecretSetOptions{ID: id, Content: p.Content}); err != nil {
				return fmt.Errorf("update secret %s: %w", p.Label, err)
			}
		}
		for _, rel := range p.Publish {
			if err := c.tools.SecretGrant(ctx, id, rel, ""); err != nil {
				return fmt.Errorf("grant secret %s: %w", p.Label, err)
			}
			d.Writes = append(d.Writes, decide.BagWrite{RelationID: rel, App: true, Data: map[string]string{p.BagKey: id}})
		}
	}
	return nil
}
