package workload

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// The endpoint routing table of Synapse 1.160, as data: which pool of
// processes serves which request. nginx.conf is rendered from it (see
// nginx.go), and the tests check its invariants.
//
// The regexes are those of docs/workers.md of Synapse 1.157.1 (copied in
// ../shared/reference/synapse-workers.md §8), kept as written there. They
// were checked against 1.160.0, the pinned release: every row below is
// registered on a generic worker by synapse/_scripts/generate_workers_map.py
// of 1.160.0, and the 1.158-1.160 changelogs change no worker endpoint.
// Only paths that workers register go to workers; everything else (SSO,
// the admin API except the worker-capable rows, the servlets of
// synapse/rest/__init__.py's skip list) falls through to main. Re-check on
// every Synapse upgrade: upstream has no machine-readable table
// (element-hq/synapse#12139).

// Pool is a set of processes that serve the same requests. Pools other
// than main hold the processes of every unit: those whose role's Serves
// column (roles.go) names the pool, or, for a stream pool, the writers of
// the stream.
type Pool string

// Pools.
const (
	// PoolMain is the main process. Requests that match no row go there.
	PoolMain Pool = "main"
	// PoolGeneric is the generic workers, round robin.
	PoolGeneric Pool = "generic"
	// PoolSync is the sync workers, hashed by the user of the access
	// token: incremental /sync, /events and sliding sync.
	PoolSync Pool = "sync"
	// PoolInitialSync is the initial-sync workers, hashed by user: a /sync
	// without a since token and /initialSync, which are slow and would
	// hold up the incremental syncs of the sync pool (as Element's
	// matrix-stack chart splits them).
	PoolInitialSync Pool = "initial-sync"
	// PoolFederationInbound is the federation-inbound workers, hashed by
	// the origin server: inbound federation transactions.
	PoolFederationInbound Pool = "federation-inbound"
	// PoolRoom is the event creators, hashed by the room in the path:
	// event sending and /messages.
	PoolRoom Pool = "room"
	// PoolMedia is the media worker.
	PoolMedia Pool = "media"
	// PoolNone is nobody: nginx answers 404 itself.
	PoolNone Pool = "none"
)

// StreamPool is the pool of the workers that write a stream
// (stream_writers.<stream>).
func StreamPool(stream string) Pool { return Pool("stream-" + stream) }

// Stream returns the stream of a stream pool, or "".
func (p Pool) Stream() string {
	s, _ := strings.CutPrefix(string(p), "stream-")
	if s == string(p) {
		return ""
	}
	return s
}

// Affinity is how a pool chooses one of its processes.
type Affinity string

// Affinities (synapse-workers.md §9).
const (
	// AffinityNone balances round robin.
	AffinityNone Affinity = "round-robin"
	// AffinityUser hashes the localpart in the access token
	// (syt_<localpart>_...), from the Authorization header or the
	// access_token query parameter, so one user's syncs stay on one worker
	// (per-user caches; element-hq/synapse#19647).
	AffinityUser Affinity = "user"
	// AffinityOrigin hashes the origin server of a federation request (the
	// X-Matrix Authorization header), falling back to the client address,
	// so one remote server's transactions stay on one worker.
	AffinityOrigin Affinity = "origin"
	// AffinityRoom hashes the room ID in the path, so one room's events
	// and pagination stay on one worker (required for /messages, #11717).
	AffinityRoom Affinity = "room"
)

// PoolSpec says how a pool balances and who serves its requests when it
// cannot.
type PoolSpec struct {
	Pool Pool
	// Stream whose writers make up the pool; empty unless a stream pool.
	Stream string
	// Affinity chooses a process for each request. An empty pool keeps
	// its affinity over the servers it borrows.
	Affinity Affinity
	// Fallback is the chain of pools that serve the pool's requests, in
	// order: an empty pool borrows the servers of the first non-empty pool
	// of its chain, and a request whose servers all refuse or time out
	// goes down the chain. Every chain ends at main, and the chain of a
	// pool's first fallback is the rest of the chain (tested), so that
	// each pool has one nginx named location.
	Fallback []Pool
	// Exclusive pools have no chain once a process serves them: only that
	// process can serve the requests (media: main has enable_media_repo
	// false then; writer-only streams, see writerOnly).
	Exclusive bool
}

