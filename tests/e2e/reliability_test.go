package e2e

// Reliability on the bed: every hook run twice changes nothing the second
// time; the deployment converges and keeps every acknowledged message
// through dependency outages, pod loss, leader changes and failing hook
// tools; no secret value reaches anything Juju records.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// as makes d's helpers report to t (a subtest) until the returned function
// is called: require must fail the goroutine of the test that calls it.
func (d *deployment) as(t testing.TB) func() {
	prev := d.t
	d.t = t
	return func() { d.t = prev }
}

// hookKind is one kind of hook a test can make the simulator fire.
type hookKind struct {
	// name names the subtest; hook is the hook name that must run.
	name, hook string
	// fire queues the hook (round is 1 or 2; some triggers need a value
	// that differs between rounds).
	fire func(t *testing.T, round int)
}

// tappedCluster deploys one unit, integrates PostgreSQL and Redis, scales
// to three (asserting that restarted nothing) and integrates S3, each
// provider tapped so that a test can fire its relation-changed.
func tappedCluster(t *testing.T) (*deployment, map[string]*tappedApp) {
	d := newDeployment(t, 1)
	providers := map[string]*tappedApp{
		"database": d.integrateTapped("postgresql"),
		"redis":    d.integrateTapped("redis"),
	}
	before := d.m.PebbleSnapshot(d.ctx)
	require.NoError(t, d.m.Scale(d.ctx, 3))
	d.waitIdle()
	d.requireActive()
	require.Empty(t, sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)), "scaling up restarted a process")
	providers["media"] = d.integrateTapped("s3")
	d.requireActive()
	return d, providers
}

