package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each point where Juju 3.6 and 4.0 may differ, checked in both modes.

// leaderPublishes writes the peer application bag in start on the leader,
// as the charm publishes its plan.
const leaderPublishes = `
if [ "$JUJU_DISPATCH_PATH" = hooks/start ] && [ "$(is-leader --format=json)" = true ]; then
  relation-set -r "$(relation-ids synapse-peers --format=json | tr -d '[]"')" --app plan=1
fi
exit 0
`

var bothModes = []Juju{Juju36, Juju40}

func modeModel(t *testing.T, j Juju, body string) *Model {
	t.Helper()
	return newModel(t, body, Options{Juju: j, Workload: NoWorkload{PebbleReady: true}})
}

func TestModeDefaultsAndVersion(t *testing.T) {
	assert.Equal(t, Juju36, Options{}.Juju, "the zero value is Juju 3.6")
	for j, want := range map[Juju]string{Juju36: "3.6.25", Juju40: "4.0.15"} {
		o := Options{Juju: j}
		assert.Equal(t, want, o.withDefaults().JujuVersion, j.String())
	}
	o := Options{Juju: Juju40, JujuVersion: "4.0.1"}
	assert.Equal(t, "4.0.1", o.withDefaults().JujuVersion, "an explicit version wins")
}

// TestFirstUnitHookOrder: Juju 4.0 showed the first unit's containers and
// storage before config-changed; the 3.6 mode keeps its containers up
// after start. Both end with the peer application bag the leader wrote.
func TestFirstUnitHookOrder(t *testing.T) {
	want := map[Juju][]string{
		Juju36: {"install", "synapse-peers-relation-created", "leader-elected", "config-changed", "start",
			"synapse-pebble-ready", "synapse-nginx-pebble-ready", "data-storage-attached", "synapse-peers-relation-changed synapse"},
		Juju40: {"install", "synapse-peers-relation-created", "leader-elected", "synapse-pebble-ready", "synapse-nginx-pebble-ready",
			"data-storage-attached", "config-changed", "start", "synapse-peers-relation-changed synapse"},
	}
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			m := modeModel(t, j, leaderPublishes)
			deploy(t, m, 1)
			assert.Equal(t, want[j], unitHooks(hookNames(m, 0), "synapse/0"))
		})
	}
}

// TestJoiningUnitHookOrder: a unit added to a running application. On
// 4.0 it starts before its containers are up and sees the peers'
// application bag before its containers and its peers' joined after its
// storage; 3.6 adds leader-settings-changed. In both the application bag
// comes before joined, as in Juju's relation resolver.
func TestJoiningUnitHookOrder(t *testing.T) {
	want := map[Juju][]string{
		Juju36: {"install", "synapse-peers-relation-created", "leader-settings-changed", "config-changed", "start",
			"synapse-pebble-ready", "synapse-nginx-pebble-ready", "data-storage-attached",
			"synapse-peers-relation-changed synapse", "synapse-peers-relation-joined synapse/0", "synapse-peers-relation-changed synapse/0"},
		Juju40: {"install", "synapse-peers-relation-created", "config-changed", "start", "synapse-peers-relation-changed synapse",
			"synapse-pebble-ready", "synapse-nginx-pebble-ready", "data-storage-attached",
			"synapse-peers-relation-joined synapse/0", "synapse-peers-relation-changed synapse/0"},
	}
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			m := modeModel(t, j, leaderPublishes)
			deploy(t, m, 1)
			mark := len(m.Recorder().Hooks())
			require.NoError(t, m.Scale(testCtx(t), 2))
			waitIdle(t, m)
			hooks := hookNames(m, mark)
			assert.Equal(t, want[j], unitHooks(hooks, "synapse/1"))
			assert.Equal(t, []string{"synapse-peers-relation-joined synapse/1", "synapse-peers-relation-changed synapse/1"}, unitHooks(hooks, "synapse/0"))
		})
	}
}