// Pools is the pool table. Stream pools are not listed: see SpecOf.
//
// The generic workers serve the generic pool and, through the chains,
// every client and federation pool that has no process of its own: the
// sync pools, inbound federation and event sending, each keeping its
// affinity. An initial sync goes to a sync worker before a generic one:
// both keep per-user sync caches.
var Pools = []PoolSpec{
	{Pool: PoolGeneric, Affinity: AffinityNone, Fallback: []Pool{PoolMain}},
	{Pool: PoolSync, Affinity: AffinityUser, Fallback: []Pool{PoolGeneric, PoolMain}},
	{Pool: PoolInitialSync, Affinity: AffinityUser, Fallback: []Pool{PoolSync, PoolGeneric, PoolMain}},
	{Pool: PoolFederationInbound, Affinity: AffinityOrigin, Fallback: []Pool{PoolGeneric, PoolMain}},
	{Pool: PoolRoom, Affinity: AffinityRoom, Fallback: []Pool{PoolGeneric, PoolMain}},
	{Pool: PoolMedia, Affinity: AffinityNone, Fallback: []Pool{PoolMain}, Exclusive: true},
	{Pool: PoolMain, Affinity: AffinityNone},
}

// writerOnly says, for each stream with client routes, whether only its
// writers can serve them. Checked in 1.160.0:
//   - typing: RoomTypingRestServlet raises on a non-writer.
//   - to_device: sendToDevice stores through DeviceInboxWorkerStore,
//     which asserts _can_write_to_device.
//   - receipts: receipt and read_markers insert through
//     ReceiptsWorkerStore.insert_receipt, which asserts the writer.
//   - push_rules: PushRuleRestServlet's PUT and DELETE raise on a
//     non-writer.
//   - thread_subscriptions: the store asserts the writer.
//   - quarantined_media_changes: its routes are the media pool's.
//   - account_data (and tags): AccountDataHandler hands the write to a
//     writer over replication, so main can serve them.
//   - presence: WorkerPresenceHandler.is_visible raises on a non-writer,
//     so another user's presence is readable only on the writer.
//   - device_lists: DeviceHandler notifies the writer over replication.
var writerOnly = map[string]bool{
	"typing":                    true,
	"to_device":                 true,
	"receipts":                  true,
	"push_rules":                true,
	"thread_subscriptions":      true,
	"quarantined_media_changes": true,
	"account_data":              false,
	"presence":                  true,
	"device_lists":              false,
}

// SpecOf returns the row of a pool. A stream pool balances round robin
// over the stream's writers and falls back to main, unless only a writer
// can serve the stream's routes (writerOnly).
func SpecOf(p Pool) (PoolSpec, bool) {
	for _, s := range Pools {
		if s.Pool == p {
			return s, true
		}
	}
	if s := p.Stream(); s != "" {
		return PoolSpec{Pool: p, Stream: s, Affinity: AffinityNone, Fallback: []Pool{PoolMain}, Exclusive: writerOnly[s]}, true
	}
	return PoolSpec{}, false
}

// Served returns the pools that processes of roles serve: main always,
// the pools of each role's Serves column and the stream pools of its
// Streams.
func Served(roles []Role) map[Pool]bool {
	out := map[Pool]bool{PoolMain: true}
	for _, r := range roles {
		spec, ok := Spec(r)
		if !ok {
			continue
		}
		for _, p := range spec.Serves {
			out[p] = true
		}
		for _, s := range spec.Streams {
			out[StreamPool(s)] = true
		}
	}
	return out
}

