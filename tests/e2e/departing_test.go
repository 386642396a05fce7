package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// TestDepartingLeaderKeepsMain (issue 20): scale 2 -> 1 while the
// departing unit, synapse/1, is the leader and keeps leadership through
// its teardown as Juju does: synapse/0, the main, keeps serving Matrix
// through its nginx all along, restarts nothing, and no plan ever
// published names synapse/1 as the main.
func TestDepartingLeaderKeepsMain(t *testing.T) {
	d := newDeployment(t, 2, func(o *sim.Options) { o.TeardownKeepsLeader = true })
	// The singletons stay on the main: synapse/1 runs generic-1 only, so
	// its leaving moves no slot onto synapse/0 (a slot moving back onto
	// the main's unit restarts the main: a separate matter).
	require.NoError(t, d.m.ConfigSet(map[string]string{"keep_singletons_on_main": "true"}))
	d.waitIdle()
	d.integrate("postgresql")
	d.integrate("redis")
	d.requireActive()
	require.Equal(t, "synapse/0", d.plan().Main)
	alice := d.register("synapse/0", "alice")
	require.NoError(t, d.m.SetLeader("synapse/1"))
	d.waitIdle()
	d.requireActive()
	before := d.m.PebbleSnapshot(d.ctx)
	mark := len(d.m.Recorder().Hooks())

	probe := startProbe(d.ctx, alice)
	start := time.Now()
	require.NoError(t, d.m.Scale(d.ctx, 1))
	d.waitIdle()
	took := time.Since(start)
	requests, failures := probe.stop()
	t.Logf("scale 2->1 with the departing leader: %s, %d requests through synapse/0's nginx", took, requests)
	assert.Empty(t, failures, "Matrix requests through synapse/0's nginx failed while synapse/1 left")
	assert.Positive(t, requests)

	var teardown []string
	for _, h := range d.m.Recorder().HooksSince(mark) {
		if h.Unit == "synapse/1" && h.Hook != "" {
			teardown = append(teardown, h.Hook)
		}
	}
	assert.Equal(t, []string{"data-storage-detaching", "database-relation-departed", "database-relation-broken", "redis-relation-departed", "redis-relation-broken", "synapse-peers-relation-departed", "stop", "remove"}, teardown, "the teardown order of Juju 3.6's uniter (relation/resolver.go: other relations first, each departed then broken; the peer relation last, never broken)")
	assert.Equal(t, "synapse/0", d.m.Leader())
	for _, p := range publishedPlans(t, d.m) {
		assert.NotEqual(t, "synapse/1", p.plan.Main, "%s in %s published plan %d naming synapse/1 as the main", p.unit, p.hook, p.plan.Generation)
	}
	for unit, n := range sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)) {
		assert.False(t, strings.HasPrefix(unit, "synapse/0/"), "%s restarted %d times", unit, n)
	}
	msgs := d.requireActive()
	assert.True(t, strings.HasPrefix(msgs["synapse/0"], "main"), msgs["synapse/0"])
	plan := d.plan()
	assert.Equal(t, "synapse/0", plan.Main)
	assert.Equal(t, planServices(plan), d.services(), "synapse/0 runs what the plan gives it")
	d.processHealth()
}

// TestDepartingPeerLostDroppedByUpdateStatus (issue 20): the unit
// that stays never receives relation-departed for the unit that left
// (seen on Juju 4.0); goal-state no longer lists it, so the leader drops
// it by its next update-status and settles active. Run as Juju 3.6 and
// as Juju 4.0 plays it.
func TestDepartingPeerLostDroppedByUpdateStatus(t *testing.T) {
	for _, juju := range []sim.Juju{sim.Juju36, sim.Juju40} {
		t.Run(juju.String(), func(t *testing.T) {
			d := newDeployment(t, 2, func(o *sim.Options) { o.LoseDeparted, o.Juju = true, juju })
			d.integrate("postgresql")
			d.integrate("redis")
			d.requireActive()
			require.True(t, planNames(d.plan(), "synapse/1"))
			mark := len(d.m.Recorder().Hooks())
			require.NoError(t, d.m.Scale(d.ctx, 1))
			d.waitIdle()
			for _, h := range d.m.Recorder().HooksSince(mark) {
				assert.False(t, h.Unit == "synapse/0" && strings.HasSuffix(h.Hook, "-relation-departed"), "the fault delivered %s", h.String())
			}

			d.m.UpdateStatus()
			d.waitIdle()
			plan := d.plan()
			assert.False(t, planNames(plan, "synapse/1"), "plan %d still names synapse/1 after update-status: %+v", plan.Generation, plan)
			assert.Equal(t, "synapse/0", plan.Main)
			msgs := d.requireActive()
			t.Logf("after update-status: plan %d, status %q", plan.Generation, msgs["synapse/0"])
			assert.Equal(t, planServices(plan), d.services())
			d.processHealth()
			smoke(t, d.ctx, d.register("synapse/0", "bob"))
		})
	}
}

// planNames reports whether a plan gives unit the main or any process.
func planNames(p topology.Plan, unit string) bool {
	if p.Main == unit {
		return true
	}
	for _, proc := range p.Processes {
		if proc.Unit == unit {
			return true
		}
	}
	return false
}

// publishedPlan is one plan a leader wrote to the peer application bag.
type publishedPlan struct {
	unit, hook string
	plan       topology.Plan
}

// publishedPlans decodes every plan written to the peer application bag,
// committed or not.
func publishedPlans(t *testing.T, m *sim.Model) []publishedPlan {
	t.Helper()
	var out []publishedPlan
	for _, w := range m.Recorder().BagWrites() {
		if w.Bag != "synapse" || w.Key != "plan" || w.Value == "" {
			continue
		}
		p, err := topology.Decode(w.Value)
		require.NoError(t, err, "plan written by %s in %s", w.Unit, w.Hook)
		out = append(out, publishedPlan{unit: w.Unit, hook: w.Hook, plan: *p})
	}
	require.NotEmpty(t, out)
	return out
}

// probe sends Matrix requests through one client until stopped.
type probe struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	requests int
	failures []string
}

func startProbe(ctx context.Context, c *matrix.Client) *probe {
	ctx, cancel := context.WithCancel(ctx)
	p := &probe{cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for ctx.Err() == nil {
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := c.Sync(rctx, "", 0)
			rcancel()
			p.mu.Lock()
			if ctx.Err() == nil {
				p.requests++
				if err != nil {
					p.failures = append(p.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
				}
			}
			p.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return p
}

// stop ends the probe and returns how many requests it sent and the
// failures.
func (p *probe) stop() (int, []string) {
	p.cancel()
	p.wg.Wait()
	return p.requests, p.failures
}