// TestRecreatedPodHookOrder: a deleted pod comes back with a new charm
// directory: stop on the old pod, then upgrade-charm, config-changed,
// start and pebble-ready (3.6 adds leader-settings-changed on a follower).
func TestRecreatedPodHookOrder(t *testing.T) {
	pod := []string{"stop", "upgrade-charm", "config-changed", "start"}
	ready := []string{"synapse-pebble-ready", "synapse-nginx-pebble-ready"}
	want := map[Juju][]string{
		Juju36: append(append(append([]string{}, pod...), "leader-settings-changed"), ready...),
		Juju40: append(append([]string{}, pod...), ready...),
	}
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			m := modeModel(t, j, quietCharm)
			deploy(t, m, 2)
			mark := len(m.Recorder().Hooks())
			require.NoError(t, m.DeletePod(testCtx(t), "synapse/1"))
			waitIdle(t, m)
			hooks := hookNames(m, mark)
			assert.Equal(t, want[j], unitHooks(hooks, "synapse/1"))
			assert.Empty(t, unitHooks(hooks, "synapse/0"), "the other pod is untouched")
			assert.Equal(t, "synapse/0", m.Leader())
		})
	}
}

// TestNoLeaderSettingsChangedOn40: 4.0 never runs leader-settings-changed
// (its leadership resolver has no such hook): not on a joining unit, a
// leader change, a recreated pod or a departing leader; 3.6 does.
func TestNoLeaderSettingsChangedOn40(t *testing.T) {
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			m := modeModel(t, j, quietCharm)
			deploy(t, m, 3)
			require.NoError(t, m.SetLeader("synapse/1"))
			waitIdle(t, m)
			require.NoError(t, m.DeletePod(testCtx(t), "synapse/2"))
			require.NoError(t, m.Scale(testCtx(t), 2))
			waitIdle(t, m)
			n := countOf(hookNames(m, 0), "synapse/2 leader-settings-changed") + countOf(hookNames(m, 0), "synapse/0 leader-settings-changed")
			if j == Juju40 {
				assert.Zero(t, n)
			} else {
				assert.Positive(t, n)
			}
		})
	}
}

// TestDepartingLeaderKeepsLeadership: in both modes, as both uniters'
// source has it (the lease is revoked only once the unit is dead), a
// departing leader answers is-leader true through storage-detaching, its
// other relations' departed and broken, its peers' departed (naming itself
// as departing; no broken on a peer relation), stop and remove; the unit
// that stays hears the departure and only then becomes leader.
func TestDepartingLeaderKeepsLeadership(t *testing.T) {
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "leader.log")
			m := newModel(t, `
if [ "$JUJU_UNIT_NAME" = synapse/1 ]; then
  echo "$JUJU_HOOK_NAME $(is-leader --format=json) $JUJU_DEPARTING_UNIT" >> `+log+`
fi
exit 0
`, Options{Juju: j})
			deploy(t, m, 2)
			integrate(t, m, postgresApp(), "database")
			require.NoError(t, m.SetLeader("synapse/1"))
			waitIdle(t, m)
			require.NoError(t, os.Remove(log))
			mark := len(m.Recorder().Hooks())
			require.NoError(t, m.Scale(testCtx(t), 1))
			assert.Equal(t, "synapse/1", m.Leader(), "still leader while it leaves")
			waitIdle(t, m)
			hooks := hookNames(m, mark)
			assert.Equal(t, []string{
				"data-storage-detaching",
				"database-relation-departed postgresql-k8s/0",
				"database-relation-broken",
				"synapse-peers-relation-departed synapse/0",
				"stop",
				"remove",
			}, unitHooks(hooks, "synapse/1"))
			got, err := os.ReadFile(log)
			require.NoError(t, err)
			assert.Equal(t, []string{
				"data-storage-detaching true ",
				"database-relation-departed true synapse/1",
				"database-relation-broken true ",
				"synapse-peers-relation-departed true synapse/1",
				"stop true ",
				"remove true ",
			}, strings.Split(strings.TrimSuffix(string(got), "\n"), "\n"))
			assert.Equal(t, "synapse/0", m.Leader())
			assert.Equal(t, []string{"synapse-peers-relation-departed synapse/1", "leader-elected"}, unitHooks(hooks, "synapse/0"))
		})
	}
}

