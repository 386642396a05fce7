package charm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

const maRegistration = `id: irc
url: http://127.0.0.1:9
as_token: ircAsToken0123456789
hs_token: ircHsToken0123456789
sender_localpart: irc_bot
namespaces:
  users:
    - regex: '@irc_.*:test\.local'
      exclusive: true
`

// TestMatrixAuthRegistersBridges integrates two bridges over matrix-auth,
// one with each lib version: the leader publishes the homeserver and both
// secrets, Synapse loads both registrations (each bridge is recognised by
// its as_token), a bad registration blocks naming the relation with
// Synapse untouched, and removing a relation unregisters its bridge.
func TestMatrixAuthRegistersBridges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	u := newUnit(t)
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	whoami := func(token string) (string, error) {
		c := matrix.New("http://" + u.addr + ":8008")
		c.Token = token
		var out struct {
			UserID string `json:"user_id"`
		}
		err := c.Do(ctx, "GET", "/_matrix/client/v3/account/whoami", nil, &out)
		return out.UserID, err
	}

	// v0: the registration in a secret of the bridge's.
	irc := u.mem.AddRelation("matrix-auth", "irc", "irc/0")
	regID := u.mem.AddSecret("irc", "", map[string]string{relations.MatrixAuthRegistrationContentKey: maRegistration})
	u.mem.SetRelationData(irc, "irc", true, map[string]string{relations.MatrixAuthRegistrationSecretID: regID})
	// v1: the bridge waits for our key.
	slack := u.mem.AddRelation("matrix-auth", "slack", "slack/0")
	u.run("matrix-auth-relation-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.Contains(t, st.Message, "waiting for the application-service registration of slack")

	shared, ok := u.mem.SecretByLabel(relations.MatrixAuthSharedSecretLabel)
	require.True(t, ok)
	key, ok := u.mem.SecretByLabel(relations.MatrixAuthEncryptionKeyLabel)
	require.True(t, ok)
	for _, rel := range []string{irc, slack} {
		bag := u.mem.RelationData(rel, "synapse", true)
		assert.Equal(t, map[string]string{"homeserver": "http://test.local/", "shared_secret_id": shared.ID, "encryption_key_secret_id": key.ID}, bag, rel)
	}
	assert.Len(t, shared.Grants, 2, "granted to both relations")
	assert.Len(t, key.Grants, 2)
	registration := strings.TrimSpace(u.file(workload.RegistrationPath))
	assert.Equal(t, registration, shared.Revisions[len(shared.Revisions)-1][relations.MatrixAuthSharedSecretContentKey])
	keyContent := key.Revisions[0][relations.MatrixAuthEncryptionKeyContent]

	ircFile := workload.AppServicesDir + "/irc-" + irc[strings.IndexByte(irc, ':')+1:] + ".yaml"
	files, err := u.container.Client().ListFiles(&client.ListFilesOptions{Path: ircFile})
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, "-rw-------", files[0].Mode().String())
	assert.Contains(t, u.file(workload.HomeserverPath), ircFile)
	user, err := whoami("ircAsToken0123456789")
	require.NoError(t, err, "Synapse loaded the irc registration")
	assert.Equal(t, "@irc_bot:test.local", user)

	// The v1 bridge encrypts its registration with our key.
	tok, err := fernet.Encrypt(keyContent, []byte(strings.NewReplacer("irc", "slack").Replace(maRegistration)))
	require.NoError(t, err)
	u.mem.SetRelationData(slack, "slack", true, map[string]string{relations.MatrixAuthRegistrationToken: tok})
	u.run("matrix-auth-relation-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	user, err = whoami("slackAsToken0123456789")
	require.NoError(t, err, "Synapse loaded the slack registration")
	assert.Equal(t, "@slack_bot:test.local", user)

	// Settled: a hook writes nothing, makes and grants nothing.
	calls := u.mem.TotalCalls()
	u.run("update-status")
	for _, argv := range u.mem.Argv()[calls:] {
		switch argv[0] {
		case "relation-set", "secret-add", "secret-set", "secret-grant":
			t.Errorf("settled update-status ran %v", argv)
		}
	}

	// A bad revision of the irc registration: blocked, nothing restarted.
	since := u.service().CurrentSince
	before := u.file(ircFile)
	u.mem.UpdateSecret(regID, map[string]string{relations.MatrixAuthRegistrationContentKey: strings.Replace(maRegistration, "hs_token:", "hs_tokn:", 1)})
	u.runEvent(juju.Event{Name: "secret-changed", Unit: "synapse/0", App: "synapse", Model: "test", SecretID: regID})
	st = u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.True(t, strings.Contains(st.Message, irc) && strings.Contains(st.Message, "hs_token") && strings.Contains(st.Message, "juju remove-relation synapse:matrix-auth irc"), st.Message)
	assert.Equal(t, since, u.service().CurrentSince, "Synapse was not restarted")
	assert.Equal(t, before, u.file(ircFile))
	_, err = whoami("ircAsToken0123456789")
	assert.NoError(t, err, "the bridge still works")

	// Removing the relation unregisters the bridge; the key stays the one
	// the remaining bridge encrypted with.
	u.mem.RemoveRelation(irc)
	u.run("matrix-auth-relation-broken")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	_, err = u.container.Client().ListFiles(&client.ListFilesOptions{Path: ircFile})
	assert.Error(t, err, "the registration file is gone")
	assert.NotContains(t, u.file(workload.HomeserverPath), ircFile)
	_, err = whoami("ircAsToken0123456789")
	assert.Error(t, err, "Synapse no longer knows the irc bridge")
	_, err = whoami("slackAsToken0123456789")
	assert.NoError(t, err)
	key2, _ := u.mem.SecretByLabel(relations.MatrixAuthEncryptionKeyLabel)
	assert.Len(t, key2.Revisions, 1, "the key never rotates")
	for _, s := range []string{registration, keyContent, "AsToken0123456789", "HsToken0123456789"} {
		assert.NotContains(t, u.mem.UnitStatus().Message, s)
		for _, rel := range []string{slack} {
			for k, v := range u.mem.RelationData(rel, "synapse", true) {
				assert.NotContains(t, v, s, k)
			}
		}
	}
}