// everyHookTwiceChangesNothing: on a 3-unit deployment with PostgreSQL,
// Redis and S3 (tappedCluster), every hook kind the simulator can fire is
// run, then run again; the second run writes no databag value, pushes no
// file and restarts no process, and every unit stays active with the same
// status. First on TestS3Cluster's deployment.
//
// Hooks that cannot be fired twice on a running unit are not here:
// install, start, storage-attached, leader-settings-changed, the
// relation-created/joined/departed/broken hooks (each happens once per
// unit and relation by definition), stop and remove; nor secret-changed
// for the application's own synapse-secrets, which Juju (and the
// simulator) fires only on consumers, never on the owner's units.
func everyHookTwiceChangesNothing(t *testing.T, d *deployment, providers map[string]*tappedApp) {
	startPlan := d.plan()

	peers, ok := d.m.RelationOn("synapse-peers")
	require.True(t, ok)
	var dbSecret string
	for _, s := range d.m.Secrets() {
		if s.Owner == "postgresql-k8s" && s.Content["password"] != "" {
			dbSecret = s.URI
		}
	}
	require.NotEmpty(t, dbSecret, "the database credentials secret")
	units := []string{"synapse/0", "synapse/1", "synapse/2"}
	checkOf := map[string]string{}
	for _, p := range startPlan.Processes {
		if _, ok := checkOf[p.Unit]; !ok {
			checkOf[p.Unit] = workload.ReadyCheckName(p.Name)
		}
	}
	eachUnit := func(t *testing.T, f func(unit string) error) {
		for _, u := range units {
			require.NoError(t, f(u))
		}
	}
	remoteProbe := func(endpoint string) func(t *testing.T, round int) {
		return func(t *testing.T, round int) {
			providers[endpoint].relation().UpdateAppData(map[string]string{probeKey: fmt.Sprint(round)})
		}
	}
	kinds := []hookKind{
		{"update-status", "update-status", func(t *testing.T, _ int) { d.m.UpdateStatus() }},
		// Juju fires config-changed when any option is set or reset; setting
		// report_stats to its default and resetting it changes no value the
		// charm reads.
		{"config-changed", "config-changed", func(t *testing.T, _ int) {
			require.NoError(t, d.m.ConfigSet(map[string]string{"report_stats": "false"}))
			require.NoError(t, d.m.ConfigReset("report_stats"))
		}},
		// A leader flap: leadership to synapse/1 and back to synapse/0.
		{"leader-elected", "leader-elected", func(t *testing.T, _ int) {
			require.NoError(t, d.m.SetLeader("synapse/1"))
			require.NoError(t, d.m.WaitIdle(d.ctx))
			require.NoError(t, d.m.SetLeader("synapse/0"))
		}},
		// A peer writes a key no one reads (as another charm revision might).
		{"peer-relation-changed", "synapse-peers-relation-changed", func(t *testing.T, round int) {
			res, err := d.m.Exec(d.ctx, "synapse/2", sim.ExecOptions{Command: []string{
				"relation-set", "-r", fmt.Sprintf("synapse-peers:%d", peers.ID), fmt.Sprintf("%s=%d", probeKey, round)}})
			require.NoError(t, err)
			require.Equal(t, 0, res.Code, res.Stderr)
		}},
		// The providers write a key the charm does not read.
		{"database-relation-changed", "database-relation-changed", remoteProbe("database")},
		{"redis-relation-changed", "redis-relation-changed", remoteProbe("redis")},
		{"media-relation-changed", "media-relation-changed", remoteProbe("media")},
		{"synapse-pebble-ready", "synapse-pebble-ready", func(t *testing.T, _ int) {
			eachUnit(t, func(u string) error { return d.m.PebbleReady(u, "synapse") })
		}},
		{"synapse-nginx-pebble-ready", "synapse-nginx-pebble-ready", func(t *testing.T, _ int) {
			eachUnit(t, func(u string) error { return d.m.PebbleReady(u, workload.NginxContainer) })
		}},
		// A check that failed and recovered again before the hook ran: the
		// charm must look at the real state, not the event.
		{"synapse-pebble-check-failed", "synapse-pebble-check-failed", func(t *testing.T, _ int) {
			eachUnit(t, func(u string) error { return d.m.PebbleCheckFailed(u, "synapse", checkOf[u]) })
		}},
		{"synapse-pebble-check-recovered", "synapse-pebble-check-recovered", func(t *testing.T, _ int) {
			eachUnit(t, func(u string) error { return d.m.PebbleCheckRecovered(u, "synapse", checkOf[u]) })
		}},
		{"synapse-pebble-custom-notice", "synapse-pebble-custom-notice", func(t *testing.T, _ int) {
			eachUnit(t, func(u string) error { return d.m.PebbleCustomNotice(u, "synapse", "synapse.test/probe") })
		}},
		// Same content: the owner (postgresql-k8s) touched the secret.
		{"secret-changed-database", "secret-changed", func(t *testing.T, _ int) {
			require.NoError(t, d.m.SecretChanged(dbSecret))
		}},
	}
	ignoreProbe := func(key string) bool { return strings.HasSuffix(key, " "+probeKey) }
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			defer d.as(t)()
			first := len(d.m.Recorder().Hooks())
			k.fire(t, 1)
			require.NoError(t, d.m.WaitIdle(d.ctx))
			require.True(t, ranHook(d.m.Recorder().HooksSince(first), k.hook), "the first %s did not run: %v", k.hook, d.m.Recorder().HooksSince(first))
			require.True(t, d.allActive(), "after the first %s: %s", k.hook, d.statuses())

			// The mark: everything the charm controls.
			rec := d.m.Recorder()
			mark, writesMark, toolsMark := len(rec.Hooks()), len(rec.BagWrites()), len(rec.ToolCalls())
			bags, files := d.bagState(), d.renderedFiles()
			snap, services, statuses := d.m.PebbleSnapshot(d.ctx), d.services(), d.requireActive()

			k.fire(t, 2)
			require.NoError(t, d.m.WaitIdle(d.ctx))

			hooks := rec.HooksSince(mark)
			require.True(t, ranHook(hooks, k.hook), "the second %s did not run: %v", k.hook, hooks)
			for _, h := range hooks {
				assert.Equal(t, 0, h.ExitCode, "%s failed:\n%s", h, h.Output)
				for _, line := range strings.Split(h.Output, "\n") {
					assert.NotContains(t, line, "applied ", "%s changed the workload the second time", h)
					assert.NotContains(t, line, "published plan", "%s published a plan the second time", h)
				}
			}
			assert.Empty(t, diffState(bags, d.bagState(), ignoreProbe), "databags changed by the second %s:\n%s", k.hook, hookSummary(hooks))
			assert.Empty(t, diffFiles(files, d.renderedFiles()), "files pushed by the second %s:\n%s", k.hook, hookSummary(hooks))
			assert.Empty(t, sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)), "processes restarted by the second %s", k.hook)
			assert.Equal(t, services, d.services(), "services changed by the second %s", k.hook)
			for _, u := range d.m.Units() {
				assert.Equal(t, "active", u.WorkloadStatus.Status, "%s: %s", u.Name, u.WorkloadStatus.Message)
				assert.Equal(t, statuses[u.Name], u.WorkloadStatus.Message, "%s status message", u.Name)
			}
			redundant := 0
			for _, w := range rec.BagWrites()[writesMark:] {
				if strings.HasPrefix(w.Unit, d.m.App()+"/") && w.Hook != "" && w.Key != probeKey {
					redundant++
				}
			}
			t.Logf("second %s: %d hooks, %d hook-tool calls, %d relation-set keys rewritten with their current value",
				k.hook, len(hooks), len(rec.ToolCalls())-toolsMark, redundant)
		})
	}
	end := d.plan()
	assert.Equal(t, startPlan, end, "the plan after every hook kind twice")
}

