package workload_test

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// request is one real client or federation request and the pool that
// Synapse's docs (workers.md, synapse-workers.md §8) name for it.
type request struct {
	method, path string
	want         workload.Pool
}

const (
	mainPool    = workload.PoolMain
	generic     = workload.PoolGeneric
	syncPool    = workload.PoolSync
	initialSync = workload.PoolInitialSync
	fedIn       = workload.PoolFederationInbound
	room        = workload.PoolRoom
	media       = workload.PoolMedia
	never       = workload.PoolNone
)

// realRequests route in a cluster whose workers write no stream with client
// routes (today's role table: only events, written by persisters).
var realRequests = []request{
	// Sync, by user: initial syncs (no since) in their own pool.
	{"GET", "/_matrix/client/v3/sync", initialSync},
	{"GET", "/_matrix/client/v3/sync?timeout=0&filter=1", initialSync},
	{"GET", "/_matrix/client/v3/sync?since=", initialSync},
	{"GET", "/_matrix/client/v3/sync?since=s72_1&timeout=30000", syncPool},
	{"GET", "/_matrix/client/v3/sync?timeout=30000&since=s72_1", syncPool},
	{"GET", "/_matrix/client/r0/sync?since=s1", syncPool},
	{"GET", "/_matrix/client/r0/sync", initialSync},
	{"GET", "/_matrix/client/v3/events", syncPool},
	{"GET", "/_matrix/client/v3/events?from=s1", syncPool},
	{"GET", "/_matrix/client/v3/initialSync", initialSync},
	{"GET", "/_matrix/client/v3/initialSync?since=s1", initialSync},
	{"GET", "/_matrix/client/v3/rooms/!r:s/initialSync", initialSync},
	{"POST", "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", syncPool},
	{"POST", "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?pos=1", syncPool},
	// Event sending and pagination, by room.
	{"PUT", "/_matrix/client/v3/rooms/!a:b/send/m.room.message/1", room},
	{"PUT", "/_matrix/client/v3/rooms/!a:b/state/m.room.name/", room},
	{"PUT", "/_matrix/client/v3/rooms/!a:b/redact/$ev/txn1", room},
	{"POST", "/_matrix/client/v3/rooms/!a:b/join", room},
	{"POST", "/_matrix/client/v3/rooms/!a:b/invite", room},
	{"POST", "/_matrix/client/v3/rooms/!a:b/leave", room},
	{"POST", "/_matrix/client/v3/rooms/!a:b/kick", room},
	{"POST", "/_matrix/client/v3/rooms/!a:b/ban", room},
	{"POST", "/_matrix/client/v3/join/#alias:s", room},
	{"POST", "/_matrix/client/v3/knock/!a:b", room},
	{"PUT", "/_matrix/client/v3/profile/@u:s/displayname", room},
	{"GET", "/_matrix/client/v3/rooms/!r:s/messages", room},
	// Client reads and writes any generic worker serves.
	{"GET", "/_matrix/client/versions", generic},
	{"GET", "/_matrix/client/v3/capabilities", generic},
	{"GET", "/_matrix/client/v3/account/whoami", generic},
	{"POST", "/_matrix/client/v3/createRoom", generic},
	{"GET", "/_matrix/client/v3/publicRooms", generic},
	{"GET", "/_matrix/client/v3/joined_rooms", generic},
	{"GET", "/_matrix/client/v3/rooms/!r:s/state", generic},
	{"GET", "/_matrix/client/v3/rooms/!r:s/members", generic},
	{"GET", "/_matrix/client/v3/rooms/!r:s/joined_members", generic},
	{"GET", "/_matrix/client/v3/rooms/!r:s/context/$ev", generic},
	{"GET", "/_matrix/client/v3/rooms/!r:s/event/$ev", generic},
	{"GET", "/_matrix/client/v1/rooms/!r:s/relations/$ev", generic},
	{"GET", "/_matrix/client/v1/rooms/!r:s/threads", generic},
	{"GET", "/_matrix/client/v1/rooms/!r:s/hierarchy", generic},
	{"GET", "/_matrix/client/v3/rooms/!r:s/aliases", generic},
	{"POST", "/_matrix/client/v3/search", generic},
	{"POST", "/_matrix/client/v3/user_directory/search", generic},
	{"POST", "/_matrix/client/v3/user/@u:s/filter", generic},
	{"GET", "/_matrix/client/v3/user/@u:s/filter/1", generic},
	{"GET", "/_matrix/client/v3/directory/room/#a:s", generic},
	{"GET", "/_matrix/client/v3/voip/turnServer", generic},
	{"GET", "/_matrix/client/v3/notifications", generic},
	{"POST", "/_matrix/client/v3/login", generic},
	{"GET", "/_matrix/client/v3/login", generic},
	{"POST", "/_matrix/client/v3/register", generic},
	{"GET", "/_matrix/client/v3/register/available", generic},
	{"GET", "/_matrix/client/v1/register/m.login.registration_token/validity", generic},
	{"POST", "/_matrix/client/v3/keys/query", generic},
	{"POST", "/_matrix/client/v3/keys/claim", generic},
	{"GET", "/_matrix/client/v3/keys/changes", generic},
	{"GET", "/_matrix/client/v3/room_keys/version", generic},
	{"GET", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events", generic},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d1/restart", generic},
	// device_lists stays on main: any generic worker serves these.
	{"POST", "/_matrix/client/v3/keys/upload", generic},
	{"POST", "/_matrix/client/v3/keys/device_signing/upload", generic},
	{"POST", "/_matrix/client/v3/keys/signatures/upload", generic},
	{"GET", "/_matrix/client/v3/devices", generic},
	{"DELETE", "/_matrix/client/v3/devices/ABCDEF", generic},
	{"POST", "/_matrix/client/v3/delete_devices", generic},
	// GET-only rows: reads to a worker, writes to the writer (main here).
	{"GET", "/_matrix/client/v3/pushrules/", generic},
	{"PUT", "/_matrix/client/v3/pushrules/global/override/x", mainPool},
	{"GET", "/_matrix/client/v3/user/@u:s/account_data/m.direct", generic},
	{"PUT", "/_matrix/client/v3/user/@u:s/account_data/m.direct", mainPool},
	{"GET", "/_matrix/client/v3/user/@u:s/rooms/!r:s/tags", generic},
	{"PUT", "/_matrix/client/v3/user/@u:s/rooms/!r:s/tags/u.work", mainPool},
	{"GET", "/_matrix/client/v3/presence/@u:s/status", mainPool},
	{"HEAD", "/_matrix/client/v3/presence/@u:s/status", mainPool},
	{"PUT", "/_matrix/client/v3/presence/@u:s/status", mainPool},
	// Streams on main.
	{"PUT", "/_matrix/client/v3/rooms/!r:s/typing/@u:s", mainPool},
	{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn", mainPool},
	{"POST", "/_matrix/client/v3/rooms/!r:s/receipt/m.read/$ev", mainPool},
	{"POST", "/_matrix/client/v3/rooms/!r:s/read_markers", mainPool},
	// Main only: SSO, the skip list, main-only servlets.
	{"GET", "/_matrix/client/v3/login/sso/redirect", mainPool},
	{"GET", "/_matrix/client/v3/login/sso/redirect/oidc-x", mainPool},
	{"GET", "/_synapse/client/pick_idp", mainPool},
	{"GET", "/_synapse/client/oidc/callback", mainPool},
	{"GET", "/_matrix/client/v3/login/cas/ticket", mainPool},
	{"POST", "/_matrix/client/v3/logout", mainPool},
	{"POST", "/_matrix/client/v3/refresh", mainPool},
	{"GET", "/_matrix/client/v3/pushers", mainPool},
	{"POST", "/_matrix/client/v3/account/password", mainPool},
	{"POST", "/_matrix/client/v3/rooms/!r:s/upgrade", mainPool},
	{"POST", "/_matrix/client/v3/rooms/!r:s/forget", mainPool},
	{"POST", "/_matrix/client/v3/rooms/!r:s/report/$ev", mainPool},
	{"POST", "/_matrix/client/v3/user/@u:s/openid/request_token", mainPool},
	{"GET", "/_matrix/client/v3/thirdparty/protocols", mainPool},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d1/cancel", mainPool},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/d1", mainPool},
	{"GET", "/.well-known/matrix/server", mainPool},
	// Media.
	{"GET", "/_matrix/client/v1/media/download/s/m", media},
	{"GET", "/_matrix/client/v1/media/thumbnail/s/m", media},
	{"GET", "/_matrix/client/v1/media/config", media},
	{"POST", "/_matrix/media/v3/upload", media},
	{"GET", "/_matrix/media/v3/download/s/m", media},
	{"GET", "/_matrix/federation/v1/media/download/m", media},
	{"POST", "/_synapse/admin/v1/purge_media_cache", media},
	{"POST", "/_synapse/admin/v1/media/quarantine/s/m", media},
	{"POST", "/_synapse/admin/v1/quarantine_media/!r:s", media},
	{"POST", "/_synapse/admin/v1/room/!r:s/media/quarantine", media},
	{"GET", "/_synapse/admin/v1/users/@a:b/media", media},
	// Admin: main, except the worker-capable rows.
	{"GET", "/_synapse/admin/v1/users/@a:b", mainPool},
	{"GET", "/_synapse/admin/v1/server_version", mainPool},
	{"POST", "/_synapse/admin/v1/register", mainPool},
	{"GET", "/_synapse/admin/v1/rooms", mainPool},
	{"GET", "/_synapse/admin/v1/rooms/!r:s", generic},
	{"GET", "/_synapse/admin/v2/users/@a:b", generic},
	{"PUT", "/_synapse/admin/v2/users/@a:b", mainPool},
	// Federation.
	{"PUT", "/_matrix/federation/v1/send/1234", fedIn},
	{"GET", "/_matrix/federation/v1/version", generic},
	{"GET", "/_matrix/federation/v1/event/$ev", generic},
	{"GET", "/_matrix/federation/v1/state/!r:s", generic},
	{"GET", "/_matrix/federation/v1/state_ids/!r:s", generic},
	{"GET", "/_matrix/federation/v1/backfill/!r:s", generic},
	{"POST", "/_matrix/federation/v1/get_missing_events/!r:s", generic},
	{"GET", "/_matrix/federation/v1/event_auth/!r:s/$ev", generic},
	{"GET", "/_matrix/federation/v1/make_join/!r:s/@u:s", generic},
	{"PUT", "/_matrix/federation/v2/send_join/!r:s/$ev", generic},
	{"PUT", "/_matrix/federation/v2/send_leave/!r:s/$ev", generic},
	{"PUT", "/_matrix/federation/v2/invite/!r:s/$ev", generic},
	{"GET", "/_matrix/federation/v1/query/profile", generic},
	{"GET", "/_matrix/federation/v1/publicRooms", generic},
	{"GET", "/_matrix/federation/v1/user/devices/@u:s", generic},
	{"GET", "/_matrix/federation/v1/hierarchy/!r:s", generic},
	{"POST", "/_matrix/key/v2/query", generic},
	{"GET", "/_matrix/key/v2/server", mainPool},
	{"POST", "/_matrix/federation/v1/user/keys/query", mainPool},
	{"GET", "/_matrix/federation/v1/openid/userinfo", mainPool},
	// Never routed.
	{"POST", "/_synapse/replication/send_event/e1", never},
	{"GET", "/_synapse/replication/get_repl_stream_updates/events", never},
	{"GET", "/_synapse/replication", never},
	{"GET", "/_synapse/metrics", never},
}

