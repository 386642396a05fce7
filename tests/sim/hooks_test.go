package sim

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hook order, as Juju 3.6 fires it on Kubernetes, for each operation.

// afterLeadership is a new unit's hooks up to its containers' pebble-ready.
func afterLeadership(leader bool) []string {
	out := []string{"install", "synapse-peers-relation-created"}
	if leader {
		out = append(out, "leader-elected")
	} else {
		out = append(out, "leader-settings-changed")
	}
	return append(out, "config-changed", "start", "synapse-pebble-ready", "synapse-nginx-pebble-ready", "data-storage-attached")
}

func TestDeployOneUnitHookOrder(t *testing.T) {
	m := newModel(t, quietCharm, Options{Workload: NoWorkload{PebbleReady: true}})
	deploy(t, m, 1)
	assert.Equal(t, afterLeadership(true), m.Recorder().HookNames("synapse/0"))
	assert.Equal(t, "synapse/0", m.Leader())
}

func TestDeployThreeUnitsHookOrder(t *testing.T) {
	m := newModel(t, quietCharm, Options{Workload: NoWorkload{PebbleReady: true}})
	deploy(t, m, 3)
	for i, u := range []string{"synapse/0", "synapse/1", "synapse/2"} {
		var peers []string
		for _, p := range []string{"synapse/0", "synapse/1", "synapse/2"} {
			if p != u {
				peers = append(peers, "synapse-peers-relation-joined "+p, "synapse-peers-relation-changed "+p)
			}
		}
		want := append(afterLeadership(i == 0), peers...)
		assert.Equal(t, want, m.Recorder().HookNames(u), u)
	}
}

func TestJuju4HasNoLeaderSettingsChanged(t *testing.T) {
	m := newModel(t, quietCharm, Options{JujuVersion: "4.0.1"})
	deploy(t, m, 2)
	assert.NotContains(t, m.Recorder().HookNames("synapse/1"), "leader-settings-changed")
}

func TestScaleUpHookOrder(t *testing.T) {
	m := newModel(t, quietCharm, Options{Workload: NoWorkload{PebbleReady: true}})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.Scale(testCtx(t), 3))
	waitIdle(t, m)
	hooks := hookNames(m, mark)
	assert.Equal(t, append(afterLeadership(false),
		"synapse-peers-relation-joined synapse/0", "synapse-peers-relation-changed synapse/0",
		"synapse-peers-relation-joined synapse/1", "synapse-peers-relation-changed synapse/1"),
		unitHooks(hooks, "synapse/2"))
	for _, u := range []string{"synapse/0", "synapse/1"} {
		assert.Equal(t, []string{"synapse-peers-relation-joined synapse/2", "synapse-peers-relation-changed synapse/2"}, unitHooks(hooks, u), u)
	}
}

func TestIntegrateHookOrder(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	integrate(t, m, postgresApp(), "database")
	hooks := hookNames(m, mark)
	for _, u := range []string{"synapse/0", "synapse/1"} {
		assert.Equal(t, []string{
			"database-relation-created",
			"database-relation-changed postgresql-k8s", // the application bag, before joined as in Juju's resolver
			"database-relation-joined postgresql-k8s/0",
			"database-relation-changed postgresql-k8s/0",
		}, unitHooks(hooks, u), u)
	}
	// The environment of a relation hook.
	var joined HookRecord
	for _, h := range m.Recorder().HooksSince(mark) {
		if h.Unit == "synapse/1" && h.Hook == "database-relation-joined" {
			joined = h
		}
	}
	for _, kv := range []string{
		"JUJU_DISPATCH_PATH=hooks/database-relation-joined", "JUJU_HOOK_NAME=database-relation-joined",
		"JUJU_RELATION=database", "JUJU_RELATION_ID=database:1", "JUJU_REMOTE_UNIT=postgresql-k8s/0",
		"JUJU_REMOTE_APP=postgresql-k8s", "JUJU_UNIT_NAME=synapse/1", "JUJU_MODEL_NAME=sim",
		"JUJU_MODEL_UUID=" + m.UUID(), "JUJU_VERSION=3.6.25", "LANG=C.UTF-8", "JUJU_AGENT_SOCKET_NETWORK=unix",
	} {
		assert.Contains(t, joined.Env, kv)
	}
	assert.True(t, strings.HasPrefix(joined.Env[len(joined.Env)-1], "JUJU_DISPATCH_PATH="), "JUJU_DISPATCH_PATH comes last")
	u1, _ := m.Unit("synapse/1")
	assert.Contains(t, joined.Env, "SYNAPSE_CHARM_CONTAINERS_DIR="+u1.ContainersDir)
	assert.Contains(t, joined.Env, "JUJU_CHARM_DIR="+u1.CharmDir)
	for _, kv := range joined.Env {
		if strings.HasPrefix(kv, "PATH=") {
			assert.True(t, strings.HasPrefix(kv, "PATH="+filepath.Join(m.Dir(), "tools")+":"), kv)
		}
		assert.False(t, strings.HasPrefix(kv, "HOME="), "no host variables leak: %s", kv)
	}
}

