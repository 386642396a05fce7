package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// TestDataSafetySQLiteMainLeaves: a SQLite monolith with a user, messages
// and media is scaled to 2, then the main's unit (synapse/0, the one whose
// volume holds the database) is removed by name. No request through the
// remaining unit ever meets an empty homeserver (a login of the user fails
// with a 5xx or a refused connection, never "invalid password"), the
// remaining unit runs no Synapse, and its status names the fix. Adding a
// unit again brings synapse/0 back on its old volume (the simulator keeps
// a unit's storage directory, as Kubernetes keeps a StatefulSet's
// PersistentVolumeClaim), and the user, messages and media are served
// again.
func TestDataSafetySQLiteMainLeaves(t *testing.T) {
	start := time.Now()
	d := newDeployment(t, 1)
	d.requireActive()
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Minute)
	defer cancel()

	const password = "alice-password-on-sqlite"
	alice := d.registerWithPassword("synapse/0", "alice", password, false)
	room, err := alice.CreateRoom(ctx)
	require.NoError(t, err)
	texts := []string{"first message on SQLite", "second message on SQLite"}
	for _, text := range texts {
		_, err := alice.Send(ctx, room, text)
		require.NoError(t, err)
	}
	media := []byte("media on the volume of synapse/0")
	mxc, err := alice.Upload(ctx, "sqlite.txt", "text/plain", media)
	require.NoError(t, err)

	require.NoError(t, d.m.Scale(ctx, 2))
	d.waitIdle()
	t.Logf("scaled to 2: %s", d.statuses())
	require.Equal(t, "active", d.unit("synapse/0").WorkloadStatus.Status, "the monolith keeps serving")

	// Probe, through the remaining unit's nginx, for an empty homeserver
	// while the main's unit leaves and the remaining unit reacts.
	probe := startTokenProbe(ctx, alice.WithBase(d.nginx("synapse/1")))
	require.NoError(t, d.m.RemoveUnit(ctx, "synapse/0"))
	d.waitIdle()
	// An update-status is the next hook Juju runs: it must not start an
	// empty server either.
	d.m.UpdateStatus()
	d.waitIdle()
	seen, first := probe.stop()
	t.Logf("alice's token through synapse/1 while and after synapse/0 left: %v; first answers: %q", seen, first)

	st := d.unit("synapse/1").WorkloadStatus
	t.Logf("synapse/1: %s %q", st.Status, st.Message)
	assert.Equal(t, "blocked", st.Status)
	assert.Contains(t, st.Message, "SQLite database is on the volume of synapse/0")
	assert.Contains(t, st.Message, "juju scale-application")
	assert.Empty(t, d.services()["synapse/1"], "no Synapse runs on the unit without the data")
	assert.Zero(t, seen["refused"], "an empty homeserver answered that it does not know the user's token: %v", seen)
	_, err = os.Stat(filepath.Join(d.unit("synapse/1").StorageDirs["data"], "homeserver.db"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "no SQLite database was created on synapse/1 (%v)", err)
	outcome, detail := loginOutcome(ctx, d.nginx("synapse/1"), "alice", password)
	assert.Equal(t, "unavailable", outcome, "a login through synapse/1 now: %s", detail)

	// juju scale-application synapse 2: the StatefulSet recreates pod
	// synapse-0 with its old volume.
	back, err := d.m.AddUnit(ctx)
	require.NoError(t, err)
	require.Equal(t, "synapse/0", back, "the lowest free ordinal, with the old volume")
	d.waitIdle()
	t.Logf("synapse/0 back: %s", d.statuses())
	assert.Equal(t, "active", d.unit("synapse/0").WorkloadStatus.Status, d.unit("synapse/0").WorkloadStatus.Message)
	again := waitLogin(t, ctx, d.nginx("synapse/0"), "alice", password)
	for _, text := range texts {
		require.NoError(t, again.WaitForMessage(ctx, room, text), "the message sent before synapse/0 left")
	}
	got, err := again.Download(ctx, mxc)
	require.NoError(t, err, "the media uploaded before synapse/0 left")
	assert.Equal(t, media, got)
	t.Logf("total %s", time.Since(start).Round(time.Second))
}

