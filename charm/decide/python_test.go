package decide_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// pySwitched is the first hook of this charm on the leader after a switch
// from the Python charm: its peer keys in the bag, no secret of ours yet.
func pySwitched(t *testing.T, leader string, app map[string]string, py decide.PythonState) decide.Snapshot {
	t.Helper()
	s := ttFresh(t)
	s.Event.Kind = "upgrade-charm"
	s.Event.Unit = leader
	for _, u := range []string{"synapse/0", "synapse/1", "synapse/2"} {
		if u != leader {
			s.Peer.Units[u] = map[string]string{}
		}
	}
	s.Peer.App = app
	s.Python = py
	return s
}

// pyPythonKeys are the bag keys only the Python charm writes.
var pyPythonKeys = []string{decide.PySigningIDKey, decide.PyMacaroonIDKey, decide.PyAdminIDKey, decide.PyAdminTokenKey, decide.PyMainUnitKey}

func TestPythonSwitchAdoptsKeysAndMain(t *testing.T) {
	key := ttSecrets(t).SigningKey
	otherKey := ttSecrets(t).SigningKey
	for _, tc := range []struct {
		name     string
		leader   string
		app      map[string]string
		py       decide.PythonState
		key, mac string // "" for mac: a fresh macaroon
		main     string
		blocked  string
	}{{
		name:   "2025: secrets, main pinned to unit 0, leader elsewhere",
		leader: "synapse/1",
		app:    map[string]string{decide.PySigningIDKey: "secret:sign", decide.PyMacaroonIDKey: "secret:mac", decide.PyAdminIDKey: "secret:admin"},
		py:     decide.PythonState{SigningKey: key, Macaroon: "py-macaroon"},
		key:    key, mac: "py-macaroon", main: "synapse/0",
	}, {
		name:   "2024: signing secret, main_unit_id, per-unit macaroon",
		leader: "synapse/0",
		app:    map[string]string{decide.PySigningIDKey: "secret:sign", decide.PyMainUnitKey: "synapse/2", decide.PyAdminIDKey: "secret:admin"},
		py:     decide.PythonState{SigningKey: key, SigningKeyFile: otherKey},
		key:    key, main: "synapse/2",
	}, {
		name:   "no Juju secrets: the key file on the main, which leads",
		leader: "synapse/0",
		app:    map[string]string{decide.PyAdminTokenKey: "token"},
		py:     decide.PythonState{SigningKeyFile: key, MacaroonFile: "file-macaroon"},
		key:    key, mac: "file-macaroon", main: "synapse/0",
	}, {
		name:    "no secret, the leader is not the main: its own file is not the server's key",
		leader:  "synapse/1",
		app:     map[string]string{decide.PyAdminIDKey: "secret:admin"},
		py:      decide.PythonState{SigningKeyFile: otherKey},
		blocked: "only on synapse/0's volume",
	}, {
		name:    "a malformed key blocks, never replaced",
		leader:  "synapse/0",
		app:     map[string]string{decide.PySigningIDKey: "secret:sign"},
		py:      decide.PythonState{SigningKey: "not a key"},
		blocked: "signing key (from its Juju secret) is unusable",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := pySwitched(t, tc.leader, tc.app, tc.py)
			d := decide.Decide(s)
			for _, w := range d.Writes {
				for _, k := range pyPythonKeys {
					assert.NotContains(t, w.Data, k, "the Python charm's keys stay as they were")
				}
			}
			if tc.blocked != "" {
				assert.Nil(t, d.CreateSecret, "no second signing key")
				st := ttStatus(d)
				assert.Equal(t, decide.Blocked, st.Level)
				assert.Contains(t, st.Message, tc.blocked)
				return
			}
			require.NotNil(t, d.CreateSecret)
			got, err := workload.SecretsFromContent(d.CreateSecret.Content)
			require.NoError(t, err)
			assert.Equal(t, tc.key, got.SigningKey)
			if tc.mac != "" {
				assert.Equal(t, tc.mac, got.Macaroon)
			} else {
				assert.Equal(t, s.AppSecret.Fresh.Macaroon, got.Macaroon)
			}
			next := ttApply(t, s, d)
			assert.Equal(t, tc.main, ttPlan(t, next.Peer.App).Main)
			assert.Equal(t, ttSecretID, next.Peer.App[decide.SecretIDKey])
		})
	}
}

func TestPythonNothingLeftMintsAndLeads(t *testing.T) {
	s := pySwitched(t, "synapse/1", map[string]string{}, decide.PythonState{})
	d := decide.Decide(s)
	require.NotNil(t, d.CreateSecret)
	assert.Equal(t, s.AppSecret.Fresh.Content(), d.CreateSecret.Content)
	assert.Equal(t, "synapse/1", ttPlan(t, ttApply(t, s, d).Peer.App).Main)
}

func TestPythonLegacySecretIDMigrates(t *testing.T) {
	ready := ttReady(t)
	id := ready.Peer.App[decide.SecretIDKey]
	old := ttClone(ready)
	delete(old.Peer.App, decide.SecretIDKey)
	old.Peer.App[decide.LegacySecretIDKey] = id
	old.AppSecret.Legacy = true

	t.Run("leader moves it", func(t *testing.T) {
		d := decide.Decide(old)
		assert.Nil(t, d.CreateSecret)
		assert.Equal(t, map[string]string{decide.SecretIDKey: id, decide.LegacySecretIDKey: ""}, d.Write(ttPeerID, true))
		assert.Equal(t, decide.Active, ttStatus(d).Level, ttStatus(d).Message)
		assert.False(t, ttTouches(d.Synapse), "same secrets: nothing restarts")
	})
	t.Run("a non-leader uses it meanwhile", func(t *testing.T) {
		s := ttClone(old)
		s.Leader = false
		d := decide.Decide(s)
		assert.Empty(t, d.Write(ttPeerID, true))
		assert.NotEqual(t, decide.Blocked, ttStatus(d).Level, ttStatus(d).Message)
	})
	t.Run("the Python charm's secret-id is not ours", func(t *testing.T) {
		s := pySwitched(t, "synapse/0", map[string]string{decide.PyAdminIDKey: "secret:admin"}, decide.PythonState{SigningKeyFile: ttSecrets(t).SigningKey})
		d := decide.Decide(s)
		require.NotNil(t, d.CreateSecret)
		assert.NotContains(t, d.Write(ttPeerID, true), decide.LegacySecretIDKey)
	})
}

func TestPythonMediaStoreKept(t *testing.T) {
	for _, tc := range []struct {
		store, want string
	}{{"", workload.MediaStorePath}, {decide.PyMediaStorePath, decide.PyMediaStorePath}} {
		s := ttFresh(t)
		s.Python.MediaStore = tc.store
		d := decide.Decide(s)
		hs := ttFile(t, d.Synapse, workload.HomeserverPath)
		assert.True(t, strings.Contains(hs, "media_store_path: "+tc.want+"\n"), "media_store_path %s in:\n%s", tc.want, hs)
		assert.Contains(t, hs, workload.SQLitePath, "the Python charm's database path")
	}
}