// ranHook reports whether a hook of that name is among hooks.
func ranHook(hooks []sim.HookRecord, name string) bool {
	for _, h := range hooks {
		if h.Kind == "hook" && h.Hook == name {
			return true
		}
	}
	return false
}

// traffic is two users in one room, registered through different units,
// and every message the homeserver acknowledged.
type traffic struct {
	d          *deployment
	alice, bob *matrix.Client
	room       string
	acked      []string
	seq        int
}

func newTraffic(d *deployment) *traffic {
	d.t.Helper()
	tr := &traffic{d: d, alice: d.registerUser("synapse/1", "alice"), bob: d.registerUser("synapse/2", "bob")}
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	var err error
	tr.room, err = tr.alice.CreateRoom(ctx, tr.bob.UserID)
	require.NoError(d.t, err)
	require.NoError(d.t, tr.bob.Join(ctx, tr.room))
	return tr
}

// send sends text as alice through unit until the homeserver acknowledges
// it (one transaction id: retries are deduplicated), within two minutes.
func (tr *traffic) send(t testing.TB, unit, text string) {
	t.Helper()
	tr.seq++
	txn := fmt.Sprintf("rel%d-%d", time.Now().UnixNano(), tr.seq)
	c := tr.alice.WithBase(tr.d.nginx(unit))
	err := eventually(tr.d.ctx, 2*time.Minute, time.Second, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := sendTxn(ctx, c, tr.room, txn, text)
		return err
	})
	require.NoError(t, err, "send %q through %s", text, unit)
	tr.acked = append(tr.acked, text)
}

// trySend sends once, with a short timeout, and records the message if it
// was acknowledged.
func (tr *traffic) trySend(unit, text string, timeout time.Duration) error {
	tr.seq++
	ctx, cancel := context.WithTimeout(tr.d.ctx, timeout)
	defer cancel()
	_, err := sendTxn(ctx, tr.alice.WithBase(tr.d.nginx(unit)), tr.room, fmt.Sprintf("rel%d-%d", time.Now().UnixNano(), tr.seq), text)
	if err == nil {
		tr.acked = append(tr.acked, text)
	}
	return err
}

// check asserts what a user sees: every acknowledged message reads back
// through every unit, and a message sent through each unit reaches a sync
// through the next one (which needs replication between the processes,
// over Redis).
func (tr *traffic) check(t testing.TB, label string) {
	t.Helper()
	var units []string
	for _, u := range tr.d.m.Units() {
		units = append(units, u.Name)
	}
	for _, u := range units {
		c := tr.bob.WithBase(tr.d.nginx(u))
		err := eventually(tr.d.ctx, 2*time.Minute, time.Second, func(ctx context.Context) error {
			texts, err := roomTexts(ctx, c, tr.room)
			if err != nil {
				return err
			}
			if m := missing(tr.acked, texts); len(m) > 0 {
				return fmt.Errorf("acknowledged messages missing: %q", m)
			}
			return nil
		})
		require.NoError(t, err, "%s: reading the room's history back through %s", label, u)
	}
	for i, u := range units {
		to := units[(i+1)%len(units)]
		text := fmt.Sprintf("%s: sent through %s, read through %s", label, u, to)
		tr.send(t, u, text)
		reader := tr.bob.WithBase(tr.d.nginx(to))
		err := eventually(tr.d.ctx, 2*time.Minute, time.Second, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return reader.WaitForMessage(ctx, tr.room, text)
		})
		require.NoError(t, err, "%s: a message sent through %s never reached a sync through %s", label, u, to)
	}
}

// settle is how every fault scenario ends: the deployment converges (all
// units active), Matrix traffic works through every unit and every
// message acknowledged before (and during) the fault reads back, each unit
// runs exactly what the plan gives it, and every process answers /health.
func (d *deployment) settle(t testing.TB, tr *traffic, label string) {
	t.Helper()
	d.converge(5 * time.Minute)
	tr.check(t, label)
	d.converge(2 * time.Minute)
	assert.Equal(t, planServices(d.plan()), d.services(), "%s: each unit runs what the plan gives it", label)
	d.processHealth()
}