// TestNetworkGetModes: in both modes the unit binds to its pod address
// and advertises the application's service address (ingress-addresses,
// egress-subnets /32, and the bags' ingress-address); 4.0 also gives the
// pod address as the bind address's hostname.
func TestNetworkGetModes(t *testing.T) {
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			m := newModel(t, quietCharm, Options{Juju: j})
			deploy(t, m, 2)
			pod := mustUnit(t, m, "synapse/1").Address
			svc := m.ServiceAddress()
			assert.NotEqual(t, pod, svc)
			assert.True(t, strings.HasPrefix(svc, "127."), "inside the loopback block: %s", svc)
			host := ""
			if j == Juju40 {
				host = pod
			}
			cidr := pod[:strings.LastIndex(pod, ".")] + ".0/24"
			assert.JSONEq(t,
				`{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"`+host+`","value":"`+pod+`","cidr":"`+cidr+`"}]}],"egress-subnets":["`+svc+`/32"],"ingress-addresses":["`+svc+`"]}`,
				mustTool(t, m, "synapse/1", "network-get", "--format=json", "synapse-peers"))
			assert.Equal(t, "\""+svc+"\"\n", mustTool(t, m, "synapse/1", "network-get", "--format=json", "--ingress-address", "synapse-peers"))
			assert.Equal(t, "\""+pod+"\"\n", mustTool(t, m, "synapse/1", "network-get", "--format=json", "--bind-address", "synapse-peers"))
			rel, _ := m.RelationOn("synapse-peers")
			assert.Equal(t, svc, rel.UnitData["synapse/1"]["ingress-address"])
			assert.Equal(t, svc+"/32", rel.UnitData["synapse/1"]["egress-subnets"])
		})
	}
}

// TestActionParamsModes: parameters are checked against the action's
// schema as Juju builds it. An action that says nothing about
// additionalProperties takes unknown parameters on 3.6 (charm/v12 leaves
// the JSON Schema default) and refuses them on 4.0; one that says false
// refuses, one that says true takes them, in both; a missing required
// parameter or a wrong type is refused in both. A refused action never
// runs.
func TestActionParamsModes(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"charmcraft.yaml", "metadata.yaml"} {
		data, err := os.ReadFile(filepath.Join(testCharmRoot(t), f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, f), data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "actions.yaml"), []byte(`
closed:
  params:
    name: {type: string}
  required: [name]
  additionalProperties: false
open:
  params:
    name: {type: string}
  additionalProperties: true
`), 0o644))
	type call struct {
		action string
		params map[string]any
	}
	calls := []struct {
		call
		ok map[Juju]bool
	}{
		{call{"register-user", map[string]any{"username": "a"}}, map[Juju]bool{Juju36: true, Juju40: true}},
		{call{"register-user", map[string]any{"username": "a", "extra": "x"}}, map[Juju]bool{Juju36: true, Juju40: false}},
		{call{"register-user", map[string]any{"username": 7}}, map[Juju]bool{}},
		{call{"closed", map[string]any{"name": "a"}}, map[Juju]bool{Juju36: true, Juju40: true}},
		{call{"closed", map[string]any{"name": "a", "extra": "x"}}, map[Juju]bool{}},
		{call{"closed", nil}, map[Juju]bool{}},
		{call{"open", map[string]any{"name": "a", "extra": "x"}}, map[Juju]bool{Juju36: true, Juju40: true}},
	}
	for _, j := range bothModes {
		t.Run(j.String(), func(t *testing.T) {
			m := newModel(t, quietCharm, Options{Juju: j, CharmRoot: root})
			deploy(t, m, 1)
			for _, c := range calls {
				mark := len(m.Recorder().Hooks())
				res, err := m.RunAction(testCtx(t), "synapse/0", c.action, c.params)
				if c.ok[j] {
					if assert.NoError(t, err, "%s %v", c.action, c.params) {
						assert.Equal(t, "completed", res.Status)
					}
				} else {
					assert.Error(t, err, "%s %v", c.action, c.params)
					assert.Empty(t, hookNames(m, mark), "a refused action does not run")
				}
			}
		})
	}
}
