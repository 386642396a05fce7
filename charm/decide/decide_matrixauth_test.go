package decide_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/relations/fernet"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

const (
	ttMAID      = "matrix-auth:7"
	ttMAOtherID = "matrix-auth:9"
)

// ttMAReg is a registration as a bridge generates it.
func ttMAReg(id, asToken string) string {
	return fmt.Sprintf(`id: %s
url: http://irc-bridge:8090
as_token: %s
hs_token: hs-%s
sender_localpart: %s_bot
rate_limited: false
namespaces:
  users:
    - regex: '@irc_.*:test\.local'
      exclusive: true
  aliases: []
`, id, asToken, asToken, id)
}

// ttMAv0 is a v0 requirer: its registration in a secret it granted us.
func ttMAv0(relID, app, reg string) *decide.RelationView {
	return &decide.RelationView{ID: relID, RemoteApp: app, Local: map[string]string{},
		App:    map[string]string{relations.MatrixAuthRegistrationSecretID: "secret:reg-" + app},
		Secret: map[string]string{relations.MatrixAuthRegistrationContentKey: reg}}
}

// ttMAState is what the simulated Juju holds besides the snapshot: the
// grants made.
type ttMAState struct {
	grants map[string][]string // secret ID -> relations
}

// ttMAApply executes a decision as charm.execute does for matrix-auth
// (the provided secrets, the writes to matrix-auth bags), then the rest
// with ttApply. The leader keeps being offered a fresh key, as observe
// does whenever it finds no key secret.
func ttMAApply(t *testing.T, st *ttMAState, s decide.Snapshot, d decide.Decision) decide.Snapshot {
	t.Helper()
	s.MatrixAuth = ttCloneViews(s.MatrixAuth)
	ms := &s.MatrixAuthSecrets
	ms.Shared.Content, ms.Key.Content = ttBag(ms.Shared.Content), ttBag(ms.Key.Content)
	var rest []decide.BagWrite
	for _, p := range d.ProvidedSecrets {
		own := &ms.Shared
		if p.Label == relations.MatrixAuthEncryptionKeyLabel {
			own = &ms.Key
		}
		id := p.ID
		if id == "" {
			require.Empty(t, own.ID, "secret %s created twice", p.Label)
			id = "secret:" + p.Label
			*own = decide.OwnedSecret{ID: id, Content: maps.Clone(p.Content)}
			rest = append(rest, decide.BagWrite{RelationID: s.Peer.ID, App: true, Data: map[string]string{p.PeerKey: id}})
		} else if p.Content != nil {
			own.Content = maps.Clone(p.Content)
		}
		for _, rel := range p.Publish {
			st.grants[id] = append(st.grants[id], rel)
			d.Writes = append(d.Writes, decide.BagWrite{RelationID: rel, App: true, Data: map[string]string{p.BagKey: id}})
		}
	}
	for _, w := range d.Writes {
		if !strings.HasPrefix(w.RelationID, decide.MatrixAuthEndpoint+":") {
			rest = append(rest, w)
			continue
		}
		require.True(t, w.App, "matrix-auth uses application bags only")
		for _, v := range s.MatrixAuth {
			if v.ID == w.RelationID {
				maps.Copy(v.Local, w.Data)
			}
		}
	}
	d.Writes, d.ProvidedSecrets = rest, nil
	next := ttApply(t, s, d)
	if next.Leader && next.MatrixAuthSecrets.Key.ID == "" {
		next.MatrixAuthSecrets.FreshKey = ttMAFreshKey(t)
	} else {
		next.MatrixAuthSecrets.FreshKey = ""
	}
	return next
}

func ttMAFreshKey(t *testing.T) string {
	k, err := fernet.GenerateKey()
	require.NoError(t, err)
	return k
}

// ttMASettle runs hooks until nothing changes.
func ttMASettle(t *testing.T, st *ttMAState, s decide.Snapshot) decide.Snapshot {
	t.Helper()
	for range 10 {
		d := decide.Decide(s)
		if !ttWrites(d) && len(d.ProvidedSecrets) == 0 && !ttTouches(d.Synapse) && !ttTouches(d.Nginx) && !ttReportChanges(s, d) {
			return s
		}
		s = ttMAApply(t, st, s, d)
	}
	t.Fatalf("no quiescence after 10 hooks: %+v", decide.Decide(s).Status())
	return s
}

// ttMAWith is a settled leader with the given matrix-auth relations.
func ttMAWith(t *testing.T, rels ...*decide.RelationView) (decide.Snapshot, *ttMAState) {
	t.Helper()
	st := &ttMAState{grants: map[string][]string{}}
	s := ttReady(t)
	s.MatrixAuth = rels
	s.MatrixAuthSecrets.FreshKey = ttMAFreshKey(t)
	s.Event.Kind = "relation-changed"
	return ttMASettle(t, st, s), st
}