// withoutUnitContainer drops the restarts of one container (one that the
// scenario restarted on purpose).
func withoutUnitContainer(restarts map[string]int, unit, container string) map[string]int {
	out := map[string]int{}
	for k, v := range restarts {
		if !strings.HasPrefix(k, unit+"/"+container+"/") {
			out[k] = v
		}
	}
	return out
}

// waitForHook polls the recorder (every 20 ms, within timeout) for a hook
// after mark that match accepts, and returns it.
func waitForHook(t testing.TB, m *sim.Model, mark int, timeout time.Duration, what string, match func(sim.HookRecord) bool) sim.HookRecord {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, h := range m.Recorder().HooksSince(mark) {
			if match(h) {
				return h
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no hook %s within %s; hooks: %v", what, timeout, m.Recorder().HooksSince(mark))
	return sim.HookRecord{}
}

// waitIdleAsync runs WaitIdle in the background; the result says whether
// it ended idle (nil), with hooks that kept failing (*sim.HookError, which
// converge then retries), or otherwise.
func (d *deployment) waitIdleAsync() <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.m.WaitIdle(d.ctx) }()
	return done
}

func requireIdleOrHookError(t testing.TB, err error) {
	t.Helper()
	var he *sim.HookError
	if errors.As(err, &he) {
		t.Logf("hooks failed during the fault (Juju retries them; converge does too): %s", he)
		return
	}
	require.NoError(t, err)
}

