package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// TestJuju40ScaleLeaderChangeAndMainLoss (issue 20) runs, on one
// deployment with the simulator playing Juju 4.0 (its hook orders, no
// leader-settings-changed, a departing leader keeping the lease through
// its teardown, network-get's service ingress address, closed action
// parameters), what scale_test.go and departing_test.go check on 3.6:
//
//  1. deploy 1, PostgreSQL and Redis, scale to 3: all active, every process
//     healthy, nothing that ran before restarted;
//  2. a leader change (to synapse/2): the plan is kept, nothing restarts;
//  3. scale 3 -> 2 while the departing synapse/2 is the leader: synapse/0,
//     the main, keeps serving through its nginx, restarts nothing, and no
//     plan names synapse/2 as the main;
//  4. the main (synapse/0, leader again) leaves: the departing unit plans
//     nothing, synapse/1 becomes leader and main, and the messages sent
//     before are read through it.
func TestJuju40ScaleLeaderChangeAndMainLoss(t *testing.T) {
	d := newDeployment(t, 1, func(o *sim.Options) { o.Juju = sim.Juju40 })
	// Singletons stay on the main, so a worker unit leaving moves no slot
	// onto the main's unit (a separate matter: see departing_test.go).
	require.NoError(t, d.m.ConfigSet(map[string]string{"keep_singletons_on_main": "true"}))
	d.waitIdle()
	first := d.m.Recorder().HookNames("synapse/0")
	require.GreaterOrEqual(t, len(first), 8)
	assert.Equal(t, []string{"install", "synapse-peers-relation-created", "leader-elected", "synapse-pebble-ready",
		"synapse-nginx-pebble-ready", "data-storage-attached", "config-changed", "start"}, first[:8],
		"the first unit sees its containers and storage before config-changed, as on Juju 4.0")
	require.NotEqual(t, d.m.ServiceAddress(), d.unit("synapse/0").Address)

	// 1. Scale 1 -> 3.
	d.integrate("postgresql")
	d.integrate("redis")
	d.requireActive()
	before := d.m.PebbleSnapshot(d.ctx)
	mark := len(d.m.Recorder().Hooks())
	require.NoError(t, d.m.Scale(d.ctx, 3))
	d.waitIdle()
	msgs := d.requireActive()
	assert.Empty(t, sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)), "scaling up restarted a process that existed before")
	assert.True(t, strings.HasPrefix(msgs["synapse/0"], "main"), msgs["synapse/0"])
	s2 := unitHookKinds(d.m.Recorder().HooksSince(mark), "synapse/2")
	require.GreaterOrEqual(t, len(s2), 6)
	assert.Equal(t, []string{"install", "synapse-peers-relation-created", "database-relation-created", "redis-relation-created",
		"config-changed", "start"}, s2[:6], "a joining unit starts before its containers are up, as on Juju 4.0")
	d.processHealth()
	assert.Equal(t, planServices(d.plan()), d.services(), "each unit runs exactly what the plan gives it")
	alice := d.register("synapse/0", "alice")
	ctx, cancel := context.WithTimeout(d.ctx, 2*time.Minute)
	defer cancel()
	room, err := alice.CreateRoom(ctx)
	require.NoError(t, err)
	_, err = alice.Send(ctx, room, "before the main left")
	require.NoError(t, err)
	res, err := d.m.RunAction(d.ctx, "synapse/0", "register-user", map[string]any{"username": "bob", "nickname": "b"})
	assert.Error(t, err, "Juju 4 refuses an action parameter the action does not declare: %+v", res)

	// 2. A leader change keeps the plan and restarts nothing.
	plan := d.plan()
	before = d.m.PebbleSnapshot(d.ctx)
	require.NoError(t, d.m.SetLeader("synapse/2"))
	d.waitIdle()
	d.requireActive()
	assert.Equal(t, plan, d.plan(), "a leader change kept the plan")
	assert.Empty(t, sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)), "a leader change restarted nothing")

	// 3. The departing unit is the leader.
	require.Equal(t, "synapse/0", plan.Main)
	before = d.m.PebbleSnapshot(d.ctx)
	mark = len(d.m.Recorder().Hooks())
	probe := startProbe(d.ctx, alice)
	require.NoError(t, d.m.Scale(d.ctx, 2))
	d.waitIdle()
	requests, failures := probe.stop()
	assert.Empty(t, failures, "Matrix requests through synapse/0's nginx failed while the leader left")
	assert.Positive(t, requests)
	assert.Equal(t, []string{"data-storage-detaching",
		"database-relation-departed", "database-relation-broken", "redis-relation-departed", "redis-relation-broken",
		"synapse-peers-relation-departed", "synapse-peers-relation-departed", "stop", "remove"},
		unitHookKinds(d.m.Recorder().HooksSince(mark), "synapse/2"), "the departing leader's teardown")
	assert.Equal(t, "synapse/0", d.m.Leader())
	for _, p := range publishedPlans(t, d.m) {
		assert.NotEqual(t, "synapse/2", p.plan.Main, "%s in %s published plan %d naming synapse/2 as the main", p.unit, p.hook, p.plan.Generation)
	}
	for unit, n := range sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)) {
		assert.False(t, strings.HasPrefix(unit, "synapse/0/"), "%s restarted %d times", unit, n)
	}
	msgs = d.requireActive()
	assert.True(t, strings.HasPrefix(msgs["synapse/0"], "main"), msgs["synapse/0"])
	assert.Equal(t, "synapse/0", d.plan().Main)
	assert.Equal(t, planServices(d.plan()), d.services())

	// 4. The main, now the leader again, leaves.
	old := d.plan()
	writes := len(d.m.Recorder().BagWrites())
	mark = len(d.m.Recorder().Hooks())
	require.NoError(t, d.m.RemoveUnit(d.ctx, "synapse/0"))
	d.waitIdle()
	d.requireActive()
	for _, w := range d.m.Recorder().BagWrites()[writes:] {
		assert.False(t, w.Unit == "synapse/0" && w.Key == "plan", "the departing main planned in %s", w.Hook)
	}
	s1 := unitHookKinds(d.m.Recorder().HooksSince(mark), "synapse/1")
	departed, elected := indexOf(s1, "synapse-peers-relation-departed"), indexOf(s1, "leader-elected")
	assert.True(t, departed >= 0 && elected > departed, "leadership passes once the departing leader is gone: %v", s1)
	plan = d.plan()
	assert.Equal(t, "synapse/1", plan.Main)
	assert.Greater(t, plan.Generation, old.Generation)
	for _, p := range plan.Processes {
		assert.Equal(t, "synapse/1", p.Unit)
	}
	assert.Equal(t, planServices(plan), d.services(), "no stale service remains")
	d.processHealth()
	c := alice.WithBase(d.nginx("synapse/1"))
	require.NoError(t, c.WaitForMessage(ctx, room, "before the main left"))
	_, err = c.Send(ctx, room, "after, through synapse/1")
	require.NoError(t, err)
	for _, h := range d.m.Recorder().Hooks() {
		assert.NotEqual(t, "leader-settings-changed", h.Hook, "Juju 4 has no leader-settings-changed")
	}
}

// unitHookKinds lists the hooks (not actions or exec) one unit ran.
func unitHookKinds(hooks []sim.HookRecord, unit string) []string {
	var out []string
	for _, h := range hooks {
		if h.Unit == unit && h.Hook != "" {
			out = append(out, h.Hook)
		}
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
