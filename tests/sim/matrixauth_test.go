package sim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
)

const regA = "id: echo\nurl: http://127.0.0.1:1\nas_token: a\nhs_token: h\nsender_localpart: echo_bot\n"
const regB = "id: echo\nurl: http://127.0.0.1:2\nas_token: a\nhs_token: h\nsender_localpart: echo_bot\n"

// provide plays the provider (as the charm under test would, through the
// hook tools on its leader): the shared secret and, for v1, the key, both
// app-owned, and the app bag. grant false leaves the secrets ungranted.
func provide(t *testing.T, m *Model, rel string, grant bool) (key string) {
	t.Helper()
	shared := strings.TrimSpace(mustTool(t, m, "synapse/0", "secret-add", "--label", "shared-secret", "shared-secret-content=s3cr3t"))
	key, err := fernet.GenerateKey()
	require.NoError(t, err)
	enc := strings.TrimSpace(mustTool(t, m, "synapse/0", "secret-add", "--label", "encryption-key-secret", "encryption-key-content="+key))
	if grant {
		mustTool(t, m, "synapse/0", "secret-grant", shared, "-r", rel)
		mustTool(t, m, "synapse/0", "secret-grant", enc, "-r", rel)
	}
	mustTool(t, m, "synapse/0", "relation-set", "-r", rel, "--app",
		"homeserver=https://test.local", "shared_secret_id="+shared, "encryption_key_secret_id="+enc)
	waitIdle(t, m)
	return key
}

func TestMatrixAuthRequirerV1(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	req := &MatrixAuthRequirer{LibVersion: 1, Registration: regA}
	id := integrate(t, m, req, "matrix-auth")
	rel, _ := m.Relation(id)
	assert.Empty(t, rel.RemoteAppData, "v1 waits for the provider's key")
	assert.False(t, req.Provided(id).Valid())

	key := provide(t, m, "matrix-auth:1", true)
	got := req.Provided(id)
	assert.True(t, got.Valid())
	assert.Equal(t, "https://test.local", got.Homeserver)
	assert.Equal(t, "s3cr3t", got.SharedSecret)
	assert.Equal(t, key, got.EncryptionKey)
	rel, _ = m.Relation(id)
	token := rel.RemoteAppData["registration_secret"]
	plain, err := fernet.Decrypt(key, token)
	require.NoError(t, err)
	assert.Equal(t, regA, string(plain))
	assert.NotContains(t, rel.RemoteAppData, "registration_secret_id")

	// Nothing new: the token is not rewritten.
	require.NoError(t, m.RemoteChanged(id))
	waitIdle(t, m)
	rel, _ = m.Relation(id)
	assert.Equal(t, token, rel.RemoteAppData["registration_secret"])

	// A new registration reaches our units as relation-changed.
	mark := len(m.Recorder().Hooks())
	req.SetRegistration(regB)
	require.NoError(t, m.RemoteChanged(id))
	waitIdle(t, m)
	rel, _ = m.Relation(id)
	plain, err = fernet.Decrypt(key, rel.RemoteAppData["registration_secret"])
	require.NoError(t, err)
	assert.Equal(t, regB, string(plain))
	assert.Contains(t, unitHooks(hookNames(m, mark), "synapse/1"), "matrix-auth-relation-changed irc-bridge")

	require.Error(t, m.RemoteChanged(99))
}

func TestMatrixAuthRequirerV0(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	req := &MatrixAuthRequirer{AppName: "maubot", LibVersion: 0, Registration: regA}
	id := integrate(t, m, req, "matrix-auth")
	rel, _ := m.Relation(id)
	uri := rel.RemoteAppData["registration_secret_id"]
	require.Regexp(t, `^secret://`+m.UUID()+`/[0-9a-v]{20}$`, uri, "v0 publishes at once")
	info, _ := m.Secret(uri)
	assert.Equal(t, "maubot", info.Owner)
	assert.Equal(t, "app-registration", info.Label)
	var content map[string]string
	require.NoError(t, json.Unmarshal([]byte(mustTool(t, m, "synapse/1", "secret-get", "--format=json", uri)), &content))
	assert.Equal(t, map[string]string{"app-registration-content": regA}, content, "every unit reads it: the grant is to the relation")

	// Ungranted provider secrets cannot be read: the lib sees invalid data.
	provide(t, m, "matrix-auth:1", false)
	assert.Equal(t, "https://test.local", req.Provided(id).Homeserver)
	assert.Empty(t, req.Provided(id).SharedSecret)
	assert.False(t, req.Provided(id).Valid())

	// A new registration is a new revision of the same secret; a unit
	// tracking the old one hears secret-changed.
	mark := len(m.Recorder().Hooks())
	req.SetRegistration(regB)
	require.NoError(t, m.RemoteChanged(id))
	waitIdle(t, m)
	rel, _ = m.Relation(id)
	assert.Equal(t, uri, rel.RemoteAppData["registration_secret_id"])
	info, _ = m.Secret(uri)
	assert.Equal(t, 2, info.Revision)
	assert.Equal(t, regB, info.Content["app-registration-content"])
	assert.Contains(t, unitHooks(hookNames(m, mark), "synapse/1"), "secret-changed")

	// The grant goes with the relation.
	require.NoError(t, m.RemoveRelation(testCtx(t), id))
	waitIdle(t, m)
	res := tool(t, m, "synapse/0", "secret-get", uri)
	assert.Equal(t, "ERROR permission denied\n", res.Stderr)
}
