package workload

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/internal/lazyre"
)

// Secrets are the values every Synapse process of the application must
// share. The leader generates them once and keeps them in one app-owned
// Juju secret; each unit writes them to files of mode 0600.
type Secrets struct {
	// SigningKey is the federation signing key in Synapse's file format:
	// "ed25519 <key id> <unpadded base64 seed>".
	SigningKey   string
	Macaroon     string
	Registration string
	Form         string
	Replication  string
	// AdminLocalpart is the charm's own admin user: a random name made
	// once (GenerateAdminLocalpart), so no IdP uid or guess reaches it;
	// "" in a secret made before it existed, until the leader adds it.
	AdminLocalpart string
}

// Keys of the Juju secret's content.
const (
	secretKeySigning      = "signing-key"
	secretKeyMacaroon     = "macaroon-secret-key"
	secretKeyRegistration = "registration-shared-secret"
	secretKeyForm         = "form-secret"
	secretKeyReplication  = "worker-replication-secret"
	// SecretKeyAdminLocalpart holds AdminLocalpart.
	SecretKeyAdminLocalpart = "admin-localpart"
)

// AdminLocalpartPrefix starts every admin name the charm makes; the rest
// is random.
const AdminLocalpartPrefix = "synapse-charm-"

// GenerateAdminLocalpart makes a new admin name from the system's CSPRNG:
// the prefix and 24 lower-case letters and digits (124 bits).
func GenerateAdminLocalpart() (string, error) {
	r, err := randomLower(24)
	if err != nil {
		return "", err
	}
	return AdminLocalpartPrefix + r, nil
}

// GenerateSecrets makes a new set of secrets from the system's CSPRNG.
func GenerateSecrets() (Secrets, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Secrets{}, fmt.Errorf("generate signing key: %w", err)
	}
	keyID, err := randomString(4)
	if err != nil {
		return Secrets{}, err
	}
	s := Secrets{
		SigningKey: "ed25519 a_" + keyID + " " + base64.RawStdEncoding.EncodeToString(priv.Seed()),
	}
	for _, field := range []*string{&s.Macaroon, &s.Registration, &s.Form, &s.Replication} {
		if *field, err = randomString(48); err != nil {
			return Secrets{}, err
		}
	}
	if s.AdminLocalpart, err = GenerateAdminLocalpart(); err != nil {
		return Secrets{}, err
	}
	return s, nil
}

// Content is the Juju secret content for these secrets.
func (s Secrets) Content() map[string]string {
	c := map[string]string{
		secretKeySigning:      s.SigningKey,
		secretKeyMacaroon:     s.Macaroon,
		secretKeyRegistration: s.Registration,
		secretKeyForm:         s.Form,
		secretKeyReplication:  s.Replication,
	}
	if s.AdminLocalpart != "" {
		c[SecretKeyAdminLocalpart] = s.AdminLocalpart
	}
	return c
}

// SecretsFromContent reads secrets from a Juju secret's content, refusing an
// incomplete or malformed set rather than rendering half of it.
func SecretsFromContent(content map[string]string) (Secrets, error) {
	s := Secrets{
		SigningKey:   content[secretKeySigning],
		Macaroon:     content[secretKeyMacaroon],
		Registration: content[secretKeyRegistration],
		Form:         content[secretKeyForm],
		Replication:  content[secretKeyReplication],

		AdminLocalpart: content[SecretKeyAdminLocalpart],
	}
	for key, v := range map[string]string{
		secretKeySigning: s.SigningKey, secretKeyMacaroon: s.Macaroon,
		secretKeyRegistration: s.Registration, secretKeyForm: s.Form, secretKeyReplication: s.Replication,
	} {
		if v == "" {
			return Secrets{}, fmt.Errorf("secret content has no %q", key)
		}
	}
	if err := ValidateSigningKey(s.SigningKey); err != nil {
		return Secrets{}, err
	}
	if s.AdminLocalpart != "" && !adminLocalpartRE().MatchString(s.AdminLocalpart) {
		return Secrets{}, fmt.Errorf("secret content's %q is not a charm admin name (%s and lower-case letters and digits)", SecretKeyAdminLocalpart, AdminLocalpartPrefix)
	}
	return s, nil
}

// ValidateSigningKey checks a signing key line the way Synapse will read it.
func ValidateSigningKey(line string) error {
	fields := strings.Fields(line)
	if len(fields) != 3 || fields[0] != "ed25519" {
		return fmt.Errorf("signing key is not in Synapse's \"ed25519 <id> <seed>\" format")
	}
	seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(fields[2], "="))
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("signing key %s has a malformed seed", fields[1])
	}
	return nil
}

// Files renders the secret files every Synapse process reads.
func (s Secrets) Files() []File {
	return []File{
		{Path: SigningKeyPath, Content: []byte(s.SigningKey + "\n"), Mode: 0o600},
		{Path: MacaroonPath, Content: []byte(s.Macaroon), Mode: 0o600},
		{Path: RegistrationPath, Content: []byte(s.Registration), Mode: 0o600},
		{Path: FormSecretPath, Content: []byte(s.Form), Mode: 0o600},
		{Path: ReplicationPath, Content: []byte(s.Replication), Mode: 0o600},
	}
}

var adminLocalpartRE = lazyre.New(`^` + AdminLocalpartPrefix + `[a-z0-9]{16,64}$`)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomString(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	for i, b := range buf {
		// 256 is a multiple of 62 plus 8, a negligible bias for secrets of 48 chars.
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf), nil
}

// randomLower is n random lower-case letters and digits, without bias.
func randomLower(n int) (string, error) {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			// 252 is the largest multiple of 36 below 256.
			if b < 252 && len(out) < n {
				out = append(out, chars[int(b)%len(chars)])
			}
		}
	}
	return string(out), nil
}
