package decide_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// An in-memory model of how Juju 3.6 delivers hooks to the synapse
// application: units with their hook queues, the peer relation's bags,
// provider relations that answer requests, the secret store, and one
// Pebble model per container. Bag writes and secret adds of a hook take
// effect only when it succeeds; a committed write queues relation-changed
// on the units that can read the bag.

const (
	modelApp        = "synapse"
	modelModelName  = "matrix"
	modelServerName = "example.com"
	modelVersion    = "1.160.0"
	modelPeerID     = decide.PeerEndpoint + ":0"
)

// modelHook is one hook queued for a unit.
type modelHook struct {
	Kind       string
	RelationID string
	// Remote is the remote unit of a relation hook; Departing the unit
	// leaving in relation-departed; Container the container of pebble-ready.
	Remote, Departing, Container string
}

func (h modelHook) String() string {
	s := h.Kind
	if h.RelationID != "" {
		s = strings.SplitN(h.RelationID, ":", 2)[0] + "-" + h.Kind
	}
	if h.Container != "" {
		s = h.Container + "-" + s
	}
	if h.Remote != "" {
		s += "(" + h.Remote + ")"
	}
	return s
}

// modelUnit is one unit of the application.
type modelUnit struct {
	name    string
	ordinal int
	// bag is its peer unit bag; inPeer is true once its peer
	// relation-created ran; peers are the peers relation-list shows it
	// (joined and not departed); knows are the peers whose joined is
	// queued or ran.
	bag           map[string]string
	inPeer        bool
	peers, knows  map[string]bool
	queue         []modelHook
	synapse       *modelContainer
	nginx         *modelContainer
	status        decide.Item
	statusSet     bool
	relCreated    map[string]bool
	failNextWrite bool
	// volume is the ID the charm wrote on the unit's /data volume (storage
	// outlives a container restart, not the unit).
	volume string
	// dying is true once the unit is being removed: it runs its teardown
	// hooks and nothing else.
	dying bool
	// image is what the image its synapse container runs holds, as the
	// image probe reports it.
	image workload.ImageReport
}

// modelRelation is a relation to a provider application.
type modelRelation struct {
	endpoint, id, remoteApp string
	app                     map[string]string
	units                   map[string]map[string]string
	local                   map[string]string
	own                     map[string]map[string]string
	hostile                 bool
	// removing is true once juju remove-relation ran.
	removing bool
}

// modelSecret is one secret of the store.
type modelSecret struct {
	label   string
	content map[string]string
}

// modelWorld is the application and everything around it.
type modelWorld struct {
	rng    *rand.Rand
	mutant *modelMutant
	units  map[string]*modelUnit
	// nextOrdinal numbers the next unit; Juju never reuses one.
	nextOrdinal int
	leader      string
	config      map[string]any
	peerApp     map[string]string
	rels        map[string]*modelRelation
	nextRelID   int
	secrets     map[string]*modelSecret
	secretSeq   int
	// hooks counts every hook run; hooksThisStep those of the current step.
	hooks, hooksThisStep int
	// trace is the last hooks run, for a failure's report.
	trace []string
	check *modelChecker
	// keepsLeader: a departing leader stays leader through its teardown
	// hooks and gets no relation-broken (Juju 4.0, and 3.6's lease
	// tracker); otherwise leadership moves as the removal starts and the
	// teardown ends with relation-broken.
	keepsLeader bool
	// gone holds the last peer bag of each removed unit: a unit that
	// missed its relation-departed still reads it.
	gone map[string]map[string]string
}

func newModelWorld(seed uint64, mutant *modelMutant) *modelWorld {
	w := &modelWorld{
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		mutant:  mutant,
		units:   map[string]*modelUnit{},
		config:  map[string]any{"server_name": modelServerName},
		peerApp: map[string]string{},
		rels:    map[string]*modelRelation{},
		secrets: map[string]*modelSecret{},
		gone:    map[string]map[string]string{},
	}
	w.nextRelID = 1
	w.check = newModelChecker(w)
	return w
}

// liveUnits returns the units that are not leaving, in ordinal order.
func (w *modelWorld) liveUnits() []*modelUnit {
	var out []*modelUnit
	for _, u := range w.agents() {
		if !u.dying {
			out = append(out, u)
		}
	}
	return out
}

// agents returns every unit with an agent (leaving ones included), in
// ordinal order.
func (w *modelWorld) agents() []*modelUnit {
	out := slices.Collect(maps.Values(w.units))
	slices.SortFunc(out, func(a, b *modelUnit) int { return a.ordinal - b.ordinal })
	return out
}

func (w *modelWorld) isLive(unit string) bool { return w.units[unit] != nil && !w.units[unit].dying }

// enqueue adds a hook to a unit's queue unless the same hook is queued
// already (Juju coalesces pending relation-changed of one remote unit).
func (w *modelWorld) enqueue(u *modelUnit, h modelHook) {
	if h.Kind != "relation-joined" && h.Kind != "relation-departed" && slices.Contains(u.queue, h) {
		return
	}
	u.queue = append(u.queue, h)
}

