package sim

import (
	"context"
	"fmt"
	"sync"

	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
)

// MatrixAuthRequirer simulates a charm using the matrix_auth lib as a
// requirer (irc-bridge-k8s, maubot), lib v0 or v1. It reads what the
// provider publishes (homeserver, shared_secret_id, encryption_key_secret_id,
// with the secrets' content) and publishes its registration:
//   - v0: an application-owned secret labelled "app-registration" with key
//     "app-registration-content", granted to the relation, its id in
//     "registration_secret_id" (published at once: v0 needs nothing from
//     the provider);
//   - v1: "registration_secret", the registration as a Fernet token under
//     the provider's key, once the provider published the key (the lib
//     raises until then).
//
// Change the registration with SetRegistration, then Model.RemoteChanged.
type MatrixAuthRequirer struct {
	// AppName is the application name (default "irc-bridge").
	AppName string
	// LibVersion is 0 or 1.
	LibVersion int
	// Registration is the registration YAML published at first; empty
	// publishes nothing.
	Registration string

	mu        sync.Mutex
	secretURI string // v0: the app-registration secret
	rels      map[int]*matrixAuthRel
}

type matrixAuthRel struct {
	provider MatrixAuthProvided
	// published is what the bag holds: the registration and, for v1, the
	// key it was encrypted with (a token differs on each encryption).
	published, publishedKey string
}

// MatrixAuthProvided is what the provider published, as the requirer read
// it in its last hook. A secret it could not read has empty content.
type MatrixAuthProvided struct {
	Homeserver            string
	SharedSecretID        string
	SharedSecret          string
	EncryptionKeySecretID string
	EncryptionKey         string
}

// Valid is the lib's own check: homeserver set and the shared secret read.
func (p MatrixAuthProvided) Valid() bool { return p.Homeserver != "" && p.SharedSecret != "" }

func (a *MatrixAuthRequirer) name() string {
	if a.AppName == "" {
		return "irc-bridge"
	}
	return a.AppName
}

// Name implements RemoteApp.
func (a *MatrixAuthRequirer) Name() string { return a.name() }

// Charm implements RemoteApp.
func (a *MatrixAuthRequirer) Charm() string { return "irc-bridge-k8s" }

// Endpoint implements RemoteApp.
func (a *MatrixAuthRequirer) Endpoint() string { return "matrix-auth" }

// Interface implements RemoteApp.
func (a *MatrixAuthRequirer) Interface() string { return "matrix_auth" }

// Units implements RemoteApp.
func (a *MatrixAuthRequirer) Units() int { return 1 }

// SetRegistration changes the registration published from the next hook
// on (run one with Model.RemoteChanged).
func (a *MatrixAuthRequirer) SetRegistration(yaml string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Registration = yaml
}

// Provided returns what the provider published on relation id, as last
// read.
func (a *MatrixAuthRequirer) Provided(id int) MatrixAuthProvided {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.rels[id]; st != nil {
		return st.provider
	}
	return MatrixAuthProvided{}
}

// Created implements RemoteApp.
func (a *MatrixAuthRequirer) Created(ctx context.Context, r *RemoteRelation) error {
	return a.Changed(ctx, r)
}

// Changed implements RemoteApp.
func (a *MatrixAuthRequirer) Changed(ctx context.Context, r *RemoteRelation) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rels == nil {
		a.rels = map[int]*matrixAuthRel{}
	}
	st := a.rels[r.ID()]
	if st == nil {
		st = &matrixAuthRel{}
		a.rels[r.ID()] = st
	}
	bag := r.RemoteAppData()
	p := MatrixAuthProvided{
		Homeserver: bag["homeserver"], SharedSecretID: bag["shared_secret_id"],
		EncryptionKeySecretID: bag["encryption_key_secret_id"],
	}
	if p.SharedSecretID != "" {
		if c, err := r.ReadSecret(p.SharedSecretID); err == nil {
			p.SharedSecret = c["shared-secret-content"]
		}
	}
	if p.EncryptionKeySecretID != "" {
		if c, err := r.ReadSecret(p.EncryptionKeySecretID); err == nil {
			p.EncryptionKey = c["encryption-key-content"]
		}
	}
	st.provider = p
	if a.Registration == "" || (a.Registration == st.published && p.EncryptionKey == st.publishedKey) {
		return nil
	}
	switch a.LibVersion {
	case 0:
		content := map[string]string{"app-registration-content": a.Registration}
		if a.secretURI == "" {
			a.secretURI = r.AddSecret(content, "app-registration")
		} else if err := r.UpdateSecret(a.secretURI, content); err != nil {
			return err
		}
		if err := r.GrantSecret(a.secretURI); err != nil {
			return err
		}
		r.UpdateAppData(map[string]string{"registration_secret_id": a.secretURI})
	case 1:
		if p.EncryptionKey == "" {
			return nil // the lib: "Invalid relation data: encryption_key_secret_id not found"
		}
		token, err := fernet.Encrypt(p.EncryptionKey, []byte(a.Registration))
		if err != nil {
			return fmt.Errorf("matrix-auth v1: encrypt the registration: %w", err)
		}
		r.UpdateAppData(map[string]string{"registration_secret": token})
		st.publishedKey = p.EncryptionKey
	default:
		return fmt.Errorf("matrix-auth: lib version %d not simulated", a.LibVersion)
	}
	st.published = a.Registration
	return nil
}

// Broken implements RemoteApp.
func (a *MatrixAuthRequirer) Broken(ctx context.Context, r *RemoteRelation) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.rels, r.ID())
	return nil
}