func TestRemoveRelationHookOrder(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	id := integrate(t, m, postgresApp(), "database")
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.RemoveRelation(testCtx(t), id))
	waitIdle(t, m)
	hooks := hookNames(m, mark)
	for _, u := range []string{"synapse/0", "synapse/1"} {
		assert.Equal(t, []string{"database-relation-departed postgresql-k8s/0", "database-relation-broken"}, unitHooks(hooks, u), u)
	}
	departed := m.Recorder().HooksSince(mark)[0]
	assert.Contains(t, departed.Env, "JUJU_DEPARTING_UNIT=postgresql-k8s/0")
	_, ok := m.Relation(id)
	assert.False(t, ok, "the relation is gone once every unit ran relation-broken")
	assert.Equal(t, "[]\n", mustTool(t, m, "synapse/0", "relation-ids", "--format=json", "database"))
	assert.NotContains(t, m.Status().Applications, "postgresql-k8s")
}

func TestScaleDownHookOrder(t *testing.T) {
	// On relation-departed a peer still reads the departing unit's bag.
	m := newModel(t, `
if [ "$JUJU_DISPATCH_PATH" = hooks/synapse-peers-relation-departed ] && [ "$JUJU_UNIT_NAME" = synapse/0 ]; then
  relation-get --format=json - "$JUJU_REMOTE_UNIT" > "$CHARM_DIR/departed-bag"
fi
exit 0
`, Options{})
	deploy(t, m, 3)
	integrate(t, m, postgresApp(), "database")
	mustTool(t, m, "synapse/2", "relation-set", "-r", "synapse-peers:0", "stale=yes")
	waitIdle(t, m)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.Scale(testCtx(t), 2))
	waitIdle(t, m)
	hooks := hookNames(m, mark)
	// Other relations first, peers last, and no relation-broken on a peer
	// relation (Juju 3.6's relation resolver).
	assert.Equal(t, []string{
		"data-storage-detaching",
		"database-relation-departed postgresql-k8s/0",
		"database-relation-broken",
		"synapse-peers-relation-departed synapse/0",
		"synapse-peers-relation-departed synapse/1",
		"stop",
		"remove",
	}, unitHooks(hooks, "synapse/2"))
	for _, u := range []string{"synapse/0", "synapse/1"} {
		assert.Equal(t, []string{"synapse-peers-relation-departed synapse/2"}, unitHooks(hooks, u), u)
	}
	for _, h := range m.Recorder().HooksSince(mark) {
		if strings.HasSuffix(h.Hook, "-relation-departed") {
			assert.Contains(t, h.Env, "JUJU_DEPARTING_UNIT=synapse/2", h.String())
		}
	}
	assert.Len(t, m.Units(), 2)
	bag, err := os.ReadFile(filepath.Join(mustUnit(t, m, "synapse/0").CharmDir, "departed-bag"))
	require.NoError(t, err)
	assert.Contains(t, string(bag), `"stale":"yes"`)
	hosts, err := os.ReadFile(m.HostsFile())
	require.NoError(t, err)
	assert.NotContains(t, string(hosts), "synapse-2.synapse-endpoints")

	// Scaling up again reuses ordinal 2, as a StatefulSet does, with a
	// fresh unit.
	require.NoError(t, m.Scale(testCtx(t), 3))
	waitIdle(t, m)
	u2 := mustUnit(t, m, "synapse/2")
	assert.Equal(t, "alive", u2.Life)
	rel, _ := m.RelationOn("synapse-peers")
	assert.NotContains(t, rel.UnitData["synapse/2"], "stale", "a new unit starts with a fresh bag")
	assert.Equal(t, m.ServiceAddress(), rel.UnitData["synapse/2"]["private-address"], "the ingress address Juju seeds is the service's")
}