// addUnit creates a unit and queues its deployment hooks in Juju 3.6's
// order, and the peer joined/changed on both sides.
func (w *modelWorld) addUnit() *modelUnit {
	n := w.nextOrdinal
	w.nextOrdinal++
	u := &modelUnit{
		name: modelApp + "/" + strconv.Itoa(n), ordinal: n,
		bag: map[string]string{}, peers: map[string]bool{}, knows: map[string]bool{},
		relCreated: map[string]bool{}, image: modelImage(""),
	}
	// Pebble may answer before or after the charm's first hooks.
	early := w.rng.IntN(2) == 0
	u.synapse, u.nginx = newModelContainer(early), newModelContainer(early)
	w.units[u.name] = u
	w.enqueue(u, modelHook{Kind: "install"})
	w.enqueue(u, modelHook{Kind: "relation-created", RelationID: modelPeerID})
	for _, r := range w.sortedRels() {
		w.enqueue(u, modelHook{Kind: "relation-created", RelationID: r.id})
	}
	if w.leader == "" {
		w.leader = u.name
		w.enqueue(u, modelHook{Kind: "leader-elected"})
	} else {
		w.enqueue(u, modelHook{Kind: "leader-settings-changed"})
	}
	w.enqueue(u, modelHook{Kind: "config-changed"})
	w.enqueue(u, modelHook{Kind: "start"})
	w.enqueue(u, modelHook{Kind: "pebble-ready", Container: workload.SynapseContainer})
	w.enqueue(u, modelHook{Kind: "pebble-ready", Container: workload.NginxContainer})
	for _, r := range w.sortedRels() {
		for _, remote := range slices.Sorted(maps.Keys(r.units)) {
			w.enqueue(u, modelHook{Kind: "relation-joined", RelationID: r.id, Remote: remote})
			w.enqueue(u, modelHook{Kind: "relation-changed", RelationID: r.id, Remote: remote})
		}
	}
	for _, o := range w.liveUnits() {
		if o == u {
			continue
		}
		w.joinPeers(u, o)
		w.joinPeers(o, u)
	}
	return u
}

func (w *modelWorld) joinPeers(u, other *modelUnit) {
	u.knows[other.name] = true
	w.enqueue(u, modelHook{Kind: "relation-joined", RelationID: modelPeerID, Remote: other.name})
	w.enqueue(u, modelHook{Kind: "relation-changed", RelationID: modelPeerID, Remote: other.name})
}

// removeUnit starts taking a unit away. Leadership moves at once unless
// keepsLeader; the others run relation-departed, unless lost (survivors
// never hear it, and their relation-list keeps the unit); the unit runs
// its teardown: storage-detaching, relation-departed for every remote
// unit (JUJU_DEPARTING_UNIT naming itself), relation-broken (not when
// keepsLeader), stop, remove. goneUnit ends it.
func (w *modelWorld) removeUnit(u *modelUnit, lost bool) {
	u.dying = true
	w.check.unitLeaves(u.name)
	if w.leader == u.name && !w.keepsLeader {
		w.leader = ""
		if live := w.liveUnits(); len(live) > 0 {
			w.electLeader(live[w.rng.IntN(len(live))])
		}
	}
	for _, o := range w.liveUnits() {
		if o.knows[u.name] {
			delete(o.knows, u.name)
			if !lost {
				w.enqueue(o, modelHook{Kind: "relation-departed", RelationID: modelPeerID, Remote: u.name, Departing: u.name})
			}
		}
	}
	u.queue = []modelHook{{Kind: "storage-detaching"}}
	u.knows = map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(u.peers)) {
		u.queue = append(u.queue, modelHook{Kind: "relation-departed", RelationID: modelPeerID, Remote: p, Departing: u.name})
	}
	for _, r := range w.sortedRels() {
		if u.relCreated[r.id] {
			u.queue = append(u.queue, modelHook{Kind: "relation-departed", RelationID: r.id, Remote: r.remoteApp + "/0", Departing: u.name})
		}
	}
	if !w.keepsLeader {
		if u.inPeer {
			u.queue = append(u.queue, modelHook{Kind: "relation-broken", RelationID: modelPeerID})
		}
		for _, r := range w.sortedRels() {
			if u.relCreated[r.id] {
				u.queue = append(u.queue, modelHook{Kind: "relation-broken", RelationID: r.id})
			}
		}
	}
	u.queue = append(u.queue, modelHook{Kind: "stop"}, modelHook{Kind: "remove"})
}

// goneUnit ends a unit once its remove hook ran; a leader's lease goes
// with it.
func (w *modelWorld) goneUnit(u *modelUnit) {
	delete(w.units, u.name)
	w.gone[u.name] = u.bag
	for _, r := range w.sortedRels() {
		if r.removing && w.brokenEverywhere(r) {
			delete(w.rels, r.endpoint)
		}
	}
	if w.leader == u.name {
		w.leader = ""
		if live := w.liveUnits(); len(live) > 0 {
			w.electLeader(live[w.rng.IntN(len(live))])
		}
	}
}