// clusterStreams are the streams today's role table lets workers write.
var clusterStreams = workload.WorkerStreams([]workload.Role{workload.RoleGeneric, workload.RoleEventPersister, workload.RoleMedia})

func TestRealRequestsReachThePoolTheDocsName(t *testing.T) {
	assert.Equal(t, map[string]bool{"events": true, "quarantined_media_changes": true}, clusterStreams)
	for _, r := range realRequests {
		assert.Equal(t, r.want, workload.Resolve(r.method, r.path, clusterStreams), "%s %s", r.method, r.path)
	}
}

func TestStreamRoutesGoToTheirWorkerWriters(t *testing.T) {
	// Every stream with client routes written by a worker (§8.5).
	writers := workload.WorkerStreams([]workload.Role{workload.RoleTyping, workload.RoleToDevice, workload.RoleAccountData, workload.RoleReceipts,
		workload.RolePresence, workload.RolePushRules, workload.RoleDeviceLists, workload.RoleThreadSubs, workload.RoleMedia})
	for _, r := range []request{
		{"GET", "/_matrix/client/v3/pushrules/", generic},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/x", workload.StreamPool("push_rules")},
		{"DELETE", "/_matrix/client/v3/pushrules/global/override/x", workload.StreamPool("push_rules")},
		{"GET", "/_matrix/client/v3/user/@u:s/account_data/m.direct", generic},
		{"PUT", "/_matrix/client/v3/user/@u:s/account_data/m.direct", workload.StreamPool("account_data")},
		{"PUT", "/_matrix/client/v3/user/@u:s/rooms/!r:s/account_data/m.x", workload.StreamPool("account_data")},
		{"PUT", "/_matrix/client/v3/user/@u:s/rooms/!r:s/tags/u.work", workload.StreamPool("account_data")},
		{"GET", "/_matrix/client/v3/presence/@u:s/status", workload.StreamPool("presence")},
		{"PUT", "/_matrix/client/v3/presence/@u:s/status", workload.StreamPool("presence")},
		{"POST", "/_matrix/client/v3/keys/upload", workload.StreamPool("device_lists")},
		{"GET", "/_matrix/client/v3/devices", workload.StreamPool("device_lists")},
		{"POST", "/_matrix/client/v3/delete_devices", workload.StreamPool("device_lists")},
		{"POST", "/_matrix/client/v3/keys/signatures/upload", workload.StreamPool("device_lists")},
		{"PUT", "/_matrix/client/v3/rooms/!r:s/typing/@u:s", workload.StreamPool("typing")},
		{"PUT", "/_matrix/client/api/v1/rooms/!r:s/typing/@u:s", workload.StreamPool("typing")},
		{"POST", "/_matrix/client/v3/rooms/!r:s/receipt/m.read/$ev", workload.StreamPool("receipts")},
		{"POST", "/_matrix/client/v3/rooms/!r:s/read_markers", workload.StreamPool("receipts")},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn", workload.StreamPool("to_device")},
		{"PUT", "/_matrix/client/unstable/io.element.msc4306/rooms/!r:s/thread/$ev/subscription", workload.StreamPool("thread_subscriptions")},
		{"GET", "/_matrix/client/unstable/io.element.msc4308/thread_subscriptions", workload.StreamPool("thread_subscriptions")},
		// quarantined_media_changes: its routes are the media pool's.
		{"POST", "/_synapse/admin/v1/media/quarantine/s/m", media},
	} {
		assert.Equal(t, r.want, workload.Resolve(r.method, r.path, writers), "%s %s", r.method, r.path)
	}
}

