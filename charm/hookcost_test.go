package charm_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// pebbleCounter sits in front of a container's Pebble socket, where the
// charm reaches it, and counts the requests that pass.
type pebbleCounter struct {
	mu       sync.Mutex
	requests []string
}

func (pc *pebbleCounter) count() []string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return append([]string(nil), pc.requests...)
}

// countPebble moves the container's socket aside and listens in its place,
// until the test ends.
func countPebble(t *testing.T, sock string, pc *pebbleCounter) {
	t.Helper()
	real := sock + ".real"
	require.NoError(t, os.Rename(sock, real))
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "pebble"})
	proxy.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", real)
	}}
	name := filepath.Base(filepath.Dir(sock))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc.mu.Lock()
		pc.requests = append(pc.requests, name+" "+r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		pc.mu.Unlock()
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = os.Remove(sock)
		_ = os.Rename(real, sock)
	})
}

// TestSettledHookCost: on a settled unit that remembers between hooks, a
// hook that changes nothing asks Juju and Pebble only what may have
// changed: at most 8 hook-tool calls and 8 Pebble requests, no file read
// back, and no status set again.
func TestSettledHookCost(t *testing.T) {
	u := newUnit(t)
	u.stateFile = filepath.Join(u.dir, "state.json")
	u.run("config-changed")
	u.run("update-status")
	since := u.service().CurrentSince
	pc := &pebbleCounter{}
	countPebble(t, filepath.Join(u.dir, "containers", "synapse", "pebble.socket"), pc)
	countPebble(t, filepath.Join(u.dir, "containers", "synapse-nginx", "pebble.socket"), pc)
	for _, hook := range []string{"update-status", "config-changed"} {
		u.mem.ResetCalls()
		before := len(pc.count())
		u.run(hook)
		calls := u.mem.Argv()
		requests := pc.count()[before:]
		t.Logf("%s: %d tool calls %v; %d Pebble requests %v", hook, len(calls), calls, len(requests), requests)
		assert.LessOrEqual(t, len(calls), 8, "%s: tool calls", hook)
		assert.LessOrEqual(t, len(requests), 8, "%s: Pebble requests", hook)
		for _, c := range calls {
			assert.NotContains(t, []string{"relation-ids", "network-get", "status-set", "open-port"}, c[0], "%s asked again", c[0])
		}
		for _, r := range requests {
			assert.NotContains(t, r, "action=read", "a file read back")
		}
		assert.Equal(t, "active", string(u.mem.UnitStatus().Status))
	}
	assert.Equal(t, since, u.service().CurrentSince, "nothing restarted")
}

// TestRememberedFilesRepaired: a file changed behind the charm's back is
// put back within unitstate.MaxAge, and at once when the container
// restarts (another Pebble: nothing remembered is trusted).
func TestRememberedFilesRepaired(t *testing.T) {
	u := newUnit(t)
	u.stateFile = filepath.Join(u.dir, "state.json")
	now := time.Now()
	u.now = func() time.Time { return now }
	u.run("config-changed")
	u.run("update-status") // reads the plan its layer made: now remembered
	want := u.file("/data/log.yaml")
	tamper := func() {
		t.Helper()
		require.NoError(t, u.container.Client().Push(&client.PushOptions{
			Source: strings.NewReader("tampered: true\n"), Path: "/data/log.yaml", Permissions: 0o644}))
	}

	tamper()
	now = now.Add(time.Minute)
	u.run("update-status")
	assert.Equal(t, "tampered: true\n", u.file("/data/log.yaml"), "within the hour the charm trusts what it pushed")
	now = now.Add(time.Hour)
	u.run("update-status")
	assert.Equal(t, want, u.file("/data/log.yaml"), "after an hour the files are compared again")

	// A restarted container has an empty plan: even a hook that runs
	// before its pebble-ready sees another Pebble and trusts nothing.
	tamper()
	require.NoError(t, u.container.Restart(context.Background()))
	u.run("update-status")
	assert.Equal(t, want, u.file("/data/log.yaml"), "a restarted container's files are compared")
	assert.Equal(t, client.StatusActive, u.service().Current, "synapse started again")

	tamper()
	require.NoError(t, u.container.Restart(context.Background()))
	u.runEvent(juju.Event{Name: "synapse-pebble-ready", Unit: "synapse/0", App: "synapse", Model: "test", WorkloadName: "synapse"})
	assert.Equal(t, want, u.file("/data/log.yaml"), "pebble-ready compares the files")
	assert.Equal(t, "active", string(u.mem.UnitStatus().Status), u.mem.UnitStatus().Message)
}