// Attempts returns the pools whose processes a request for p tries, in
// order: p if a process serves it, then the served pools of its chain;
// only p when it is exclusive and served. When all of them fail, nginx
// answers 429 (see RenderNginx).
func Attempts(p Pool, served map[Pool]bool) []Pool {
	spec, ok := SpecOf(p)
	if !ok {
		return nil
	}
	var out []Pool
	if served[p] {
		out = append(out, p)
		if spec.Exclusive {
			return out
		}
	}
	for _, q := range spec.Fallback {
		if served[q] {
			out = append(out, q)
		}
	}
	return out
}

// Route is one row of the routing table.
type Route struct {
	// Doc names where the row comes from, e.g. "§8.1 Sync requests".
	Doc string
	// Pool serves the requests the row matches.
	Pool Pool
	// Paths are regular expressions on the (decoded) request path, as
	// workers.md writes them. They are valid for both PCRE (nginx) and Go.
	Paths []string
	// Methods, when set, limits Pool to these methods (the GET-only rows
	// of workers.md §8.2); other methods go to the writer of Stream, or to
	// main when no worker writes it.
	Methods []string
	// Stream is the stream the row's requests write, if any: when workers
	// write it, the requests (other than Methods) go to the writers'
	// pool; otherwise to Pool (or main, for a GET-only row).
	Stream string
	// Initial, when set, serves the requests without a since query
	// parameter (an initial /sync); the others go to Pool. A row has
	// Methods or Initial, not both.
	Initial Pool
}

// readMethods are the methods of a GET-only row: Synapse serves HEAD as GET.
var readMethods = []string{"GET", "HEAD"}