func TestRemoveLeaderElectsAnother(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.RemoveUnit(testCtx(t), "synapse/0"))
	waitIdle(t, m)
	assert.Equal(t, "synapse/1", m.Leader())
	assert.Equal(t, []string{"synapse-peers-relation-departed synapse/0", "leader-elected"}, unitHooks(hookNames(m, mark), "synapse/1"),
		"the departing leader keeps the lease until it is dead")
}

func TestLeaderChange(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 3)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.SetLeader("synapse/2"))
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/2 leader-elected"}, hookNames(m, mark))
	assert.Equal(t, "true\n", mustTool(t, m, "synapse/2", "is-leader", "--format=json"))
	assert.Equal(t, "false\n", mustTool(t, m, "synapse/0", "is-leader", "--format=json"))
}

func TestConfigChangedOnEveryUnit(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "example.com"}))
	waitIdle(t, m)
	got := hookNames(m, mark)
	sort.Strings(got)
	assert.Equal(t, []string{"synapse/0 config-changed", "synapse/1 config-changed"}, got)
	// Setting the same value again fires nothing.
	mark = len(m.Recorder().Hooks())
	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "example.com"}))
	waitIdle(t, m)
	assert.Empty(t, hookNames(m, mark))
}

func TestRestartContainerFiresPebbleReady(t *testing.T) {
	m := newModel(t, quietCharm, Options{Workload: NoWorkload{PebbleReady: true}})
	deploy(t, m, 1)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.RestartContainer(testCtx(t), "synapse/0", "synapse"))
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/0 synapse-pebble-ready"}, hookNames(m, mark))
	h := m.Recorder().HooksSince(mark)[0]
	assert.Contains(t, h.Env, "JUJU_WORKLOAD_NAME=synapse")
	assert.Error(t, m.RestartContainer(testCtx(t), "synapse/0", "nope"))

	mark = len(m.Recorder().Hooks())
	require.NoError(t, m.PebbleCustomNotice("synapse/0", "synapse", "example.com/synapse/x"))
	waitIdle(t, m)
	h = m.Recorder().HooksSince(mark)[0]
	assert.Equal(t, "synapse-pebble-custom-notice", h.Hook)
	assert.Contains(t, h.Env, "JUJU_NOTICE_KEY=example.com/synapse/x")
	assert.Contains(t, h.Env, "JUJU_NOTICE_TYPE=custom")

	mark = len(m.Recorder().Hooks())
	require.NoError(t, m.PebbleCheckFailed("synapse/0", "synapse", "synapse-ready"))
	waitIdle(t, m)
	h = m.Recorder().HooksSince(mark)[0]
	assert.Equal(t, "synapse-pebble-check-failed", h.Hook)
	assert.Contains(t, h.Env, "JUJU_PEBBLE_CHECK_NAME=synapse-ready")
}

func TestNoPebbleReadyWithoutContainers(t *testing.T) {
	m := newModel(t, quietCharm, Options{}) // NoWorkload: nothing is up
	deploy(t, m, 1)
	assert.NotContains(t, m.Recorder().HookNames("synapse/0"), "synapse-pebble-ready")
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.PebbleReady("synapse/0", "synapse-nginx"))
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/0 synapse-nginx-pebble-ready"}, hookNames(m, mark))
}

