package relations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
)

func TestParseMatrixAuthRegistration(t *testing.T) {
	const reg = "id: irc\nurl: null\n"
	key, err := fernet.GenerateKey()
	require.NoError(t, err)
	other, err := fernet.GenerateKey()
	require.NoError(t, err)
	tok, err := fernet.Encrypt(key, []byte(reg))
	require.NoError(t, err)
	foreign, err := fernet.Encrypt(other, []byte(reg))
	require.NoError(t, err)
	v0 := map[string]string{relations.MatrixAuthRegistrationSecretID: "secret:abc"}
	content := map[string]string{relations.MatrixAuthRegistrationContentKey: reg}

	for _, tc := range []struct {
		name   string
		app    map[string]string
		secret map[string]string
		key    string
		want   string
		err    string // "" for none, "not ready" for ErrNotReady
	}{
		{"v0", v0, content, "", reg, ""},
		{"v0 secret not readable yet", v0, nil, key, "", "not ready"},
		{"v0 secret without the content key", v0, map[string]string{"x": "y"}, key, "", relations.MatrixAuthRegistrationContentKey},
		{"v0 id not a secret URI", map[string]string{relations.MatrixAuthRegistrationSecretID: "abc def"}, content, "", "", "not a Juju secret URI"},
		{"v1", map[string]string{relations.MatrixAuthRegistrationToken: tok}, nil, key, reg, ""},
		{"v1 before our key exists", map[string]string{relations.MatrixAuthRegistrationToken: tok}, nil, "", "", "not ready"},
		{"v1 made with another key", map[string]string{relations.MatrixAuthRegistrationToken: foreign}, nil, key, "", "cannot be decrypted"},
		{"v1 garbage", map[string]string{relations.MatrixAuthRegistrationToken: "not-a-token"}, nil, key, "", "cannot be decrypted"},
		{"v1 wins over v0", map[string]string{relations.MatrixAuthRegistrationToken: tok, relations.MatrixAuthRegistrationSecretID: "secret:abc"},
			map[string]string{relations.MatrixAuthRegistrationContentKey: "other"}, key, reg, ""},
		{"nothing published", map[string]string{}, nil, key, "", "not ready"},
		{"too large", v0, map[string]string{relations.MatrixAuthRegistrationContentKey: strings.Repeat("a", 70<<10)}, "", "", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := relations.ParseMatrixAuthRegistration(tc.app, tc.secret, tc.key)
			switch tc.err {
			case "":
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(got))
			case "not ready":
				assert.True(t, errors.Is(err, relations.ErrNotReady), "%v", err)
			default:
				require.Error(t, err)
				assert.False(t, errors.Is(err, relations.ErrNotReady))
				assert.Contains(t, err.Error(), tc.err)
			}
		})
	}
}
