package relations

import (
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
)

// FuzzParseMatrixAuthRegistration: a requirer's bag and secret are outside
// input. Parsing never panics, and never returns more than the bound.
func FuzzParseMatrixAuthRegistration(f *testing.F) {
	key, err := fernet.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	tok, err := fernet.Encrypt(key, []byte("id: x\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok, "", "", key)
	f.Add("", "secret:cvh7kruupa1s46bqvuig", "id: x\n", key)
	f.Add("gAAAAA", "secret:x", "", "")
	f.Add("", "not a secret", "y", "k")
	f.Fuzz(func(t *testing.T, token, secretID, content, key string) {
		app := map[string]string{}
		if token != "" {
			app[MatrixAuthRegistrationToken] = token
		}
		if secretID != "" {
			app[MatrixAuthRegistrationSecretID] = secretID
		}
		var secret map[string]string
		if content != "" {
			secret = map[string]string{MatrixAuthRegistrationContentKey: content}
		}
		reg, err := ParseMatrixAuthRegistration(app, secret, key)
		if err == nil && len(reg) > maxRegistration {
			t.Fatalf("returned %d bytes, over the bound", len(reg))
		}
	})
}