// TestEveryPoolFallsDownItsChain: which processes a request tries, in a
// cluster with and without the roles that serve each pool.
func TestEveryPoolFallsDownItsChain(t *testing.T) {
	stream := workload.StreamPool
	dedicated := []workload.Role{workload.RoleGeneric, workload.RoleSync, workload.RoleInitialSync, workload.RoleFederationInbound,
		workload.RoleEventCreator, workload.RoleMedia, workload.RoleTyping, workload.RoleToDevice, workload.RoleAccountData,
		workload.RoleReceipts, workload.RolePresence, workload.RolePushRules, workload.RoleDeviceLists, workload.RoleThreadSubs}
	type want struct{ monolith, generic, sync, all []workload.Pool }
	m := []workload.Pool{mainPool}
	gm := []workload.Pool{generic, mainPool}
	for _, c := range []struct {
		method, path string
		want
	}{
		{"GET", "/_matrix/client/v3/sync", want{m, gm, []workload.Pool{syncPool, generic, mainPool}, []workload.Pool{initialSync, syncPool, generic, mainPool}}},
		{"GET", "/_matrix/client/v3/initialSync", want{m, gm, []workload.Pool{syncPool, generic, mainPool}, []workload.Pool{initialSync, syncPool, generic, mainPool}}},
		{"GET", "/_matrix/client/v3/sync?since=s1", want{m, gm, []workload.Pool{syncPool, generic, mainPool}, []workload.Pool{syncPool, generic, mainPool}}},
		{"PUT", "/_matrix/federation/v1/send/1", want{m, gm, gm, []workload.Pool{fedIn, generic, mainPool}}},
		{"PUT", "/_matrix/client/v3/rooms/!a:b/send/m.room.message/1", want{m, gm, gm, []workload.Pool{room, generic, mainPool}}},
		{"GET", "/_matrix/client/v3/rooms/!a:b/messages", want{m, gm, gm, []workload.Pool{room, generic, mainPool}}},
		{"GET", "/_matrix/client/versions", want{m, gm, gm, gm}},
		// Media: main while no media worker; then the worker alone.
		{"GET", "/_matrix/client/v1/media/download/s/m", want{m, m, m, []workload.Pool{media}}},
		{"POST", "/_synapse/admin/v1/media/quarantine/s/m", want{m, m, m, []workload.Pool{media}}},
		// Writer-only streams: the writer alone once a worker writes them.
		{"PUT", "/_matrix/client/v3/rooms/!r:s/typing/@u:s", want{m, m, m, []workload.Pool{stream("typing")}}},
		{"PUT", "/_matrix/client/v3/sendToDevice/m/txn", want{m, m, m, []workload.Pool{stream("to_device")}}},
		{"POST", "/_matrix/client/v3/rooms/!r:s/receipt/m.read/$ev", want{m, m, m, []workload.Pool{stream("receipts")}}},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/x", want{m, m, m, []workload.Pool{stream("push_rules")}}},
		{"GET", "/_matrix/client/v3/pushrules/", want{m, gm, gm, gm}},
		// Streams main can serve by handing the write over replication.
		{"PUT", "/_matrix/client/v3/user/@u:s/account_data/m.direct", want{m, m, m, []workload.Pool{stream("account_data"), mainPool}}},
		{"PUT", "/_matrix/client/v3/presence/@u:s/status", want{m, m, m, []workload.Pool{stream("presence")}}},
		{"POST", "/_matrix/client/v3/keys/upload", want{m, gm, gm, []workload.Pool{stream("device_lists"), mainPool}}},
		{"POST", "/_matrix/client/v3/logout", want{m, m, m, m}},
	} {
		for name, tc := range map[string]struct {
			roles []workload.Role
			want  []workload.Pool
		}{
			"monolith": {nil, c.monolith},
			"generic":  {[]workload.Role{workload.RoleGeneric, workload.RoleEventPersister}, c.generic},
			"sync":     {[]workload.Role{workload.RoleGeneric, workload.RoleSync}, c.sync},
			"all":      {dedicated, c.all},
		} {
			pool := workload.Resolve(c.method, c.path, workload.WorkerStreams(tc.roles))
			assert.Equal(t, tc.want, workload.Attempts(pool, workload.Served(tc.roles)), "%s: %s %s (%s)", name, c.method, c.path, pool)
		}
	}
}