// TestGarbagePlanRepairedInOneLeaderHook: a plan that does not parse,
// written into the peer application bag by hand (as another revision or an
// operator's relation-set would), is rebuilt by the leader's next hook
// from the plans the units applied: the same main, the same slots on the
// same units, every unit active again, and not one process restarted.
func TestGarbagePlanRepairedInOneLeaderHook(t *testing.T) {
	start := time.Now()
	d := newDeployment(t, 1)
	d.integrate("postgresql")
	d.integrate("redis")
	require.NoError(t, d.m.Scale(d.ctx, 2))
	d.waitIdle()
	d.requireActive()
	good := d.plan()
	before := d.m.PebbleSnapshot(d.ctx)
	leader := d.m.Leader()
	peers, ok := d.m.RelationOn("synapse-peers")
	require.True(t, ok)

	hookMark, writeMark := len(d.m.Recorder().Hooks()), len(d.m.Recorder().BagWrites())
	const garbage = `{"generation": "not a plan"`
	d.exec(leader, "relation-set", "--app", "-r", fmt.Sprint(peers.ID), "plan="+garbage)
	peers, _ = d.m.RelationOn("synapse-peers")
	require.Equal(t, garbage, peers.AppData["plan"], "the garbage reached the peer bag")
	d.waitIdle()

	hooks := d.m.Recorder().HooksSince(hookMark)
	var leaderHooks []sim.HookRecord
	for _, h := range hooks {
		if h.Unit == leader && h.Kind == "hook" {
			leaderHooks = append(leaderHooks, h)
		}
	}
	require.NotEmpty(t, leaderHooks, "the leader ran a hook after the write:\n%s", hookSummary(hooks))
	first := leaderHooks[0]
	assert.Contains(t, first.Output, "published plan", "the leader's first hook after the write published the repaired plan:\n%s", hookSummary(hooks))
	var rebuilt []sim.LogLine
	for _, l := range d.m.Recorder().Logs() {
		if l.Unit == leader && strings.Contains(l.Message, "rebuilt from the plans the units applied") {
			rebuilt = append(rebuilt, l)
		}
	}
	require.Len(t, rebuilt, 1, "the leader rebuilt the plan once")
	assert.Equal(t, first.Hook, rebuilt[0].Hook)
	var repairs []sim.BagWrite
	for _, w := range d.m.Recorder().BagWrites()[writeMark:] {
		if w.Key == "plan" && w.Committed && w.Value != garbage {
			repairs = append(repairs, w)
		}
	}
	require.Len(t, repairs, 1, "one plan write repaired it:\n%s", hookSummary(hooks))
	assert.Equal(t, leader, repairs[0].Unit)

	repaired := d.plan()
	assert.Equal(t, good.Main, repaired.Main, "the same main")
	assert.Equal(t, slots(good), slots(repaired), "the same slots on the same units")
	assert.Greater(t, repaired.Generation, good.Generation)
	msgs := d.requireActive()
	restarts := sim.Restarts(before, d.m.PebbleSnapshot(d.ctx))
	assert.Empty(t, restarts, "processes restarted:\n%s", hookSummary(hooks))
	t.Logf("plan %d repaired as plan %d in %s's hook %s; %d hooks after the write, restarted %d processes; statuses %v; total %s",
		good.Generation, repaired.Generation, leader, first, len(hooks), len(restarts), msgs, time.Since(start).Round(time.Second))
}

// TestEmptyDatabaseRefused: a homeserver on PostgreSQL with a user loses
// its database relation, and a second, empty PostgreSQL database (another
// postgresql-k8s application) is integrated. The unit blocks naming the
// fix; Synapse is not reconfigured (not restarted) onto the empty
// database, which stays empty; no login is ever answered by an empty
// server; and the user, with the message, is still in the first database.
func TestEmptyDatabaseRefused(t *testing.T) {
	emptyDatabaseRefused(t, "postgresql-second-primary.", []string{"is empty", "integrate the PostgreSQL that holds"})
}

// TestRecreatedDatabaseRefused: the empty database answers under the same
// database name and host as the one the data is in (a PostgreSQL
// application removed and deployed again): the identity inside tells them
// apart, and the unit refuses it the same way.
func TestRecreatedDatabaseRefused(t *testing.T) {
	emptyDatabaseRefused(t, "", []string{"is not the one the homeserver's data is in", "integrate the PostgreSQL that holds it again"})
}