// TestFaults: on a 3-unit deployment with PostgreSQL and Redis, each fault
// ends with the deployment converged, Matrix traffic working through every
// unit, and every message acknowledged before the fault read back. The
// faults a deployment recovers from in place (the main's lost pod among
// them, last) run one after the other on one deployment (each would cost
// a minute of CI to build its own), so each also starts from a deployment
// that came back from the one before, as a real one does; a fault in the
// middle of a scale-up from three units gets its own.
func TestFaults(t *testing.T) {
	t.Run("recovered-in-place", func(t *testing.T) {
		d := scaledToThree(t)
		tr := newTraffic(d)

		// (a) The database restarts under a running cluster: Synapse's
		// connections drop; its pools reconnect.
		t.Run("postgresql-restart", func(t *testing.T) {
			defer d.as(t)()
			tr.send(t, "synapse/1", "before the PostgreSQL restart")
			snap := d.m.PebbleSnapshot(d.ctx)
			require.NoError(t, d.pg.Restart(d.ctx))
			d.settle(t, tr, "after the PostgreSQL restart")
			t.Logf("processes restarted by Pebble after the PostgreSQL restart: %v", sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)))
		})

		// (b) Pebble of a worker unit's synapse container does not answer the
		// charm for a hook (its socket is gone; the processes keep running).
		// The unit must not claim to be active meanwhile, the others are
		// unaffected, traffic through it keeps working, and once Pebble is back
		// nothing restarts.
		t.Run("pebble-unreachable", func(t *testing.T) {
			defer d.as(t)()
			tr.send(t, "synapse/1", "before Pebble became unreachable")
			snap := d.m.PebbleSnapshot(d.ctx)
			mark := len(d.m.Recorder().Hooks())
			sock := filepath.Join(d.unit("synapse/1").ContainersDir, "synapse", "pebble.socket")
			require.NoError(t, os.Rename(sock, sock+".away"))
			back := false
			t.Cleanup(func() {
				if !back {
					os.Rename(sock+".away", sock)
				}
			})
			d.m.UpdateStatus()
			requireIdleOrHookError(t, d.m.WaitIdle(d.ctx))
			u := d.unit("synapse/1")
			t.Logf("with Pebble unreachable: %s", d.statuses())
			t.Logf("synapse/1's hooks:\n%s", hookSummary(onUnit(d.m.Recorder().HooksSince(mark), "synapse/1")))
			assert.NotEqual(t, "active", u.WorkloadStatus.Status, "synapse/1 claims to be active while its Pebble does not answer")
			for _, other := range []string{"synapse/0", "synapse/2"} {
				assert.Equal(t, "active", d.unit(other).WorkloadStatus.Status, "%s: %s", other, d.unit(other).WorkloadStatus.Message)
			}
			require.NoError(t, tr.trySend("synapse/1", "while synapse/1's Pebble was unreachable", 30*time.Second))
			require.NoError(t, os.Rename(sock+".away", sock))
			back = true
			d.settle(t, tr, "after Pebble came back")
			assert.Empty(t, sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)), "processes restarted:\n%s", hookSummary(d.m.Recorder().HooksSince(mark)))
		})

		// (c) Redis, the replication bus, is gone for a while and comes back
		// empty; the workers must find it again.
		t.Run("redis-outage", func(t *testing.T) {
			const outage = 20 * time.Second
			defer d.as(t)()
			tr.send(t, "synapse/1", "before the Redis outage")
			snap := d.m.PebbleSnapshot(d.ctx)
			require.NoError(t, d.redis.Stop())
			stopped := time.Now()
			// While it is down: what a user gets through the main's unit, and
			// what the units say after a hook (informational: the outage is
			// bounded, the test does not wait for anything here).
			ok, failed := 0, 0
			d.m.UpdateStatus()
			requireIdleOrHookError(t, d.m.WaitIdle(d.ctx))
			t.Logf("statuses with Redis down: %s", d.statuses())
			for i := 0; time.Since(stopped) < outage && i < 100; i++ {
				if err := tr.trySend("synapse/0", fmt.Sprintf("during the Redis outage %d", i), 5*time.Second); err != nil {
					failed++
				} else {
					ok++
				}
				time.Sleep(time.Second)
			}
			if rest := outage - time.Since(stopped); rest > 0 {
				time.Sleep(rest)
			}
			t.Logf("during the %s Redis outage: %d sends acknowledged, %d failed", outage, ok, failed)
			// Synapse's /health stays 200 without Redis: the units' Pebble
			// checks on Redis must make them say so instead of active.
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(d.statuses(), "Redis at") {
				require.True(t, time.Now().Before(deadline), "no unit says Redis is away: %s", d.statuses())
				d.m.UpdateStatus()
				requireIdleOrHookError(t, d.m.WaitIdle(d.ctx))
			}
			t.Logf("statuses at the end of the Redis outage: %s", d.statuses())
			require.NoError(t, d.redis.Restart(d.ctx))
			d.settle(t, tr, "after the Redis outage")
			t.Logf("processes restarted after the Redis outage: %v", sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)))
		})

		// (d) A hook tool fails once: the leader's relation-set --app (the plan
		// it publishes for a new unit). The hook exits non-zero, the simulator
		// retries it as Juju does, and the retry completes what the failed run
		// left undone; the failed run's writes are discarded.
		t.Run("hook-tool-fails-once", func(t *testing.T) {
			defer d.as(t)()
			tr.send(t, "synapse/1", "before the failing hook tool")
			snap := d.m.PebbleSnapshot(d.ctx)
			mark := len(d.m.Recorder().Hooks())
			writesMark := len(d.m.Recorder().BagWrites())
			fired, restore := failToolOnce(t, d.m, "relation-set", "synapse/0", "--app")
			require.NoError(t, d.m.Scale(d.ctx, 4))
			requireIdleOrHookError(t, d.m.WaitIdle(d.ctx))
			restore()
			require.True(t, fired(), "the leader never wrote its application bag during the scale-up")
			var failed *sim.HookRecord
			hooks := d.m.Recorder().HooksSince(mark)
			for i, h := range hooks {
				if h.Unit == "synapse/0" && h.ExitCode != 0 {
					failed = &hooks[i]
					break
				}
			}
			require.NotNil(t, failed, "no hook of synapse/0 failed although relation-set did:\n%s", hookSummary(hooks))
			t.Logf("failed: %s (attempt %d): %s", failed, failed.Attempt, tailLines(failed.Output, 5))
			retried := false
			for _, h := range hooks {
				if h.Seq > failed.Seq && h.Unit == failed.Unit && h.Hook == failed.Hook && h.RemoteUnit == failed.RemoteUnit && h.Attempt > failed.Attempt {
					retried = true
					assert.Equal(t, 0, h.ExitCode, "the retry of %s failed:\n%s", h, h.Output)
					break
				}
			}
			assert.True(t, retried, "%s was not retried:\n%s", failed, hookSummary(hooks))
			var discarded int
			for _, w := range d.m.Recorder().BagWrites()[writesMark:] {
				if w.Unit == "synapse/0" && !w.Committed {
					discarded++
				}
			}
			t.Logf("writes of the failed run discarded: %d", discarded)
			d.settle(t, tr, "after the failing hook tool")
			assert.Equal(t, "workers: generic-3", d.unit("synapse/3").WorkloadStatus.Message)
			assert.Empty(t, sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)), "processes restarted:\n%s", hookSummary(hooks))
		})

		// (e) The main unit's pod is lost: both its containers come back
		// with fresh filesystems (storage kept) and a Pebble without
		// layers. The charm re-adds everything on pebble-ready; the other
		// units (three here, after (d)'s scale-up), which reach the main by
		// its stable DNS name, restart nothing.
		t.Run("main-pod-lost", func(t *testing.T) {
			defer d.as(t)()
			tr.send(t, "synapse/1", "before the main's pod was lost")
			plan := d.plan()
			snap := d.m.PebbleSnapshot(d.ctx)
			mark := len(d.m.Recorder().Hooks())
			for _, c := range []string{"synapse", workload.NginxContainer} {
				require.NoError(t, d.m.RestartContainer(d.ctx, plan.Main, c))
			}
			d.settle(t, tr, "after the main's pod was lost")
			assert.Equal(t, plan, d.plan(), "losing the main's pod changes no plan")
			restarts := sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx))
			restarts = withoutUnitContainer(withoutUnitContainer(restarts, plan.Main, "synapse"), plan.Main, workload.NginxContainer)
			assert.Empty(t, restarts, "processes on other units restarted:\n%s", hookSummary(d.m.Recorder().HooksSince(mark)))
		})
	})

	// (f) A worker unit's synapse container restarts while a scale-up's
	// hooks run (after the new unit's first hook): its hooks may fail
	// meanwhile and are retried; it comes back with everything re-added.
	t.Run("container-restart-during-scale-up", func(t *testing.T) {
		d := scaledToThree(t)
		tr := newTraffic(d)
		tr.send(t, "synapse/1", "before the scale-up with a container restart")
		snap := d.m.PebbleSnapshot(d.ctx)
		mark := len(d.m.Recorder().Hooks())
		require.NoError(t, d.m.Scale(d.ctx, 4))
		done := d.waitIdleAsync()
		h := waitForHook(t, d.m, mark, 5*time.Minute, "of synapse/3", func(h sim.HookRecord) bool { return h.Unit == "synapse/3" })
		// Model.RestartContainer waits for WaitIdle to finish; this is the
		// same (a fresh container, then pebble-ready), in the middle.
		require.NoError(t, d.bed.Container("synapse/1", "synapse").Restart(d.ctx))
		require.NoError(t, d.m.PebbleReady("synapse/1", "synapse"))
		t.Logf("restarted synapse/1's synapse container after %q", h)
		requireIdleOrHookError(t, <-done)
		d.settle(t, tr, "after the scale-up with a container restart")
		plan := d.plan()
		assert.Equal(t, "synapse/0", plan.Main)
		assert.Equal(t, "workers: generic-3", d.unit("synapse/3").WorkloadStatus.Message)
		assert.Empty(t, withoutUnitContainer(sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)), "synapse/1", "synapse"),
			"the scale-up restarted a process other than those of the restarted container:\n%s", hookSummary(d.m.Recorder().HooksSince(mark)))
	})

	// (g) Leadership moves to another unit between two hooks of a
	// scale-up: right after the new unit's first hook, before the old
	// leader planned for it.
	t.Run("leader-change-during-scale-up", func(t *testing.T) {
		d := scaledToThree(t)
		tr := newTraffic(d)
		tr.send(t, "synapse/1", "before the scale-up with a leader change")
		oldPlan := d.plan()
		snap := d.m.PebbleSnapshot(d.ctx)
		mark := len(d.m.Recorder().Hooks())
		require.NoError(t, d.m.Scale(d.ctx, 4))
		done := d.waitIdleAsync()
		h := waitForHook(t, d.m, mark, 5*time.Minute, "of synapse/3", func(h sim.HookRecord) bool { return h.Unit == "synapse/3" })
		require.NoError(t, d.m.SetLeader("synapse/1"))
		t.Logf("leadership moved to synapse/1 after %q", h)
		requireIdleOrHookError(t, <-done)
		d.settle(t, tr, "after the scale-up with a leader change")
		plan := d.plan()
		assert.Equal(t, "synapse/1", d.m.Leader())
		assert.Equal(t, oldPlan.Main, plan.Main, "the main is sticky across a leader change")
		assert.Equal(t, "workers: generic-3", d.unit("synapse/3").WorkloadStatus.Message)
		assert.Empty(t, sim.Restarts(snap, d.m.PebbleSnapshot(d.ctx)),
			"a scale-up with a leader change restarted a process:\n%s", hookSummary(d.m.Recorder().HooksSince(mark)))
	})

}