func TestUpdateStatus(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	m.UpdateStatus()
	waitIdle(t, m)
	assert.ElementsMatch(t, []string{"synapse/0 update-status", "synapse/1 update-status"}, hookNames(m, mark))
}

// A charm that writes everywhere, then fails while the marker file exists.
const failingCharm = `
case "$JUJU_DISPATCH_PATH" in
hooks/config-changed)
  relation-set -r synapse-peers:0 --app plan=7 2>/dev/null
  relation-set -r synapse-peers:0 addr=me
  state-set seen=yes
  open-port 8080
  status-set blocked "about to fail"
  juju-log -- "failing now"
  if [ -e "$MARKER" ]; then echo "boom" >&2; exit 1; fi
  ;;
esac
exit 0
`

func TestFailingHookLeavesModelUnchanged(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "fail")
	m := newModel(t, "MARKER="+marker+"\n"+failingCharm, Options{MaxRetries: 2})
	deploy(t, m, 2)
	relBefore, _ := m.RelationOn("synapse-peers")
	u0Before := mustUnit(t, m, "synapse/0")
	// Reset what the deploy's config-changed wrote, to see it come back.
	require.NoError(t, os.WriteFile(marker, nil, 0o644))
	mustTool(t, m, "synapse/0", "/bin/sh", "-c", "relation-set -r synapse-peers:0 --app plan= && relation-set -r synapse-peers:0 addr= && state-delete seen && close-port 8080")
	relBefore, _ = m.RelationOn("synapse-peers")
	u0Before = mustUnit(t, m, "synapse/0")
	require.Empty(t, relBefore.AppData)
	require.Empty(t, u0Before.State)

	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "example.com"}))
	err := m.WaitIdle(testCtx(t))
	var he *HookError
	require.ErrorAs(t, err, &he)
	assert.Len(t, he.Failures, 2)
	assert.Contains(t, he.Failures[0], "config-changed")
	assert.Contains(t, he.Failures[0], "boom")

	rel, _ := m.RelationOn("synapse-peers")
	assert.Equal(t, relBefore.AppData, rel.AppData, "app bag unchanged")
	assert.Equal(t, relBefore.UnitData, rel.UnitData, "unit bags unchanged")
	u0 := mustUnit(t, m, "synapse/0")
	assert.Empty(t, u0.State, "state unchanged")
	assert.Empty(t, u0.OpenedPorts, "ports unchanged")
	assert.Equal(t, "error", u0.WorkloadStatus.Status)
	assert.Equal(t, `hook failed: "config-changed"`, u0.WorkloadStatus.Message)
	assert.Equal(t, "config-changed", u0.FailedHook)
	assert.Equal(t, "error", m.Status().Applications["synapse"].Units["synapse/0"].WorkloadStatus.Current)
	// Retried: 1 + MaxRetries attempts.
	var attempts []int
	for _, h := range m.Recorder().Hooks() {
		if h.Unit == "synapse/0" && h.Hook == "config-changed" && h.ExitCode != 0 {
			attempts = append(attempts, h.Attempt)
		}
	}
	assert.Equal(t, []int{1, 2, 3}, attempts)
	// status-set and juju-log acted at once; the bag writes were recorded
	// but never committed.
	var committed int
	for _, w := range m.Recorder().BagWrites() {
		if w.Committed && w.Key == "addr" && w.Value == "me" {
			committed++
		}
	}
	assert.Equal(t, 2, committed, "only the two deploy-time writes committed")
	assert.Equal(t, "blocked", findStatus(u0.History, "about to fail").Status, "status-set acted at once")

	// Resolved, the hook runs again and commits.
	require.NoError(t, os.Remove(marker))
	require.NoError(t, m.Resolve("synapse/0", false))
	require.NoError(t, m.Resolve("synapse/1", false))
	waitIdle(t, m)
	rel, _ = m.RelationOn("synapse-peers")
	assert.Equal(t, "7", rel.AppData["plan"])
	assert.Equal(t, "me", rel.UnitData["synapse/0"]["addr"])
	u0 = mustUnit(t, m, "synapse/0")
	assert.Equal(t, map[string]string{"seen": "yes"}, u0.State)
	assert.Equal(t, []string{"8080/tcp"}, u0.OpenedPorts)
	assert.Equal(t, Status{Status: "blocked", Message: "about to fail"}, withoutSince(u0.WorkloadStatus))
	assert.Empty(t, u0.FailedHook)
}