func emptyDatabaseRefused(t *testing.T, hostPrefix string, want []string) {
	start := time.Now()
	d := newDeployment(t, 1)
	d.integrate("postgresql")
	d.requireActive()
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Minute)
	defer cancel()
	const password = "alice-password-on-postgresql"
	alice := d.registerWithPassword("synapse/0", "alice", password, false)
	room, err := alice.CreateRoom(ctx)
	require.NoError(t, err)
	const text = "stored in the first database"
	_, err = alice.Send(ctx, room, text)
	require.NoError(t, err)
	before := d.m.PebbleSnapshot(d.ctx)
	if rel, ok := d.m.RelationOn("synapse-peers"); ok {
		t.Logf("data home: %s", rel.AppData["data-home"])
	}

	probe := startTokenProbe(ctx, alice)
	d.removeRelation("postgresql")
	st := d.unit("synapse/0").WorkloadStatus
	t.Logf("database relation removed: %s %q", st.Status, st.Message)
	outcome, detail := loginOutcome(ctx, d.nginx("synapse/0"), "alice", password)
	t.Logf("a login after the relation (and with it the relation's database user) went: %s %s", outcome, detail)

	second, err := bed.StartPostgres(d.ctx, filepath.Join(d.dir, "pg-second"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Stop() })
	host := ""
	if hostPrefix != "" {
		host = hostPrefix + d.m.Name() + ".svc.cluster.local"
	}
	d.integrateWith("postgresql-second", &sim.PostgreSQL{AppName: "postgresql-second", Server: second, Hostname: host}, "database")
	d.m.UpdateStatus()
	d.waitIdle()
	seen, first := probe.stop()
	t.Logf("alice's token through synapse/0 from the relation's removal on: %v; first answers: %q", seen, first)

	st = d.unit("synapse/0").WorkloadStatus
	t.Logf("empty database integrated: %s %q", st.Status, st.Message)
	assert.Equal(t, "blocked", st.Status)
	for _, w := range want {
		assert.Contains(t, st.Message, w)
	}
	assert.Contains(t, st.Message, "juju remove-relation synapse:database postgresql-second")
	assert.Zero(t, seen["refused"], "an empty homeserver answered that it does not know the user's token: %v", seen)
	outcome, detail = loginOutcome(ctx, d.nginx("synapse/0"), "alice", password)
	assert.NotEqual(t, "refused", outcome, "a login now: %s", detail)
	restarts := sim.Restarts(before, d.m.PebbleSnapshot(d.ctx))
	assert.Empty(t, restarts, "Synapse was not restarted onto the empty database")
	assert.Contains(t, d.services()["synapse/0"], "synapse", "Synapse keeps running on its last configuration")
	tables, err := second.Exec(ctx, "synapse", "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
	require.NoError(t, err)
	assert.Equal(t, "0", strings.TrimSpace(tables), "Synapse never used the empty database")
	users, err := d.pg.Exec(ctx, "synapse", "SELECT name FROM users")
	require.NoError(t, err)
	assert.Contains(t, users, "@alice:test.local", "the user is still in the first database")
	t.Logf("total %s", time.Since(start).Round(time.Second))
}

// slots is each process of a plan with its unit.
func slots(p topology.Plan) map[string]string {
	out := map[string]string{}
	for _, proc := range p.Processes {
		out[proc.Name] = proc.Unit
	}
	return out
}

// loginOutcome logs in once through base: "ok"; "refused" when a server
// answered that the credentials are wrong (an empty homeserver would);
// "unavailable" for a 5xx, a 429 or no answer; "other" for anything else.
func loginOutcome(ctx context.Context, base, user, password string) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := matrix.New(base).Login(ctx, user, password)
	var merr *matrix.Error
	switch {
	case err == nil:
		return "ok", ""
	case errors.As(err, &merr) && (merr.Status >= 500 || merr.Status == http.StatusTooManyRequests):
		// nginx answers 429 (come back later) when no process answers.
		return "unavailable", err.Error()
	case errors.As(err, &merr) && (merr.Status == http.StatusForbidden || strings.Contains(merr.Body, "M_FORBIDDEN")):
		return "refused", err.Error()
	case errors.As(err, &merr):
		return "other", err.Error()
	default:
		return "unavailable", err.Error()
	}
}

// waitLogin logs in through base, retrying until the deadline.
func waitLogin(t *testing.T, ctx context.Context, base, user, password string) *matrix.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		c := matrix.New(base)
		err := c.Login(ctx, user, password)
		if err == nil {
			return c
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never logged in through %s: %v", user, base, err)
		case <-tick.C:
		}
	}
}

// tokenProbe asks, over and over, through one URL, who a logged-in
// user's access token belongs to (not rate-limited, unlike logins),
// counting the outcomes until stopped: "ok"; "refused" when a server
// answered that it does not know the token (an empty homeserver would);
// "unavailable" for a 5xx, a 429 or no answer; "other" for anything else.
type tokenProbe struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	seen   map[string]int
	first  map[string]string
}

func startTokenProbe(ctx context.Context, c *matrix.Client) *tokenProbe {
	ctx, cancel := context.WithCancel(ctx)
	p := &tokenProbe{cancel: cancel, done: make(chan struct{}), seen: map[string]int{}, first: map[string]string{}}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			outcome, detail := whoamiOutcome(ctx, c)
			if ctx.Err() != nil {
				return
			}
			p.mu.Lock()
			p.seen[outcome]++
			if _, ok := p.first[outcome]; !ok {
				p.first[outcome] = detail
			}
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// whoamiOutcome classifies one /account/whoami with the client's token.
func whoamiOutcome(ctx context.Context, c *matrix.Client) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out struct {
		UserID string `json:"user_id"`
	}
	err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/account/whoami", nil, &out)
	var merr *matrix.Error
	switch {
	case err == nil && out.UserID == c.UserID:
		return "ok", ""
	case err == nil:
		return "other", "whoami: " + out.UserID
	case errors.As(err, &merr) && (merr.Status >= 500 || merr.Status == http.StatusTooManyRequests):
		// nginx answers 429 (come back later) when no process answers.
		return "unavailable", err.Error()
	case errors.As(err, &merr) && (merr.Status == http.StatusUnauthorized || merr.Status == http.StatusForbidden):
		return "refused", err.Error()
	case errors.As(err, &merr):
		return "other", err.Error()
	default:
		return "unavailable", err.Error()
	}
}

// stop ends the probe and returns the outcomes counted and the first
// answer of each.
func (p *tokenProbe) stop() (map[string]int, map[string]string) {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen, p.first
}
