package relations

import (
	"errors"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
)

// matrix-auth (Canonical's charms.synapse matrix_auth lib, v0 and v1): only
// application bags are used. We provide: homeserver, shared_secret_id and
// (v1) encryption_key_secret_id. The requirer (a bridge or bot) publishes
// its application-service registration YAML either in a Juju secret it
// owns (v0, registration_secret_id) or as a Fernet token encrypted with our
// key (v1, registration_secret). Both versions are accepted at once.

// Keys and secret labels of the matrix_auth contract.
const (
	MatrixAuthHomeserverKey          = "homeserver"
	MatrixAuthSharedSecretIDKey      = "shared_secret_id"
	MatrixAuthEncryptionKeyIDKey     = "encryption_key_secret_id"
	MatrixAuthRegistrationSecretID   = "registration_secret_id"
	MatrixAuthRegistrationToken      = "registration_secret"
	MatrixAuthRegistrationContentKey = "app-registration-content"
	MatrixAuthSharedSecretLabel      = "shared-secret"
	MatrixAuthSharedSecretContentKey = "shared-secret-content"
	MatrixAuthEncryptionKeyLabel     = "encryption-key-secret"
	MatrixAuthEncryptionKeyContent   = "encryption-key-content"
)

// maxRegistration bounds a registration: real ones are a few hundred bytes.
const maxRegistration = 64 << 10

// MatrixAuthRegistrationSecretIDOf is the v0 requirer's registration secret,
// if any (for the observe edge to read).
func MatrixAuthRegistrationSecretIDOf(app map[string]string) string {
	return app[MatrixAuthRegistrationSecretID]
}

// ParseMatrixAuthRegistration returns the registration YAML a requirer
// published: decrypted with key (v1), or read from its secret's content
// (v0, secret). ErrNotReady when the requirer has published none yet, or
// its secret or our key is not readable yet. A v1 token wins over a v0
// secret when both are there (the v1 lib never writes the v0 key).
func ParseMatrixAuthRegistration(app, secret map[string]string, key string) ([]byte, error) {
	if tok := app[MatrixAuthRegistrationToken]; tok != "" {
		if len(tok) > 2*maxRegistration {
			return nil, fmt.Errorf("registration_secret is larger than %d bytes", 2*maxRegistration)
		}
		if key == "" {
			return nil, fmt.Errorf("no encryption key to read registration_secret: %w", ErrNotReady)
		}
		reg, err := fernet.Decrypt(key, tok)
		if err != nil {
			// Made with another key (an old one of ours, another
			// provider's): the requirer must publish it again.
			return nil, errors.New("registration_secret cannot be decrypted with this Synapse's encryption key (encryption_key_secret_id): the requirer must encrypt its registration again")
		}
		return checkRegistrationSize(reg)
	}
	id := app[MatrixAuthRegistrationSecretID]
	if id == "" {
		return nil, ErrNotReady
	}
	if !PlausibleSecretID(id) {
		return nil, errNotSecretURI(MatrixAuthRegistrationSecretID)
	}
	if secret == nil {
		return nil, fmt.Errorf("registration secret %s: %w", id, ErrNotReady)
	}
	reg, ok := secret[MatrixAuthRegistrationContentKey]
	if !ok || reg == "" {
		return nil, fmt.Errorf("registration secret %s has no %s", id, MatrixAuthRegistrationContentKey)
	}
	return checkRegistrationSize([]byte(reg))
}

func checkRegistrationSize(reg []byte) ([]byte, error) {
	if len(reg) > maxRegistration {
		return nil, fmt.Errorf("registration is larger than %d bytes", maxRegistration)
	}
	return reg, nil
}