// ttMAConfigFiles is app_service_config_files of the rendered homeserver.yaml.
func ttMAConfigFiles(t *testing.T, p *decide.ContainerPlan) []string {
	t.Helper()
	var doc struct {
		Files []string `yaml:"app_service_config_files"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(ttFile(t, p, workload.HomeserverPath)), &doc))
	return doc.Files
}

// ttMAFile returns a file the synapse container is given, nil when none.
func ttMAFile(p *decide.ContainerPlan, path string) *workload.File {
	for _, f := range p.Want.Files {
		if f.Path == path {
			return &f
		}
	}
	return nil
}

// ttMARendered is the synapse container the settled snapshot runs: the
// desired state of an update-status hook.
func ttMARendered(t *testing.T, s decide.Snapshot) *decide.ContainerPlan {
	t.Helper()
	d := decide.Decide(s)
	require.NotNil(t, d.Synapse, "status: %+v", ttStatus(d))
	return d.Synapse
}

func TestMatrixAuthV0Rendered(t *testing.T) {
	s, st := ttMAWith(t, ttMAv0(ttMAID, "irc", ttMAReg("irc", "as-1")))
	assert.Equal(t, decide.Active, ttStatus(decide.Decide(s)).Level, ttStatus(decide.Decide(s)).Message)

	p := ttMARendered(t, s)
	path := workload.AppServicesDir + "/irc-7.yaml"
	assert.Equal(t, []string{path}, ttMAConfigFiles(t, p))
	f := ttMAFile(p, path)
	require.NotNil(t, f)
	assert.EqualValues(t, 0o600, f.Mode)
	require.NotNil(t, f.Owner)
	assert.Equal(t, workload.SynapseOwner, *f.Owner, "readable by the Synapse user only")
	var reg map[string]any
	require.NoError(t, yaml.Unmarshal(f.Content, &reg))
	assert.Equal(t, "irc", reg["id"])
	assert.Equal(t, "as-1", reg["as_token"])
	assert.Equal(t, false, reg["rate_limited"])

	bag := s.MatrixAuth[0].Local
	assert.Equal(t, "https://test.local", bag[relations.MatrixAuthHomeserverKey], "as the Python charm without public_baseurl")
	shared, key := s.MatrixAuthSecrets.Shared, s.MatrixAuthSecrets.Key
	assert.Equal(t, shared.ID, bag[relations.MatrixAuthSharedSecretIDKey])
	assert.Equal(t, key.ID, bag[relations.MatrixAuthEncryptionKeyIDKey])
	assert.Equal(t, []string{ttMAID}, st.grants[shared.ID], "granted once, to the relation")
	assert.Equal(t, []string{ttMAID}, st.grants[key.ID])
	assert.Equal(t, s.Peer.App[decide.SecretIDKey] != "", true)
	secrets, err := workload.SecretsFromContent(s.AppSecret.Content)
	require.NoError(t, err)
	assert.Equal(t, secrets.Registration, shared.Content[relations.MatrixAuthSharedSecretContentKey], "the secret Synapse checks registrations against")
	assert.Equal(t, shared.ID, s.Peer.App[decide.MatrixAuthSharedIDKey])
	assert.Equal(t, key.ID, s.Peer.App[decide.MatrixAuthKeyIDKey])
}

func TestMatrixAuthPublicBaseURL(t *testing.T) {
	s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", ttMAReg("irc", "as-1")))
	s.Config = ttConfig(t, map[string]any{"public_baseurl": "https://matrix.test.local/"})
	d := decide.Decide(s)
	assert.Equal(t, map[string]string{relations.MatrixAuthHomeserverKey: "https://matrix.test.local/"}, d.Write(ttMAID, true))
}

func TestMatrixAuthV1Rendered(t *testing.T) {
	// The v1 requirer waits for our key, then publishes its registration
	// encrypted with it.
	rel := &decide.RelationView{ID: ttMAID, RemoteApp: "irc", App: map[string]string{}, Local: map[string]string{}}
	s, _ := ttMAWith(t, rel)
	st := ttStatus(decide.Decide(s))
	assert.Equal(t, decide.Active, st.Level)
	assert.Contains(t, st.Message, "waiting for the application-service registration of irc")
	key := s.MatrixAuthSecrets.Key.Content[relations.MatrixAuthEncryptionKeyContent]
	require.NotEmpty(t, key)
	assert.Equal(t, s.MatrixAuthSecrets.Key.ID, s.MatrixAuth[0].Local[relations.MatrixAuthEncryptionKeyIDKey])

	tok, err := fernet.Encrypt(key, []byte(ttMAReg("irc", "as-1")))
	require.NoError(t, err)
	s.MatrixAuth[0].App[relations.MatrixAuthRegistrationToken] = tok
	d := decide.Decide(s)
	require.NotNil(t, d.Synapse)
	assert.True(t, ttTouches(d.Synapse), "every process restarts to load it")
	assert.Equal(t, []string{workload.AppServicesDir + "/irc-7.yaml"}, ttMAConfigFiles(t, d.Synapse))
	s = ttMASettle(t, &ttMAState{grants: map[string][]string{}}, ttMAApply(t, &ttMAState{grants: map[string][]string{}}, s, d))
	assert.Equal(t, decide.Active, ttStatus(decide.Decide(s)).Level)

	// A non-leader decrypts with the same key, read from the secret.
	s.Leader = false
	for _, v := range s.MatrixAuth {
		v.Local = nil
	}
	d = decide.Decide(s)
	assert.Empty(t, d.ProvidedSecrets)
	assert.Equal(t, []string{workload.AppServicesDir + "/irc-7.yaml"}, ttMAConfigFiles(t, d.Synapse))
}

func TestMatrixAuthRemoved(t *testing.T) {
	s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", ttMAReg("irc", "as-1")), ttMAv0(ttMAOtherID, "slack", ttMAReg("slack", "as-2")))
	assert.Equal(t, []string{workload.AppServicesDir + "/irc-7.yaml", workload.AppServicesDir + "/slack-9.yaml"}, ttMAConfigFiles(t, ttMARendered(t, s)))

	s.MatrixAuth = s.MatrixAuth[1:]
	d := decide.Decide(s)
	require.NotNil(t, d.Synapse)
	assert.Nil(t, ttMAFile(d.Synapse, workload.AppServicesDir+"/irc-7.yaml"), "the file goes (pruned)")
	assert.Contains(t, d.Synapse.Want.PruneDirs, workload.AppServicesDir)
	assert.Equal(t, []string{workload.AppServicesDir + "/slack-9.yaml"}, ttMAConfigFiles(t, d.Synapse))
	assert.True(t, ttTouches(d.Synapse), "every process restarts without it")

	s.MatrixAuth = nil
	d = decide.Decide(s)
	assert.NotContains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "app_service_config_files")
	for _, f := range d.Synapse.Want.Files {
		assert.False(t, strings.HasPrefix(f.Path, workload.AppServicesDir), f.Path)
	}
	assert.Equal(t, decide.Active, ttStatus(d).Level)
}

func TestMatrixAuthBadRegistration(t *testing.T) {
	good := ttMAReg("irc", "as-1")
	for _, tc := range []struct {
		name string
		rel  func(key string) *decide.RelationView
		want string
	}{
		{"missing hs_token", func(string) *decide.RelationView {
			return ttMAv0(ttMAOtherID, "slack", strings.Replace(ttMAReg("slack", "as-2"), "hs_token:", "hs_tokn:", 1))
		}, "hs_token"},
		{"bad regex", func(string) *decide.RelationView {
			return ttMAv0(ttMAOtherID, "slack", strings.Replace(ttMAReg("slack", "as-2"), `'@irc_.*:test\.local'`, `'('`, 1))
		}, "missing closing )"},
		{"no url", func(string) *decide.RelationView {
			return ttMAv0(ttMAOtherID, "slack", strings.Replace(ttMAReg("slack", "as-2"), "url: http://irc-bridge:8090\n", "", 1))
		}, "url"},
		{"sender_localpart needs encoding", func(string) *decide.RelationView {
			return ttMAv0(ttMAOtherID, "slack", strings.Replace(ttMAReg("slack", "as-2"), "sender_localpart: slack_bot", "sender_localpart: slack bot", 1))
		}, "sender_localpart"},
		{"not YAML", func(string) *decide.RelationView { return ttMAv0(ttMAOtherID, "slack", "id: [") }, "not YAML"},
		{"secret lacks the content key", func(string) *decide.RelationView {
			r := ttMAv0(ttMAOtherID, "slack", "")
			r.Secret = map[string]string{"other": "x"}
			return r
		}, relations.MatrixAuthRegistrationContentKey},
		{"token from another key", func(string) *decide.RelationView {
			tok, err := fernet.Encrypt(ttMAFreshKey(t), []byte(ttMAReg("slack", "as-2")))
			require.NoError(t, err)
			return &decide.RelationView{ID: ttMAOtherID, RemoteApp: "slack", App: map[string]string{relations.MatrixAuthRegistrationToken: tok}, Local: map[string]string{}}
		}, "cannot be decrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", good))
			s.MatrixAuth = append(s.MatrixAuth, tc.rel(s.MatrixAuthSecrets.Key.Content[relations.MatrixAuthEncryptionKeyContent]))
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level)
			assert.True(t, ttHas(st.Message, ttMAOtherID, "slack", tc.want, "juju remove-relation synapse:matrix-auth slack"), st.Message)
			assert.Nil(t, d.Synapse, "Synapse keeps running with the registrations it has")
			// The new relation is still provided for, so the requirer can fix it.
			assert.Equal(t, "https://test.local", d.Write(ttMAOtherID, true)[relations.MatrixAuthHomeserverKey])
		})
	}

	t.Run("duplicate id", func(t *testing.T) {
		s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", good))
		s.MatrixAuth = append(s.MatrixAuth, ttMAv0(ttMAOtherID, "slack", strings.Replace(ttMAReg("slack", "as-2"), "id: slack", "id: irc", 1)))
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Blocked, st.Level)
		assert.True(t, ttHas(st.Message, "irc-7", "slack-9", `reuse the id "irc"`), st.Message)
		assert.Nil(t, d.Synapse)
	})

	t.Run("duplicate as_token", func(t *testing.T) {
		s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", good))
		s.MatrixAuth = append(s.MatrixAuth, ttMAv0(ttMAOtherID, "slack", ttMAReg("slack", "as-1")))
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.True(t, ttHas(st.Message, "irc-7", "slack-9", "as_token"), st.Message)
		assert.NotContains(t, st.Message, "as-1", "the token is never shown")
		assert.Nil(t, d.Synapse)
	})

	t.Run("a Python-only regex is left to Synapse's own check", func(t *testing.T) {
		reg := strings.Replace(ttMAReg("slack", "as-2"), `'@irc_.*:test\.local'`, `'@(?!admin)slack_.*:test\.local'`, 1)
		s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", good), ttMAv0(ttMAOtherID, "slack", reg))
		d := decide.Decide(s)
		require.NotNil(t, d.Synapse)
		assert.Len(t, ttMAConfigFiles(t, d.Synapse), 2)
	})
}

func TestMatrixAuthKeyNeverRotates(t *testing.T) {
	s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", ttMAReg("irc", "as-1")))
	key := s.MatrixAuthSecrets.Key
	require.NotEmpty(t, key.ID)
	st := &ttMAState{grants: map[string][]string{}}
	for i, kind := range []string{"relation-changed", "config-changed", "secret-changed", "upgrade-charm", "leader-elected", "update-status"} {
		s.Event.Kind = kind
		s.MatrixAuthSecrets.FreshKey = ttMAFreshKey(t) // offered anyway: must be ignored
		if i == 3 {
			// A second relation joins: it gets the same key.
			s.MatrixAuth = append(s.MatrixAuth, ttMAv0(ttMAOtherID, "slack", ttMAReg("slack", "as-2")))
		}
		d := decide.Decide(s)
		for _, p := range d.ProvidedSecrets {
			if p.Label == relations.MatrixAuthEncryptionKeyLabel {
				assert.Equal(t, key.ID, p.ID, "%s: no new key secret", kind)
				assert.Nil(t, p.Content, "%s: no new key revision", kind)
			}
		}
		s = ttMAApply(t, st, s, d)
		assert.Equal(t, key, s.MatrixAuthSecrets.Key, kind)
	}
	assert.Equal(t, key.ID, s.MatrixAuth[1].Local[relations.MatrixAuthEncryptionKeyIDKey])
	assert.Equal(t, []string{ttMAOtherID}, st.grants[key.ID], "the new relation is granted the key")
	assert.Contains(t, st.grants[s.MatrixAuthSecrets.Shared.ID], ttMAOtherID, "and the shared secret")
}

func TestMatrixAuthSecretsNeverInBagsOrStatus(t *testing.T) {
	s, _ := ttMAWith(t, ttMAv0(ttMAID, "irc", ttMAReg("irc", "as-secret-token")))
	secrets, err := workload.SecretsFromContent(s.AppSecret.Content)
	require.NoError(t, err)
	hidden := []string{
		secrets.Registration,
		s.MatrixAuthSecrets.Key.Content[relations.MatrixAuthEncryptionKeyContent],
		"as-secret-token", "hs-as-secret-token",
	}
	check := func(where string, values ...string) {
		for _, v := range values {
			for _, h := range hidden {
				assert.NotContains(t, v, h, where)
			}
		}
	}
	for _, bag := range []map[string]string{s.MatrixAuth[0].Local, s.Peer.App} {
		for k, v := range bag {
			check("bag key "+k, v)
		}
	}
	// Every path a status takes: settled, bad registration, duplicate.
	bad := ttMAv0(ttMAOtherID, "slack", ttMAReg("slack", "as-secret-token"))
	s.MatrixAuth = append(s.MatrixAuth, bad)
	d := decide.Decide(s)
	check("status", ttStatus(d).Message)
	for _, w := range d.Writes {
		for _, v := range w.Data {
			check("write", v)
		}
	}
	for _, l := range d.Logs {
		check("log", l.Message)
	}
}
