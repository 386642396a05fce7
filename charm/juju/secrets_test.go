package juju_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

const signingKey = "ed25519 a_AAAA s3cr3t-v4lue"

// TestSecretAddCommandLine proves secret-add's argv and that each value went
// through its own 0600 file that is gone afterwards.
func TestSecretAddCommandLine(t *testing.T) {
	rec := newRecorder()
	rec.out["secret-add"] = "secret:cs9k6f3ep3rs73c9u1kg\n"
	tools := juju.New(rec)
	tools.TempDir = t.TempDir()

	id, err := tools.SecretAdd(context.Background(), &juju.SecretAddOptions{
		Content: map[string]string{"signing-key": signingKey, "macaroon": "m4c"},
		Label:   "synapse-keys",
		Owner:   "application",
	})
	require.NoError(t, err)
	assert.Equal(t, "secret:cs9k6f3ep3rs73c9u1kg", id)

	got := rec.last()
	assert.Equal(t, "secret-add", got.tool)
	require.Len(t, got.args, 6)
	assert.Equal(t, []string{"--owner", "application", "--label", "synapse-keys"}, got.args[:4])
	assert.True(t, strings.HasPrefix(got.args[4], "macaroon#file="+tools.TempDir), got.args[4])
	assert.True(t, strings.HasPrefix(got.args[5], "signing-key#file="+tools.TempDir), got.args[5])
	for _, a := range got.args {
		assert.NotContains(t, a, "s3cr3t")
		assert.NotContains(t, a, "m4c")
	}
	require.Len(t, got.files, 2)
	want := map[string]string{"macaroon": "m4c", "signing-key": signingKey}
	for _, f := range got.files {
		assert.Equal(t, os.FileMode(0o600), f.mode, f.key)
		assert.Equal(t, want[f.key], f.content, f.key)
		_, err := os.Stat(f.path)
		assert.True(t, errors.Is(err, os.ErrNotExist), "file %s must be removed", f.path)
		_, err = os.Stat(filepath.Dir(f.path))
		assert.True(t, errors.Is(err, os.ErrNotExist), "dir of %s must be removed", f.path)
	}
	entries, err := os.ReadDir(tools.TempDir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestSecretAddDefaultsToApplicationOwner: Owner "" is "application".
func TestSecretAddDefaultsToApplicationOwner(t *testing.T) {
	rec := newRecorder()
	rec.out["secret-add"] = "secret:x\n"
	tools := juju.New(rec)
	tools.TempDir = t.TempDir()
	_, err := tools.SecretAdd(context.Background(), &juju.SecretAddOptions{Content: map[string]string{"key": "v"}, Description: "d"})
	require.NoError(t, err)
	args := rec.last().args
	assert.Equal(t, []string{"--owner", "application", "--description", "d"}, args[:4])
}

// TestSecretFilesRemovedOnFailure: a failing tool still leaves no file.
func TestSecretFilesRemovedOnFailure(t *testing.T) {
	rec := newRecorder()
	rec.err["secret-set"] = &juju.ToolError{Tool: "secret-set", ExitCode: 1, Stderr: "ERROR permission denied\n"}
	tools := juju.New(rec)
	tools.TempDir = t.TempDir()
	err := tools.SecretSet(context.Background(), &juju.SecretSetOptions{ID: "secret:abc", Content: map[string]string{"password": "hunter2"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	got := rec.last()
	assert.Equal(t, "secret:abc", got.args[0])
	require.Len(t, got.files, 1)
	assert.Equal(t, os.FileMode(0o600), got.files[0].mode)
	entries, err := os.ReadDir(tools.TempDir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestSecretKeyRejectedBeforeAnyCall: a key Juju would refuse (and one that
// could escape the temp dir) never reaches the tool or the disk.
func TestSecretKeyRejectedBeforeAnyCall(t *testing.T) {
	for _, key := range []string{"signing_key", "ab", "../x", "Key", "1abc", "a--b"} {
		t.Run(key, func(t *testing.T) {
			rec := newRecorder()
			tools := juju.New(rec)
			tools.TempDir = t.TempDir()
			_, err := tools.SecretAdd(context.Background(), &juju.SecretAddOptions{Content: map[string]string{key: "v"}})
			require.Error(t, err)
			assert.Empty(t, rec.calls)
			entries, _ := os.ReadDir(tools.TempDir)
			assert.Empty(t, entries)
		})
	}
}

func TestSecretIDsNormalised(t *testing.T) {
	rec := newRecorder()
	rec.out["secret-ids"] = `["d2", "secret:d1"]`
	ids, err := juju.New(rec).SecretIDs(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"secret:d1", "secret:d2"}, ids)
}

func TestSecretShortID(t *testing.T) {
	for in, want := range map[string]string{
		"secret:cs9k":                   "cs9k",
		"secret://1234-abcd/cs9k":       "cs9k",
		"cs9k":                          "cs9k",
		"secret://model-uuid-only-cs9k": "model-uuid-only-cs9k",
	} {
		assert.Equal(t, want, juju.SecretShortID(in), in)
	}
}

// TestSecretsAgainstMemory runs the whole secret life cycle through the
// in-memory tools.
func TestSecretsAgainstMemory(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	db := m.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	tools := juju.New(m)
	tools.TempDir = t.TempDir()

	_, err := tools.SecretGet(ctx, &juju.SecretGetOptions{Label: "synapse-keys"})
	require.Error(t, err)
	assert.True(t, juju.IsNotFound(err), err)

	id, err := tools.SecretAdd(ctx, &juju.SecretAddOptions{
		Content: map[string]string{"signing-key": signingKey},
		Label:   "synapse-keys",
	})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(id, "secret:"), id)

	got, err := tools.SecretGet(ctx, &juju.SecretGetOptions{Label: "synapse-keys"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"signing-key": signingKey}, got)

	require.NoError(t, tools.SecretSet(ctx, &juju.SecretSetOptions{ID: id, Content: map[string]string{"signing-key": "v2"}}))
	got, err = tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id})
	require.NoError(t, err)
	assert.Equal(t, "v2", got["signing-key"], "the owner always reads the latest revision")

	require.NoError(t, tools.SecretGrant(ctx, id, db, ""))
	ids, err := tools.SecretIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{id}, ids)

	secrets := m.Secrets()
	require.Len(t, secrets, 1)
	assert.Equal(t, "synapse", secrets[0].Owner)
	assert.Len(t, secrets[0].Revisions, 2)
	assert.Equal(t, []jujutest.SecretGrant{{RelationID: db, App: "postgresql-k8s"}}, secrets[0].Grants)

	for _, argv := range m.Argv() {
		for _, a := range argv {
			assert.NotContains(t, a, "s3cr3t", "secret value in argv %q", argv)
			assert.NotContains(t, a, "v2", "secret value in argv %q", argv)
		}
	}

	require.NoError(t, tools.SecretRemove(ctx, id))
	assert.Empty(t, m.Secrets())
}

// TestSecretConsumerTracksRevision: a consumer keeps its revision until
// --refresh; --peek looks without moving.
func TestSecretConsumerTracksRevision(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/1")
	id := m.AddSecret("s3-integrator", "", map[string]string{"secret-key": "one"})
	tools := juju.New(m)

	get := func(opts juju.SecretGetOptions) string {
		t.Helper()
		c, err := tools.SecretGet(ctx, &opts)
		require.NoError(t, err)
		return c["secret-key"]
	}
	assert.Equal(t, "one", get(juju.SecretGetOptions{ID: id, Label: "media"}))
	m.UpdateSecret(id, map[string]string{"secret-key": "two"})
	assert.Equal(t, "one", get(juju.SecretGetOptions{Label: "media"}))
	assert.Equal(t, "two", get(juju.SecretGetOptions{Label: "media", Peek: true}))
	assert.Equal(t, "one", get(juju.SecretGetOptions{ID: id}))
	assert.Equal(t, "two", get(juju.SecretGetOptions{ID: id, Refresh: true}))
	assert.Equal(t, "two", get(juju.SecretGetOptions{Label: "media"}))
}

// TestSecretRulesAgainstMemory: Juju's refusals come back as ToolErrors.
func TestSecretRulesAgainstMemory(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/1")
	tools := juju.New(m)
	tools.TempDir = t.TempDir()
	var te *juju.ToolError

	_, err := tools.SecretAdd(ctx, &juju.SecretAddOptions{Content: map[string]string{"key": "v"}})
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Stderr, "not the leader")

	id, err := tools.SecretAdd(ctx, &juju.SecretAddOptions{Content: map[string]string{"key": "v"}, Owner: "unit", Label: "mine"})
	require.NoError(t, err, "any unit may own a unit secret")
	_, err = tools.SecretAdd(ctx, &juju.SecretAddOptions{Content: map[string]string{"key": "v"}, Owner: "unit", Label: "mine"})
	assert.Error(t, err, "labels are unique per owner")

	appSecret := m.AddSecret("synapse", "synapse-keys", map[string]string{"key": "v"})
	got, err := tools.SecretGet(ctx, &juju.SecretGetOptions{Label: "synapse-keys"})
	require.NoError(t, err, "every unit of the owning application reads its secrets")
	assert.Equal(t, "v", got["key"])
	err = tools.SecretSet(ctx, &juju.SecretSetOptions{ID: appSecret, Content: map[string]string{"key": "w"}})
	assert.ErrorAs(t, err, &te, "only the leader updates an application secret")

	err = tools.SecretGrant(ctx, id, "database:9", "")
	assert.Error(t, err, "unknown relation")
}