// onUnit keeps the hooks of one unit.
func onUnit(hooks []sim.HookRecord, unit string) []sim.HookRecord {
	var out []sim.HookRecord
	for _, h := range hooks {
		if h.Unit == unit {
			out = append(out, h)
		}
	}
	return out
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// secretValue is one value that must never be exposed.
type secretValue struct{ name, value string }

// recorded is one thing the simulator (or Pebble) keeps where an operator
// can read it.
type recorded struct{ where, text string }

// noSecretLeaks: on a 3-unit deployment with PostgreSQL (credentials
// in a Juju secret), Redis and S3, after register-user, no secret value
// appears in anything recorded: hook-tool argv and stderr, juju-log and
// action-log lines, databag writes, statuses, hook output, the model's
// debug log, Pebble plans, and the rendered configuration files. Secret
// files are mode 0600, the replication secret is set on every process,
// and the replication and metrics endpoints are not reachable through
// nginx. On TestS3Cluster's deployment: everything recorded before it
// (the S3 media flow) is scanned too.
func noSecretLeaks(t *testing.T, d *deployment) {
	// A generated password (a new name per run: a run that timed out may
	// still have registered its user, see registerUser).
	var generated string
	for attempt := 1; attempt <= 6 && generated == ""; attempt++ {
		res, err := d.m.RunAction(d.ctx, "synapse/1", "register-user", map[string]any{"username": fmt.Sprintf("alice%d", attempt), "admin": true})
		require.NoError(t, err)
		if res.Status != "completed" {
			t.Logf("register-user alice%d failed: %s", attempt, res.Message)
			continue
		}
		generated, _ = res.Results["user-password"].(string)
		require.NotEmpty(t, generated, "register-user returned no user-password")
	}
	require.NotEmpty(t, generated, "register-user with a generated password kept failing")
	// An operator-chosen password is never echoed back at all.
	chosen := "chosen-" + fmt.Sprint(time.Now().UnixNano())
	d.registerWithPassword("synapse/2", "bob", chosen, false)
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	d.m.UpdateStatus()
	d.waitIdle()

	var secrets []secretValue
	add := func(name, value string) {
		require.GreaterOrEqual(t, len(value), 8, "%s is too short to scan for", name)
		secrets = append(secrets, secretValue{name, value})
	}
	var replication string
	for _, s := range d.m.Secrets() {
		switch {
		case s.Label == "synapse-secrets":
			for k, v := range s.Content {
				add("synapse-secrets "+k, v)
				if k == "signing-key" {
					f := strings.Fields(v)
					require.Len(t, f, 3)
					add("signing key seed", f[2])
				}
				if k == "worker-replication-secret" {
					replication = v
				}
			}
		case s.Owner == "postgresql-k8s" && s.Content["password"] != "":
			add("database password", s.Content["password"])
		}
	}
	require.NotEmpty(t, replication, "the synapse-secrets secret with its replication secret")
	require.True(t, hasSecret(secrets, "database password"), "the database credentials secret")
	add("S3 secret key", d.s3.SecretKey())
	add("bob's chosen password", chosen)

	var texts []recorded
	rec := d.m.Recorder()
	for _, h := range rec.Hooks() {
		texts = append(texts, recorded{fmt.Sprintf("output of %s", h), h.Output})
	}
	for _, tc := range rec.ToolCalls() {
		where := fmt.Sprintf("argv of %s in %s on %s", tc.Tool, tc.Hook, tc.Unit)
		text := tc.Tool + " " + strings.Join(tc.Args, " ")
		if tc.Tool == "action-set" && tc.Hook == "register-user" {
			// Juju's action-set takes its results only as argv: the password
			// register-user generated for the user (not an application
			// secret) has to travel there. Only that value is allowed, only
			// there.
			text = strings.ReplaceAll(text, generated, "<generated user password>")
		}
		texts = append(texts, recorded{where, text}, recorded{"stderr of " + where, tc.Stderr})
	}
	for _, l := range rec.Logs() {
		texts = append(texts, recorded{fmt.Sprintf("%s line of %s on %s", l.Level, l.Hook, l.Unit), l.Message})
	}
	for _, w := range rec.BagWrites() {
		if w.Hook == "(simulated)" {
			// A provider's own writes: s3-integrator (track 1) puts the S3
			// keys in its application bag; that is its contract, not ours.
			continue
		}
		texts = append(texts, recorded{fmt.Sprintf("bag write %s in %s by %s", w.Key, w.Hook, w.Unit), w.Key + "=" + w.Value})
	}
	for _, s := range rec.Statuses() {
		texts = append(texts, recorded{fmt.Sprintf("status of %s in %s", s.Unit, s.Hook), s.Status + ": " + s.Message})
	}
	debugLog, err := os.ReadFile(d.m.DebugLog())
	require.NoError(t, err)
	texts = append(texts, recorded{"the model's debug log", string(debugLog)})
	for _, u := range d.m.Units() {
		for _, cname := range []string{"synapse", workload.NginxContainer} {
			plan, err := d.bed.Container(u.Name, cname).Client().PlanBytes(nil)
			require.NoError(t, err)
			texts = append(texts, recorded{fmt.Sprintf("Pebble plan of %s %s", u.Name, cname), string(plan)})
		}
		root := u.StorageDirs["data"]
		files, err := filepath.Glob(filepath.Join(root, "*.yaml"))
		require.NoError(t, err)
		workers, err := filepath.Glob(filepath.Join(root, "workers", "*.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range append(files, workers...) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			rel, _ := filepath.Rel(root, f)
			texts = append(texts, recorded{fmt.Sprintf("/data/%s on %s", rel, u.Name), string(data)})
		}
	}
	// Positive controls: the scan sees argv (the generated password is in
	// register-user's action-set) and the S3 key is the one the provider
	// handed over (in its own bag).
	inActionSet, inProviderBag := false, false
	for _, tc := range rec.ToolCalls() {
		inActionSet = inActionSet || (tc.Tool == "action-set" && strings.Contains(strings.Join(tc.Args, " "), generated))
	}
	for _, w := range rec.BagWrites() {
		inProviderBag = inProviderBag || (w.Hook == "(simulated)" && w.Value == d.s3.SecretKey())
	}
	require.True(t, inActionSet, "register-user's action-set argv carries the generated password")
	require.True(t, inProviderBag, "s3-integrator's bag carries the S3 secret key")

	scanned := 0
	for _, r := range texts {
		scanned += len(r.text)
		for _, s := range secrets {
			if i := strings.Index(r.text, s.value); i >= 0 {
				from, to := max(0, i-60), min(len(r.text), i+len(s.value)+60)
				around := strings.ReplaceAll(r.text[from:to], s.value, "<"+s.name+">")
				t.Errorf("%s leaked in %s: ...%s...", s.name, r.where, around)
			}
		}
		if strings.Contains(r.text, generated) {
			t.Errorf("the generated user password leaked in %s", r.where)
		}
	}
	t.Logf("scanned %d recorded texts (%d bytes) for %d secret values", len(texts), scanned, len(secrets))

	// Secret files: mode 0600; the replication secret on every unit.
	for _, u := range d.m.Units() {
		dir := filepath.Join(u.StorageDirs["data"], "secrets")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		names := map[string]bool{}
		for _, e := range entries {
			fi, err := e.Info()
			require.NoError(t, err)
			names[e.Name()] = true
			if !fi.Mode().IsRegular() {
				continue
			}
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "%s: /data/secrets/%s", u.Name, e.Name())
		}
		for _, want := range []string{"signing.key", "macaroon", "registration", "form", "replication", "pgpass", "aws-credentials"} {
			assert.True(t, names[want], "%s: /data/secrets/%s missing (have %v)", u.Name, want, names)
		}
		data, err := os.ReadFile(filepath.Join(dir, "replication"))
		require.NoError(t, err)
		assert.Equal(t, replication, strings.TrimSpace(string(data)), "%s: the replication secret file", u.Name)
		hs, err := os.ReadFile(filepath.Join(u.StorageDirs["data"], "homeserver.yaml"))
		require.NoError(t, err)
		assert.Contains(t, string(hs), "worker_replication_secret_path: "+workload.ReplicationPath, "%s: homeserver.yaml", u.Name)
	}

	// Replication and metrics are not reachable through any unit's nginx.
	httpc := &http.Client{Timeout: 10 * time.Second}
	for _, u := range d.m.Units() {
		for _, path := range []string{
			"/_synapse/replication/get_repl_stream_updates/events",
			"/_synapse/replication/send_event/x/y",
			"/_synapse/metrics",
		} {
			for _, method := range []string{"GET", "POST"} {
				req, err := http.NewRequestWithContext(ctx, method, d.nginx(u.Name)+path, nil)
				require.NoError(t, err)
				resp, err := httpc.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s through %s's nginx", method, path, u.Name)
			}
		}
	}
}

func hasSecret(list []secretValue, name string) bool {
	for _, s := range list {
		if s.name == name {
			return true
		}
	}
	return false
}
