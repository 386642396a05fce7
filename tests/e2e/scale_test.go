package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// scaledToThree deploys one unit, integrates PostgreSQL and Redis, and
// scales to three, asserting that the scale-up restarted nothing.
func scaledToThree(t *testing.T) *deployment {
	d := newDeployment(t, 1)
	d.integrate("postgresql")
	d.integrate("redis")
	d.requireActive()
	before := d.m.PebbleSnapshot(d.ctx)
	hooksBefore, toolsBefore := d.counters()

	require.NoError(t, d.m.Scale(d.ctx, 3))
	d.waitIdle()
	msgs := d.requireActive()
	after := d.m.PebbleSnapshot(d.ctx)
	assert.Empty(t, sim.Restarts(before, after), "scaling up restarted a process that existed before")
	hooks, tools := d.counters()
	t.Logf("scale 1->3: %d hooks, %d hook-tool calls; statuses %v", hooks-hooksBefore, tools-toolsBefore, msgs)
	assert.True(t, strings.HasPrefix(msgs["synapse/0"], "main"), msgs["synapse/0"])
	assert.Equal(t, "workers: generic-1", msgs["synapse/1"])
	assert.Equal(t, "workers: generic-2", msgs["synapse/2"])
	return d
}

// scaleUpRestartsNothing: deploy 1, integrate PostgreSQL and Redis,
// scale to 3 (scaledToThree): all units active, every process answers
// /health, and a user syncing through unit 2 sees within 2 s a message
// sent through unit 1. Then a leader change keeps the plan and restarts
// nothing. First on TestScaledCluster's deployment.
func scaleUpRestartsNothing(t *testing.T, d *deployment) {
	d.processHealth()
	assert.Equal(t, planServices(d.plan()), d.services(), "each unit runs exactly what the plan gives it")

	sender := d.register("synapse/1", "alice")
	reader := d.register("synapse/2", "bob")
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	room, err := sender.CreateRoom(ctx, reader.UserID)
	require.NoError(t, err)
	require.NoError(t, reader.Join(ctx, room))
	first, err := reader.Sync(ctx, "", 0)
	require.NoError(t, err)

	// A long-poll through unit 2 wakes up when unit 1 takes the message.
	type result struct {
		got  []string
		took time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		since := first.NextBatch
		for time.Since(start) < 10*time.Second {
			res, err := reader.Sync(ctx, since, 5*time.Second)
			if err != nil {
				done <- result{err: err}
				return
			}
			if msgs := res.Messages(room); len(msgs) > 0 {
				done <- result{got: msgs, took: time.Since(start)}
				return
			}
			since = res.NextBatch
		}
		done <- result{}
	}()
	time.Sleep(300 * time.Millisecond) // let the long-poll reach the worker before sending
	sent := time.Now()
	_, err = sender.Send(ctx, room, "across units")
	require.NoError(t, err)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []string{"across units"}, r.got)
	latency := time.Since(sent)
	t.Logf("message sent through synapse/1 seen through synapse/2 after %s", latency)
	assert.Less(t, latency, 2*time.Second)

	// A leader change keeps the plan and restarts nothing.
	plan := d.plan()
	before := d.m.PebbleSnapshot(d.ctx)
	require.NoError(t, d.m.SetLeader("synapse/2"))
	d.waitIdle()
	d.requireActive()
	assert.Equal(t, plan, d.plan(), "a leader change kept the plan")
	assert.Empty(t, sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)), "a leader change restarted nothing")
}

// mainUnitLeavesNewMainElected: removing the main unit (also the leader)
// of a 3-unit deployment names a new main, moves the departed slots,
// leaves no stale service, and Matrix traffic works again. Destructive:
// last on TestReshapedCluster's deployment.
func mainUnitLeavesNewMainElected(t *testing.T, d *deployment) {
	require.Len(t, d.m.Units(), 3)
	require.Equal(t, "synapse/0", d.plan().Main)
	d.leaderOnMain()
	alice := d.register("synapse/1", "erin")
	ctx, cancel := context.WithTimeout(d.ctx, 2*time.Minute)
	defer cancel()
	room, err := alice.CreateRoom(ctx)
	require.NoError(t, err)
	_, err = alice.Send(ctx, room, "before the main left")
	require.NoError(t, err)
	old := d.plan()

	require.NoError(t, d.m.RemoveUnit(d.ctx, "synapse/0"))
	d.waitIdle()
	d.requireActive()
	plan := d.plan()
	assert.NotEqual(t, "synapse/0", plan.Main)
	assert.Greater(t, plan.Generation, old.Generation)
	// Every worker slot the departed unit ran keeps its name on another
	// unit (the media worker follows the main: media is local).
	var departed []string
	for _, p := range old.OnUnit("synapse/0") {
		if p.Name != "main" {
			departed = append(departed, p.Name)
		}
	}
	require.NotEmpty(t, departed, "the main's unit ran worker slots: %v", old.Processes)
	for _, name := range departed {
		found := false
		for _, p := range plan.Processes {
			if p.Name == name {
				found = true
				assert.NotEqual(t, "synapse/0", p.Unit)
			}
		}
		assert.True(t, found, "slot %s kept its name on another unit", name)
	}
	media := plan.Holders(workload.RoleMedia)
	require.Len(t, media, 1)
	for _, p := range plan.Processes {
		if p.Name == media[0] {
			assert.Equal(t, plan.Main, p.Unit, "the media worker runs beside the local media, on the new main's unit")
		}
	}
	assert.Equal(t, planServices(plan), d.services(), "no stale service remains")
	d.processHealth()

	// Traffic works again through every remaining unit, and nothing sent
	// before the main left is lost.
	for _, unit := range []string{"synapse/1", "synapse/2"} {
		c := alice.WithBase(d.nginx(unit))
		require.NoError(t, c.WaitForMessage(ctx, room, "before the main left"), "through %s", unit)
		_, err := c.Send(ctx, room, "after, through "+unit)
		require.NoError(t, err, "through %s", unit)
	}
}