func findStatus(h []Status, msg string) Status {
	for _, s := range h {
		if s.Message == msg {
			return s
		}
	}
	return Status{}
}

func TestRetriedHookSucceeds(t *testing.T) {
	// The hook fails on its first two runs only.
	count := filepath.Join(t.TempDir(), "count")
	m := newModel(t, `
if [ "$JUJU_DISPATCH_PATH" = hooks/start ]; then
  n=$(cat `+count+` 2>/dev/null || echo 0); n=$((n+1)); echo $n > `+count+`
  [ $n -gt 2 ] || exit 1
  state-set started=yes
fi
`, Options{MaxRetries: 3})
	deploy(t, m, 1)
	assert.Equal(t, map[string]string{"started": "yes"}, mustUnit(t, m, "synapse/0").State)
	names := m.Recorder().HookNames("synapse/0")
	assert.Equal(t, 3, countOf(names, "start"))
	assert.NotEqual(t, "error", mustUnit(t, m, "synapse/0").WorkloadStatus.Status)
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// The leader rewrites the peer application bag on every relation-changed:
// a loop that never settles (the leader itself gets relation-changed for
// its own application-bag writes, as in Juju 3.6).
func TestHookLoopIsCaught(t *testing.T) {
	m := newModel(t, `
case "$JUJU_DISPATCH_PATH" in
hooks/synapse-peers-relation-changed|hooks/leader-elected)
  if [ "$(is-leader)" = True ]; then relation-set -r synapse-peers:0 --app gen=$(date +%s%N); fi ;;
esac
`, Options{MaxHooks: 40})
	require.NoError(t, m.Deploy(testCtx(t), 1))
	err := m.WaitIdle(testCtx(t))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNotIdle), err)
	assert.Contains(t, err.Error(), "synapse-peers-relation-changed synapse")
}

func TestPeerAppBagWriteNotifiesEveryUnitIncludingLeader(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	mustTool(t, m, "synapse/0", "relation-set", "-r", "synapse-peers:0", "--app", "main=synapse/0")
	waitIdle(t, m)
	assert.ElementsMatch(t, []string{"synapse/0 synapse-peers-relation-changed synapse", "synapse/1 synapse-peers-relation-changed synapse"}, hookNames(m, mark)[1:])
	for _, h := range m.Recorder().HooksSince(mark)[1:] {
		assert.Contains(t, h.Env, "JUJU_REMOTE_UNIT=")
		assert.Contains(t, h.Env, "JUJU_REMOTE_APP=synapse")
	}
	// A unit-bag write notifies the other units only.
	mark = len(m.Recorder().Hooks())
	mustTool(t, m, "synapse/1", "relation-set", "-r", "synapse-peers:0", "applied=7")
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/1 ", "synapse/0 synapse-peers-relation-changed synapse/1"}, hookNames(m, mark))
	// A write of the same value changes nothing and fires nothing.
	mark = len(m.Recorder().Hooks())
	mustTool(t, m, "synapse/1", "relation-set", "-r", "synapse-peers:0", "applied=7")
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/1 "}, hookNames(m, mark))
}

func TestInstallCannotUsePeerBags(t *testing.T) {
	// During install the peer relation exists but the unit is not in its
	// scope yet: Juju refuses bag access.
	m := newModel(t, `
if [ "$JUJU_DISPATCH_PATH" = hooks/install ]; then
  relation-ids synapse-peers --format=json > "$CHARM_DIR/ids"
  relation-get -r synapse-peers:0 - "$JUJU_UNIT_NAME" > "$CHARM_DIR/get" 2>&1
fi
exit 0
`, Options{})
	deploy(t, m, 1)
	u := mustUnit(t, m, "synapse/0")
	ids, _ := os.ReadFile(filepath.Join(u.CharmDir, "ids"))
	get, _ := os.ReadFile(filepath.Join(u.CharmDir, "get"))
	assert.Equal(t, "[\"synapse-peers:0\"]\n", string(ids))
	assert.Equal(t, "ERROR permission denied\n", string(get))
}