// electLeader hands leadership to u.
func (w *modelWorld) electLeader(u *modelUnit) {
	if w.leader == u.name {
		return
	}
	w.leader = u.name
	w.enqueue(u, modelHook{Kind: "leader-elected"})
	for _, o := range w.liveUnits() {
		if o != u {
			w.enqueue(o, modelHook{Kind: "leader-settings-changed"})
		}
	}
}

func (w *modelWorld) sortedRels() []*modelRelation {
	out := slices.Collect(maps.Values(w.rels))
	slices.SortFunc(out, func(a, b *modelRelation) int { return strings.Compare(a.id, b.id) })
	return out
}

// relationByID returns the provider relation with id, nil for none.
func (w *modelWorld) relationByID(id string) *modelRelation {
	for _, r := range w.rels {
		if r.id == id {
			return r
		}
	}
	return nil
}

// integrate relates a provider application on endpoint.
func (w *modelWorld) integrate(endpoint string) {
	if w.rels[endpoint] != nil {
		return
	}
	remote := map[string]string{
		decide.DatabaseEndpoint: "postgresql-k8s",
		decide.RedisEndpoint:    "redis-k8s",
		decide.MediaEndpoint:    "s3-media",
		decide.BackupEndpoint:   "s3-backup",
	}[endpoint]
	r := &modelRelation{
		endpoint: endpoint, id: endpoint + ":" + strconv.Itoa(w.nextRelID), remoteApp: remote,
		app: map[string]string{}, units: map[string]map[string]string{remote + "/0": {}},
		local: map[string]string{}, own: map[string]map[string]string{},
	}
	w.nextRelID++
	if endpoint == decide.RedisEndpoint {
		r.app["leader-host"] = "redis-k8s-0.redis-k8s-endpoints." + modelModelName + ".svc.cluster.local"
		r.units[remote+"/0"] = map[string]string{"hostname": "redis-k8s-0.redis-k8s-endpoints", "port": "6379"}
	}
	w.rels[endpoint] = r
	for _, u := range w.liveUnits() {
		w.enqueue(u, modelHook{Kind: "relation-created", RelationID: r.id})
		w.enqueue(u, modelHook{Kind: "relation-joined", RelationID: r.id, Remote: remote + "/0"})
		w.enqueue(u, modelHook{Kind: "relation-changed", RelationID: r.id, Remote: remote + "/0"})
	}
}

// removeRelation removes the provider relation of endpoint: departed then
// broken on every unit.
func (w *modelWorld) removeRelation(endpoint string) {
	r := w.rels[endpoint]
	if r == nil {
		return
	}
	r.removing = true
	for _, u := range w.liveUnits() {
		w.enqueue(u, modelHook{Kind: "relation-departed", RelationID: r.id, Remote: r.remoteApp + "/0"})
		w.enqueue(u, modelHook{Kind: "relation-broken", RelationID: r.id})
	}
}

// providerAnswers is what a provider application does when our
// application bag asks for something: postgresql-k8s creates the database
// and its credentials secret, s3-integrator gives the bucket.
func (w *modelWorld) providerAnswers(r *modelRelation) {
	if r.hostile || len(r.app) > 0 && r.endpoint != decide.RedisEndpoint {
		return
	}
	switch r.endpoint {
	case decide.DatabaseEndpoint:
		if r.local["database"] == "" {
			return
		}
		id := w.addSecret("", map[string]string{"username": "relation-" + r.id, "password": "pw-" + r.id})
		r.app = map[string]string{"endpoints": "postgresql-k8s-primary." + modelModelName + ".svc.cluster.local:5432", "database": r.local["database"], "secret-user": id}
	case decide.MediaEndpoint, decide.BackupEndpoint:
		if r.local["bucket"] == "" {
			return
		}
		r.app = map[string]string{"bucket": r.local["bucket"], "access-key": "ak", "secret-key": "sk", "endpoint": "http://minio:9000", "s3-uri-style": "path"}
	default:
		return
	}
	w.remoteChanged(r)
}

// remoteChanged queues relation-changed on every unit in the relation.
func (w *modelWorld) remoteChanged(r *modelRelation) {
	for _, u := range w.liveUnits() {
		w.enqueue(u, modelHook{Kind: "relation-changed", RelationID: r.id, Remote: r.remoteApp + "/0"})
	}
}

// addSecret stores a secret and returns its ID.
func (w *modelWorld) addSecret(label string, content map[string]string) string {
	w.secretSeq++
	id := fmt.Sprintf("secret:model%04d", w.secretSeq)
	w.secrets[id] = &modelSecret{label: label, content: maps.Clone(content)}
	return id
}

// secretByLabel returns the ID of the secret with label, "" for none.
func (w *modelWorld) secretByLabel(label string) string {
	for id, s := range w.secrets {
		if s.label == label {
			return id
		}
	}
	return ""
}