// TestRememberedRelationMembers: relation-list is asked in hooks of its
// relation only, where Juju's answer can change: a peer that joins is read
// from the next hook on, and one that departs no longer is.
func TestRememberedRelationMembers(t *testing.T) {
	u := newUnit(t)
	u.stateFile = filepath.Join(u.dir, "state.json")
	u.run("config-changed")
	u.run("update-status")
	peer := u.mem.RelationIDs(charm.PeerEndpoint)[0]
	reads := func() (lists int, readsPeer bool) {
		t.Helper()
		for _, c := range u.mem.Argv() {
			if c[0] == "relation-list" {
				lists++
			}
			if c[0] == "relation-get" && slices.Contains(c, "synapse/1") {
				readsPeer = true
			}
		}
		return lists, readsPeer
	}
	peerHook := func(kind, unit string) juju.Event {
		ev := juju.Event{Name: charm.PeerEndpoint + "-relation-" + kind, Unit: "synapse/0", App: "synapse", Model: "test",
			RelationName: charm.PeerEndpoint, RelationID: peer, RemoteUnit: unit, RemoteApp: "synapse"}
		if kind == "departed" {
			ev.DepartingUnit = unit
		}
		return ev
	}

	u.mem.ResetCalls()
	u.run("update-status")
	lists, readsPeer := reads()
	assert.Zero(t, lists, "a settled hook asks no relation-list")
	assert.False(t, readsPeer)

	u.mem.AddRelationUnit(peer, "synapse/1")
	u.mem.ResetCalls()
	u.runEvent(peerHook("joined", "synapse/1"))
	lists, readsPeer = reads()
	assert.Equal(t, 1, lists, "relation-joined asks relation-list")
	assert.True(t, readsPeer, "and reads the new peer's bag")
	u.mem.ResetCalls()
	u.run("update-status")
	lists, readsPeer = reads()
	assert.Zero(t, lists)
	assert.True(t, readsPeer, "the next hook still reads the peer that joined")

	u.mem.RemoveRelationUnit(peer, "synapse/1")
	u.runEvent(peerHook("departed", "synapse/1"))
	u.mem.ResetCalls()
	u.run("update-status")
	lists, readsPeer = reads()
	assert.Zero(t, lists)
	assert.False(t, readsPeer, "a departed peer is no longer read")
}

// TestRememberedBagsWrittenOnlyHere: the unit's own bags, and the leader's
// application bags, are read once and then kept up to date with what the
// charm writes. What another leader wrote meanwhile is read again when
// this unit is elected once more.
func TestRememberedBagsWrittenOnlyHere(t *testing.T) {
	u := newUnit(t)
	u.stateFile = filepath.Join(u.dir, "state.json")
	u.run("config-changed")
	db := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	u.runEvent(juju.Event{Name: "database-relation-created", Unit: "synapse/0", App: "synapse", Model: "test",
		RelationName: "database", RelationID: db, RemoteApp: "postgresql-k8s"})
	require.Equal(t, "synapse", u.mem.RelationData(db, "synapse", true)["database"], "the leader asks for its database")
	u.run("update-status")

	reads := func() (own, app int) {
		t.Helper()
		for _, c := range u.mem.Argv() {
			if c[0] != "relation-get" {
				continue
			}
			if slices.Contains(c, "synapse/0") {
				own++
			}
			if slices.Contains(c, db) && slices.Contains(c, "--app") && slices.Contains(c, "synapse") {
				app++
			}
		}
		return own, app
	}
	u.mem.ResetCalls()
	u.run("update-status")
	own, app := reads()
	assert.Zero(t, own, "the unit's own bags are remembered")
	assert.Zero(t, app, "the leader's application bag of the database relation is remembered")

	// Leadership moves away and back; the other leader emptied the bag.
	u.mem.SetLeader(false)
	u.run("update-status")
	u.mem.SetRelationData(db, "synapse", true, map[string]string{})
	u.mem.SetLeader(true)
	u.run("leader-elected")
	assert.Equal(t, "synapse", u.mem.RelationData(db, "synapse", true)["database"], "the new leader read the bag again and asked again")
}