func TestActions(t *testing.T) {
	m := newModel(t, `
case "$JUJU_DISPATCH_PATH" in
actions/register-user)
  user=$(action-get username)
  [ "$user" = bad ] && { action-fail "no such luck"; exit 0; }
  [ "$user" = crash ] && exit 2
  action-log "registering $user"
  action-set user.name="$user" user.admin="$(action-get admin)" password=pw
  state-set registered="$user"
  ;;
esac
`, Options{})
	deploy(t, m, 1)
	res, err := m.RunAction(testCtx(t), "synapse/0", "register-user", map[string]any{"username": "alice"})
	require.NoError(t, err)
	assert.Equal(t, "completed", res.Status)
	assert.Equal(t, map[string]any{"user": map[string]any{"name": "alice", "admin": "False"}, "password": "pw"}, res.Results)
	assert.Equal(t, []string{"registering alice"}, res.Log)
	assert.Equal(t, map[string]string{"registered": "alice"}, mustUnit(t, m, "synapse/0").State)
	h := m.Recorder().Hooks()[len(m.Recorder().Hooks())-1]
	assert.Contains(t, h.Env, "JUJU_ACTION_NAME=register-user")
	assert.Contains(t, h.Env, "JUJU_HOOK_NAME=")
	assert.Contains(t, h.Env, "JUJU_DISPATCH_PATH=actions/register-user")

	res, err = m.RunAction(testCtx(t), "synapse/0", "register-user", map[string]any{"username": "bad"})
	require.NoError(t, err)
	assert.Equal(t, "failed", res.Status)
	assert.Equal(t, "no such luck", res.Message)

	res, err = m.RunAction(testCtx(t), "synapse/0", "register-user", map[string]any{"username": "crash"})
	require.NoError(t, err)
	assert.Equal(t, "failed", res.Status)
	assert.Equal(t, 2, res.ExitCode)
	assert.Equal(t, map[string]string{"registered": "alice"}, mustUnit(t, m, "synapse/0").State, "a failed action commits nothing")

	_, err = m.RunAction(testCtx(t), "synapse/0", "no-such-action", nil)
	assert.Error(t, err)
}

func TestHostsFile(t *testing.T) {
	m := newModel(t, quietCharm, Options{ModelName: "matrix"})
	deploy(t, m, 2)
	data, err := os.ReadFile(m.HostsFile())
	require.NoError(t, err)
	u1 := mustUnit(t, m, "synapse/1")
	assert.Contains(t, string(data), "127.0.0.1\tlocalhost\n")
	assert.Contains(t, string(data), u1.Address+"\tsynapse-1.synapse-endpoints.matrix.svc.cluster.local synapse-1.synapse-endpoints.matrix.svc synapse-1.synapse-endpoints.matrix synapse-1.synapse-endpoints\n")
	assert.Equal(t, "synapse-1.synapse-endpoints.matrix.svc.cluster.local", u1.FQDN)
	st, err := os.Stat(m.HostsFile())
	require.NoError(t, err)
	require.NoError(t, m.Scale(testCtx(t), 3))
	st2, err := os.Stat(m.HostsFile())
	require.NoError(t, err)
	assert.True(t, os.SameFile(st, st2), "rewritten in place (the same inode stays bind-mounted)")
}

func TestParallelModelsGetDistinctAddresses(t *testing.T) {
	a := newModel(t, quietCharm, Options{})
	b := newModel(t, quietCharm, Options{})
	deploy(t, a, 1)
	deploy(t, b, 1)
	assert.NotEqual(t, mustUnit(t, a, "synapse/0").Address, mustUnit(t, b, "synapse/0").Address)
}