func TestFallbackChainsAreConsistent(t *testing.T) {
	// Each pool has one named location in nginx: the chain of a pool's
	// first fallback is the rest of the pool's chain, and it ends at main.
	pools := []workload.PoolSpec{}
	pools = append(pools, workload.Pools...)
	for _, r := range workload.Roles {
		for _, s := range r.Streams {
			spec, ok := workload.SpecOf(workload.StreamPool(s))
			require.True(t, ok)
			pools = append(pools, spec)
		}
	}
	for _, spec := range pools {
		if spec.Pool == mainPool {
			assert.Empty(t, spec.Fallback)
			continue
		}
		require.NotEmpty(t, spec.Fallback, spec.Pool)
		assert.Equal(t, mainPool, spec.Fallback[len(spec.Fallback)-1], spec.Pool)
		next, ok := workload.SpecOf(spec.Fallback[0])
		require.True(t, ok, spec.Pool)
		assert.Equal(t, fmt.Sprint(spec.Fallback[1:]), fmt.Sprint(next.Fallback), "%s: %s's chain", spec.Pool, next.Pool)
		assert.NotContains(t, spec.Fallback, spec.Pool)
	}
	for _, s := range []string{"typing", "to_device", "receipts", "presence", "push_rules", "thread_subscriptions", "quarantined_media_changes"} {
		spec, _ := workload.SpecOf(workload.StreamPool(s))
		assert.True(t, spec.Exclusive, "only a writer serves %s", s)
	}
	for _, s := range []string{"account_data", "device_lists"} {
		spec, _ := workload.SpecOf(workload.StreamPool(s))
		assert.False(t, spec.Exclusive, "main hands %s over replication", s)
	}
}