// Routes is the routing table. No path matches two rows, so the order
// does not matter; it follows workers.md.
var Routes = []Route{
	// §8.1 Sync requests, split as Element's matrix-stack chart does: a
	// /sync without since is an initial sync.
	{Doc: "§8.1 Sync requests", Pool: PoolSync, Initial: PoolInitialSync, Paths: []string{
		`^/_matrix/client/(r0|v3)/sync$`,
	}},
	{Doc: "§8.1 Sync requests: events", Pool: PoolSync, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3)/events$`,
	}},
	{Doc: "§8.1 Sync requests: initialSync", Pool: PoolInitialSync, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3)/initialSync$`,
		`^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$`,
	}},
	// §8.7: not in workers.md; SlidingSyncRestServlet is registered on
	// workers by 1.160.0 (synapse/rest/client/sync.py).
	{Doc: "§8.7 Sliding sync", Pool: PoolSync, Paths: []string{
		`^/_matrix/client/unstable/org.matrix.simplified_msc3575/sync$`,
	}},
	{Doc: "§8.1 Federation requests", Pool: PoolGeneric, Paths: []string{
		`^/_matrix/federation/v1/version$`,
		`^/_matrix/federation/v1/event/`,
		`^/_matrix/federation/v1/state/`,
		`^/_matrix/federation/v1/state_ids/`,
		`^/_matrix/federation/v1/backfill/`,
		`^/_matrix/federation/v1/get_missing_events/`,
		`^/_matrix/federation/v1/publicRooms`,
		`^/_matrix/federation/v1/query/`,
		`^/_matrix/federation/v1/make_join/`,
		`^/_matrix/federation/v1/make_leave/`,
		`^/_matrix/federation/(v1|v2)/send_join/`,
		`^/_matrix/federation/(v1|v2)/send_leave/`,
		`^/_matrix/federation/v1/make_knock/`,
		`^/_matrix/federation/v1/send_knock/`,
		`^/_matrix/federation/(v1|v2)/invite/`,
		`^/_matrix/federation/v1/event_auth/`,
		`^/_matrix/federation/v1/timestamp_to_event/`,
		`^/_matrix/federation/v1/exchange_third_party_invite/`,
		`^/_matrix/federation/v1/user/devices/`,
		`^/_matrix/key/v2/query`,
		`^/_matrix/federation/v1/hierarchy/`,
	}},
	{Doc: "§8.1 Inbound federation transaction request", Pool: PoolFederationInbound, Paths: []string{
		`^/_matrix/federation/v1/send/`,
	}},
	{Doc: "§8.1 Client API requests", Pool: PoolGeneric, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$`,
		`^/_matrix/client/v1/rooms/.*/hierarchy$`,
		`^/_matrix/client/(v1|unstable)/rooms/.*/relations/`,
		`^/_matrix/client/v1/rooms/.*/threads$`,
		`^/_matrix/client/unstable/im.nheko.summary/summary/.*$`,
		`^/_matrix/client/v1/room_summary/.*$`,
		`^/_matrix/client/(r0|v3|unstable)/account/3pid$`,
		`^/_matrix/client/(r0|v3|unstable)/account/whoami$`,
		`^/_matrix/client/(r0|v3|unstable)/account/deactivate$`,
		// delete_devices and devices: the device_lists row below.
		`^/_matrix/client/versions$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/voip/turnServer$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$`,
		`^/_matrix/client/v1/rooms/.*/timestamp_to_event$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable/.*)/rooms/.*/aliases`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/search$`,
		`^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$`,
		`^/_matrix/client/(r0|v3|unstable)/capabilities$`,
		`^/_matrix/client/(r0|v3|unstable)/notifications$`,
	}},
	{Doc: "§8.1 Admin API requests", Pool: PoolGeneric, Paths: []string{
		`^/_synapse/admin/v1/rooms/[^/]+$`,
	}},
	{Doc: "§8.1 Encryption requests", Pool: PoolGeneric, Paths: []string{
		`^/_matrix/client/(r0|v3|unstable)/keys/query$`,
		`^/_matrix/client/(r0|v3|unstable)/keys/changes$`,
		`^/_matrix/client/(r0|v3|unstable)/keys/claim$`,
		`^/_matrix/client/(r0|v3|unstable)/room_keys/`,
		// keys/upload, device_signing/upload, signatures/upload: the
		// device_lists row below.
	}},
	// §8.1 lists these for any generic worker and §8.5 for the device_lists
	// writers: to the writers when workers write the stream, else to any
	// generic worker, which hands the write to main over replication.
	{Doc: "§8.1 and §8.5 device_lists", Pool: PoolGeneric, Stream: "device_lists", Paths: []string{
		`^/_matrix/client/(r0|v3)/delete_devices$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`,
		`^/_matrix/client/(r0|v3|unstable)/keys/upload`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/keys/device_signing/upload$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/keys/signatures/upload$`,
	}},
	{Doc: "§8.1 Registration/login requests", Pool: PoolGeneric, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/login$`,
		`^/_matrix/client/(r0|v3|unstable)/register$`,
		`^/_matrix/client/(r0|v3|unstable)/register/available$`,
		`^/_matrix/client/v1/register/m.login.registration_token/validity$`,
		`^/_matrix/client/(r0|v3|unstable)/password_policy$`,
	}},
	{Doc: "§8.1 Event sending requests", Pool: PoolRoom, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/join/`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/knock/`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/profile/`,
	}},
	{Doc: "§8.1 User directory search requests", Pool: PoolGeneric, Paths: []string{
		`^/_matrix/client/(r0|v3|unstable)/user_directory/search$`,
	}},
	// Only the list and /restart: update, cancel and send exist on main
	// alone (element-hq/element-call#3296).
	{Doc: "§8.1 Unstable MSC4140 support", Pool: PoolGeneric, Paths: []string{
		`^/_matrix/client/unstable/org.matrix.msc4140/delayed_events(/.*/restart)?$`,
	}},
	{Doc: "§8.2 and §8.5 push_rules", Pool: PoolGeneric, Methods: readMethods, Stream: "push_rules", Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`,
	}},
	{Doc: "§8.2 and §8.5 account_data", Pool: PoolGeneric, Methods: readMethods, Stream: "account_data", Paths: []string{
		`^/_matrix/client/(r0|v3|unstable)/.*/tags`,
		`^/_matrix/client/(r0|v3|unstable)/.*/account_data`,
	}},
	// Not GET-only as workers.md says: in 1.160 a process that does not
	// write presence raises on reading another user's presence
	// (WorkerPresenceHandler.is_visible), so every method goes to the
	// writer, or to main while it writes the stream.
	{Doc: "§8.2 and §8.5 presence", Pool: PoolMain, Stream: "presence", Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/presence/`,
	}},
	{Doc: "§8.2 Admin API requests", Pool: PoolGeneric, Methods: readMethods, Paths: []string{
		`^/_synapse/admin/v2/users/[^/]+$`,
	}},
	{Doc: "§8.3 Room pagination", Pool: PoolRoom, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$`,
	}},
	// SSO state lives in one process's memory (#7530, #9427): main. Listed
	// so that the table says so; main is also where unmatched paths go.
	// The last two rows are ours, not §8.4's: the SP metadata the IdP
	// reads, and the pre-1.32 mount of the whole SAML2 resource, which
	// 1.160 still serves (authn_response included).
	{Doc: "§8.4 SSO", Pool: PoolMain, Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/login/sso/redirect`,
		`^/_synapse/client/pick_idp$`,
		`^/_synapse/client/pick_username`,
		`^/_synapse/client/new_user_consent$`,
		`^/_synapse/client/sso_register$`,
		`^/_synapse/client/oidc/callback$`,
		`^/_synapse/client/saml2/authn_response$`,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/login/cas/ticket$`,
		`^/_synapse/client/saml2/metadata.xml$`,
		`^/_matrix/saml2/`,
	}},
	{Doc: "§8.5 typing", Pool: PoolMain, Stream: "typing", Paths: []string{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing`,
	}},
	{Doc: "§8.5 to_device", Pool: PoolMain, Stream: "to_device", Paths: []string{
		`^/_matrix/client/(r0|v3|unstable)/sendToDevice/`,
	}},
	{Doc: "§8.5 receipts", Pool: PoolMain, Stream: "receipts", Paths: []string{
		`^/_matrix/client/(r0|v3|unstable)/rooms/.*/receipt`,
		`^/_matrix/client/(r0|v3|unstable)/rooms/.*/read_markers`,
	}},
	// Registered only with experimental_features.msc4306_enabled.
	{Doc: "§8.5 thread_subscriptions", Pool: PoolMain, Stream: "thread_subscriptions", Paths: []string{
		`^/_matrix/client/unstable/io.element.msc4306/rooms/.*/thread/.*/subscription$`,
		`^/_matrix/client/unstable/io.element.msc4308/thread_subscriptions$`,
	}},
	// The quarantine endpoints (quarantine_media/, media/quarantine/,
	// room/*/media/quarantine, user/*/media/quarantine) write the
	// quarantined_media_changes stream (§8.5) but are registered only where
	// the media repository loads: in 1.160 they work only on the media
	// process, which must then be a quarantined_media_changes writer. So
	// they route with media.
	{Doc: "§8.6 Media", Pool: PoolMedia, Paths: []string{
		`^/_matrix/media/`,
		`^/_matrix/client/v1/media/`,
		`^/_matrix/federation/v1/media/`,
		`^/_synapse/admin/v1/purge_media_cache$`,
		`^/_synapse/admin/v1/room/.*/media.*$`,
		`^/_synapse/admin/v1/user/.*/media.*$`,
		`^/_synapse/admin/v1/media/.*$`,
		`^/_synapse/admin/v1/quarantine_media/.*$`,
		`^/_synapse/admin/v1/users/.*/media$`,
	}},
}

// Unrouted are path prefixes nginx never forwards; it answers 404. The
// replication listener and metrics have listeners of their own that nginx
// does not know; these prefixes keep them unreachable even by mistake.
var Unrouted = []string{"/_synapse/replication", "/_synapse/metrics"}

// Target is where a row sends requests: to When if the request's value of
// Var is one of Values, else to Pool. Var is "" when the row has one pool.
type Target struct {
	// Var is the nginx variable the choice depends on: "$request_method"
	// or "$arg_since".
	Var    string
	Values []string
	When   Pool
	Pool   Pool
}

// Choice variables.
const (
	varMethod = "$request_method"
	// varSince is the first since query parameter; nginx makes it "" when
	// absent.
	varSince = "$arg_since"
)

// Pools returns the pools of the target: When (if any) first.
func (t Target) Pools() []Pool {
	if t.Var == "" || t.When == t.Pool {
		return []Pool{t.Pool}
	}
	return []Pool{t.When, t.Pool}
}

// Target returns where the row sends requests, given the streams that
// workers write: a GET-only row sends its methods to Pool and the others
// to the stream's writers (or main); a row with Initial splits on since.
func (r Route) Target(workerStreams map[string]bool) Target {
	writer := Pool("")
	if r.Stream != "" && workerStreams[r.Stream] {
		writer = StreamPool(r.Stream)
	}
	switch {
	case len(r.Methods) > 0:
		if writer == "" {
			writer = PoolMain
		}
		return Target{Var: varMethod, Values: r.Methods, When: r.Pool, Pool: writer}
	case writer != "":
		return Target{Pool: writer}
	case r.Initial != "":
		return Target{Var: varSince, Values: []string{""}, When: r.Initial, Pool: r.Pool}
	}
	return Target{Pool: r.Pool}
}

// PoolFor returns the pool that serves a request on the row: its method
// and its since query parameter ("" when absent).
func (r Route) PoolFor(method, since string, workerStreams map[string]bool) Pool {
	t := r.Target(workerStreams)
	value := method
	if t.Var == varSince {
		value = since
	}
	if t.Var != "" && slices.Contains(t.Values, value) {
		return t.When
	}
	return t.Pool
}

// Resolve returns the pool that serves a request, as nginx routes it:
// PoolNone for an unrouted path, the pool of the row that matches, else
// main. target is the path, with its query string if any; workerStreams
// holds the streams that workers write. Attempts gives the processes it
// then tries.
func Resolve(method, target string, workerStreams map[string]bool) Pool {
	path, query, _ := strings.Cut(target, "?")
	for _, prefix := range Unrouted {
		if strings.HasPrefix(path, prefix) {
			return PoolNone
		}
	}
	r, ok := MatchRoute(path)
	if !ok {
		return PoolMain
	}
	// nginx's $arg_since: the first since parameter, not decoded.
	since := ""
	for _, kv := range strings.Split(query, "&") {
		if k, v, _ := strings.Cut(kv, "="); strings.EqualFold(k, "since") {
			since = v
			break
		}
	}
	return r.PoolFor(method, since, workerStreams)
}

// MatchRoute returns the row whose regexes match path.
func MatchRoute(path string) (Route, bool) {
	for i, res := range compiledRoutes() {
		for _, re := range res {
			if re.MatchString(path) {
				return Routes[i], true
			}
		}
	}
	return Route{}, false
}

var compiledRoutes = sync.OnceValue(func() [][]*regexp.Regexp {
	out := make([][]*regexp.Regexp, len(Routes))
	for i, r := range Routes {
		for _, p := range r.Paths {
			out[i] = append(out[i], regexp.MustCompile(p))
		}
	}
	return out
})

// WorkerStreams returns the streams that the processes of roles write.
func WorkerStreams(roles []Role) map[string]bool {
	out := map[string]bool{}
	for _, r := range roles {
		if spec, ok := Spec(r); ok {
			for _, s := range spec.Streams {
				out[s] = true
			}
		}
	}
	return out
}