func TestEveryRouteRegexCompilesAndNamesAKnownPool(t *testing.T) {
	for _, r := range workload.Routes {
		assert.NotEmpty(t, r.Paths, r.Doc)
		spec, ok := workload.SpecOf(r.Pool)
		assert.True(t, ok, "%s: pool %q", r.Doc, r.Pool)
		assert.NotEqual(t, workload.PoolNone, r.Pool, r.Doc)
		if r.Stream != "" {
			_, ok := workload.SpecOf(workload.StreamPool(r.Stream))
			assert.True(t, ok, r.Doc)
		}
		if r.Pool != workload.PoolMain && r.Pool.Stream() == "" {
			assert.True(t, workload.Served(rolesServing(r.Pool))[r.Pool], "%s: a role serves pool %s", r.Doc, r.Pool)
		}
		assert.False(t, len(r.Methods) > 0 && r.Initial != "", "%s: methods or initial, not both", r.Doc)
		assert.NotEmpty(t, spec.Affinity, r.Doc)
		for _, p := range r.Paths {
			_, err := regexp.Compile(p)
			assert.NoError(t, err, "%s: %s", r.Doc, p)
			assert.True(t, strings.HasPrefix(p, "^/"), "%s: %s is anchored at the start", r.Doc, p)
			assert.NotContains(t, p, `"`, "nginx.conf quotes regexes")
		}
	}
}

func TestNoPathBelongsToTwoRows(t *testing.T) {
	// Examples generated from every regex, and the real requests: each
	// matches one row at most, so the table means the same in any order.
	type example struct {
		path string
		row  int
	}
	var all []example
	for i, r := range workload.Routes {
		for _, p := range r.Paths {
			exs := examples(t, p)
			require.NotEmpty(t, exs, p)
			for _, e := range exs {
				all = append(all, example{e, i})
			}
		}
	}
	for _, r := range realRequests {
		path, _, _ := strings.Cut(r.path, "?")
		all = append(all, example{path, -1})
	}
	compiled := make([][]*regexp.Regexp, len(workload.Routes))
	for i, r := range workload.Routes {
		for _, p := range r.Paths {
			compiled[i] = append(compiled[i], regexp.MustCompile(p))
		}
	}
	for _, e := range all {
		var rows []string
		for i, res := range compiled {
			for _, re := range res {
				if re.MatchString(e.path) {
					rows = append(rows, workload.Routes[i].Doc)
					break
				}
			}
		}
		assert.LessOrEqual(t, len(rows), 1, "%s matches %v", e.path, rows)
		if e.row >= 0 {
			assert.Equal(t, []string{workload.Routes[e.row].Doc}, rows, "example %s of its own row", e.path)
		}
	}
	assert.Greater(t, len(all), 300, "examples generated")
}

func TestReplicationIsNeverRouted(t *testing.T) {
	for _, path := range []string{
		"/_synapse/replication/send_event/abc",
		"/_synapse/replication/fed_send_edu/m.typing/x",
		"/_synapse/replication/get_repl_stream_updates/events",
		"/_synapse/replication/",
		"/_synapse/replication",
	} {
		_, matched := workload.MatchRoute(path)
		assert.False(t, matched, "%s matches a row", path)
		for _, m := range []string{"GET", "POST", "PUT"} {
			assert.Equal(t, workload.PoolNone, workload.Resolve(m, path, map[string]bool{"events": true, "typing": true}), path)
		}
	}
	for _, r := range workload.Routes {
		for _, p := range r.Paths {
			for _, e := range examples(t, p) {
				for _, prefix := range workload.Unrouted {
					assert.False(t, strings.HasPrefix(e, prefix), "%s: %s", r.Doc, e)
				}
			}
		}
	}
}

func TestPoolsBalanceAsSection9Says(t *testing.T) {
	for pool, want := range map[workload.Pool]workload.Affinity{
		syncPool:    workload.AffinityUser,
		initialSync: workload.AffinityUser,
		fedIn:       workload.AffinityOrigin,
		room:        workload.AffinityRoom,
		generic:     workload.AffinityNone,
	} {
		spec, ok := workload.SpecOf(pool)
		require.True(t, ok)
		assert.Equal(t, want, spec.Affinity, pool)
		assert.False(t, spec.Exclusive, pool)
		assert.Equal(t, mainPool, spec.Fallback[len(spec.Fallback)-1], "%s ends at main", pool)
	}
	spec, _ := workload.SpecOf(media)
	assert.True(t, spec.Exclusive, "main has no media repository when a media worker exists")
	spec, ok := workload.SpecOf(workload.StreamPool("typing"))
	require.True(t, ok)
	assert.Equal(t, "typing", spec.Stream)
}

// rolesServing returns the roles whose Serves column names pool.
func rolesServing(pool workload.Pool) []workload.Role {
	var out []workload.Role
	for _, r := range workload.Roles {
		for _, p := range r.Serves {
			if p == pool {
				out = append(out, r.Role)
			}
		}
	}
	return out
}

// examples returns strings the regex matches: one per branch of each
// alternation (bounded), ".*" and character classes filled with a letter.
func examples(t *testing.T, pattern string) []string {
	t.Helper()
	re, err := syntax.Parse(pattern, syntax.Perl)
	require.NoError(t, err)
	return gen(re)
}

func gen(re *syntax.Regexp) []string {
	const limit = 64
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= 'x' && 'x' <= re.Rune[i+1] {
				return []string{"x"}
			}
		}
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			out = append(out, string(re.Rune[i]))
		}
		return out
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return []string{"x"}
	case syntax.OpCapture:
		return gen(re.Sub[0])
	case syntax.OpStar:
		// ".*" stands for a path segment such as a room ID.
		if s := re.Sub[0]; s.Op == syntax.OpAnyCharNotNL || s.Op == syntax.OpAnyChar {
			return []string{"!r:s"}
		}
		return gen(re.Sub[0])
	case syntax.OpPlus, syntax.OpRepeat:
		return gen(re.Sub[0])
	case syntax.OpQuest:
		return append([]string{""}, gen(re.Sub[0])...)
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			var next []string
			for _, prefix := range out {
				for _, s := range gen(sub) {
					if len(next) < limit {
						next = append(next, prefix+s)
					}
				}
			}
			out = next
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			out = append(out, gen(sub)...)
		}
		return out
	default: // anchors, empty match
		return []string{""}
	}
}
