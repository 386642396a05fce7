package decide_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// errModelHookFailed is a hook that exits non-zero: Juju runs it again.
var errModelHookFailed = errors.New("hook failed")

// runHook runs the next hook of u the way cmd/charm does: observe the
// model into a Snapshot, Decide, execute against the model, Conclude with
// the containers' readiness, report and set the status. Its bag writes
// and secret adds are committed only when it succeeds.
func (w *modelWorld) runHook(u *modelUnit) error {
	h := u.queue[0]
	w.hooks++
	w.hooksThisStep++
	w.trace = append(w.trace, u.name+" "+h.String())
	if len(w.trace) > 40 {
		w.trace = w.trace[len(w.trace)-40:]
	}
	w.beforeHook(u, h)
	s, err := w.observe(u, h)
	if err != nil {
		return w.failHook(u, err)
	}
	if w.mutant != nil && w.mutant.snapshot != nil {
		w.mutant.snapshot(&s)
	}
	d := decide.Decide(s)
	if w.mutant != nil && w.mutant.decision != nil {
		d = w.mutant.decision(s, d)
	}
	w.check.decided(u, h, s, d)
	writes := slices.Clone(d.Writes)
	var newSecret *modelSecret
	if d.CreateSecret != nil {
		if w.secretByLabel(d.CreateSecret.Label) != "" {
			// Juju refuses a second secret with the same label.
			return w.failHook(u, fmt.Errorf("secret-add: label %q already exists", d.CreateSecret.Label))
		}
		newSecret = &modelSecret{label: d.CreateSecret.Label, content: maps.Clone(d.CreateSecret.Content)}
	}
	if d.VolumeID != "" {
		u.volume = d.VolumeID
	}
	// A hook held by the image leaves both containers as they were.
	var held []modelContainer
	if len(w.check.imageGaps) > 0 {
		held = []modelContainer{u.synapse.snapshot(), u.nginx.snapshot()}
	}
	var out decide.Outcome
	if d.Synapse != nil {
		// The plan this unit rendered: the leader's new one, else the bag's.
		plan := s.Peer.App[decide.PlanKey]
		if p := d.Write(s.Peer.ID, true)[decide.PlanKey]; p != "" {
			plan = p
		}
		u.synapse.apply(d.Synapse, func(st modelStart) { w.check.started(u, s, plan, d.Synapse.Want, st) })
		out.Synapse = u.synapse.readiness(d.Synapse.Want)
	}
	if d.Nginx != nil {
		u.nginx.apply(d.Nginx, func(modelStart) {})
		out.Nginx = u.nginx.readiness(d.Nginx.Want)
	}
	if held != nil {
		w.check.imageHeld(u, held)
	}
	d = decide.Conclude(d, out)
	if d.Report != nil && s.Peer != nil {
		changed := map[string]string{}
		for k, v := range d.Report.Bag() {
			if s.Peer.Own[k] != v {
				changed[k] = v
			}
		}
		writes = append(writes, decide.BagWrite{RelationID: s.Peer.ID, Data: changed})
	}
	if u.failNextWrite && len(writes) > 0 {
		u.failNextWrite = false
		return w.failHook(u, errors.New("relation-set: connection reset"))
	}
	for _, wr := range writes {
		if wr.App && w.leader != u.name {
			return w.failHook(u, fmt.Errorf("relation-set --app on %s: this unit is not the leader", wr.RelationID))
		}
	}
	if newSecret != nil {
		id := w.addSecret(newSecret.label, newSecret.content)
		writes = append(writes, decide.BagWrite{RelationID: s.Peer.ID, App: true, Data: map[string]string{decide.SecretIDKey: id}})
	}
	w.commit(u, writes)
	u.status, u.statusSet = d.Status(), true
	u.queue = u.queue[1:]
	w.afterHook(u, h)
	w.check.afterHook(u, h)
	return nil
}

// failHook leaves the hook at the head of the queue: Juju retries it. The
// containers keep whatever was applied (Pebble is not transactional).
func (w *modelWorld) failHook(u *modelUnit, err error) error {
	return fmt.Errorf("%s %s: %w: %w", u.name, u.queue[0], errModelHookFailed, err)
}

// beforeHook is what Juju does as it starts a hook.
func (w *modelWorld) beforeHook(u *modelUnit, h modelHook) {
	if h.Kind == "pebble-ready" {
		// Juju says pebble-ready once Pebble answers.
		w.container(u, h.Container).up = true
	}
}

// afterHook updates what relation-list shows once the hook ran.
func (w *modelWorld) afterHook(u *modelUnit, h modelHook) {
	switch {
	case h.RelationID == modelPeerID && h.Kind == "relation-created":
		u.inPeer = true
	case h.RelationID == modelPeerID && h.Kind == "relation-joined":
		if w.isLive(h.Remote) {
			u.peers[h.Remote] = true
		}
	case h.RelationID == modelPeerID && h.Kind == "relation-departed":
		delete(u.peers, h.Remote)
	case h.RelationID == modelPeerID && h.Kind == "relation-broken":
		u.inPeer = false
	case h.Kind == "remove":
		w.goneUnit(u)
	case h.Kind == "relation-created":
		u.relCreated[h.RelationID] = true
	case h.Kind == "relation-broken":
		delete(u.relCreated, h.RelationID)
		if r := w.relationByID(h.RelationID); r != nil && r.removing && w.brokenEverywhere(r) {
			delete(w.rels, r.endpoint)
		}
	}
}

// brokenEverywhere is true once no live unit still has r.
func (w *modelWorld) brokenEverywhere(r *modelRelation) bool {
	for _, u := range w.units {
		if u.relCreated[r.id] || slices.ContainsFunc(u.queue, func(h modelHook) bool { return h.RelationID == r.id }) {
			return false
		}
	}
	return true
}

func (w *modelWorld) container(u *modelUnit, name string) *modelContainer {
	if name == workload.NginxContainer {
		return u.nginx
	}
	return u.synapse
}

// commit applies a successful hook's writes and queues relation-changed
// where a bag another unit reads changed.
func (w *modelWorld) commit(u *modelUnit, writes []decide.BagWrite) {
	for _, wr := range writes {
		if len(wr.Data) == 0 {
			continue
		}
		if wr.RelationID == modelPeerID {
			bag := u.bag
			if wr.App {
				bag = w.peerApp
			}
			if !modelApplyWrite(bag, wr.Data) {
				continue
			}
			for _, o := range w.liveUnits() {
				switch {
				case o == u:
				case wr.App && o.inPeer:
					w.enqueue(o, modelHook{Kind: "relation-changed", RelationID: modelPeerID, Remote: u.name})
				case !wr.App && o.knows[u.name]:
					w.enqueue(o, modelHook{Kind: "relation-changed", RelationID: modelPeerID, Remote: u.name})
				}
			}
			continue
		}
		r := w.relationByID(wr.RelationID)
		if r == nil {
			continue
		}
		if wr.App {
			if modelApplyWrite(r.local, wr.Data) {
				w.providerAnswers(r)
			}
			continue
		}
		if r.own[u.name] == nil {
			r.own[u.name] = map[string]string{}
		}
		modelApplyWrite(r.own[u.name], wr.Data)
	}
}

// modelApplyWrite sets the keys (an empty value deletes, as relation-set
// does) and reports whether the bag changed.
func modelApplyWrite(bag, data map[string]string) bool {
	changed := false
	for k, v := range data {
		old, had := bag[k]
		switch {
		case v == "" && had:
			delete(bag, k)
			changed = true
		case v != "" && old != v:
			bag[k] = v
			changed = true
		}
	}
	return changed
}

// observe builds the Snapshot the charm would read in this hook.
func (w *modelWorld) observe(u *modelUnit, h modelHook) (decide.Snapshot, error) {
	leader := w.leader == u.name
	s := decide.Snapshot{
		Event: decide.Event{
			Kind: h.Kind, Unit: u.name, App: modelApp, Model: modelModelName, ModelUUID: "model-uuid",
			RelationID: h.RelationID, DepartingUnit: h.Departing,
		},
		Leader:  leader,
		Address: "10.1.0." + strconv.Itoa(10+u.ordinal),
	}
	s.Config, s.ConfigErr = config.Parse(maps.Clone(w.config))
	if u.inPeer {
		s.Peer = &decide.PeerView{ID: modelPeerID, App: maps.Clone(w.peerApp), Units: map[string]map[string]string{}, Own: maps.Clone(u.bag)}
		// relation-list: the peers whose joined ran and departed did not
		// (in relation-departed, not the remote unit leaving).
		for p := range u.peers {
			if p == h.Departing || h.Kind == "relation-departed" && p == h.Remote {
				continue
			}
			if o := w.units[p]; o != nil {
				s.Peer.Units[p] = maps.Clone(o.bag)
			} else {
				s.Peer.Units[p] = maps.Clone(w.gone[p])
			}
		}
		if leader {
			s.Goal = w.goal()
		}
	}
	for _, v := range []struct {
		view     **decide.RelationView
		endpoint string
		secretID func(map[string]string) string
	}{
		{&s.Database, decide.DatabaseEndpoint, relations.DatabaseSecretID},
		{&s.Redis, decide.RedisEndpoint, nil},
		{&s.Media, decide.MediaEndpoint, relations.S3SecretID},
		{&s.Backup, decide.BackupEndpoint, relations.S3SecretID},
	} {
		*v.view = w.observeRelation(u, h, v.endpoint, leader, v.secretID)
	}
	secret, err := w.observeAppSecret(s)
	if err != nil {
		return s, err
	}
	s.AppSecret = secret
	s.Synapse, s.Nginx = u.synapse.state(), u.nginx.state()
	if !s.Synapse.Reachable || s.Peer == nil {
		return s, nil
	}
	observeImage(u, h, &s)
	// As charm/observe.go: the S3 provider module is checked until
	// homeserver.yaml uses it, unless the report says it is missing.
	s.Image.Modules = map[string]bool{}
	if m := s.Media; m != nil && !m.Pending && !bytes.Contains(u.synapse.files[workload.HomeserverPath], []byte(workload.S3ProviderModule)) &&
		!s.Image.Report.Lacks(decide.S3ProviderModule) {
		s.Image.Modules[decide.S3ProviderModule] = !u.image.Lacks(decide.S3ProviderModule)
	}
	if leader && s.Database != nil && !s.Database.Pending {
		// Nobody registers users in the model: the SQLite database holds
		// nothing PostgreSQL would leave behind.
		s.DatabaseLocale = &workload.DatabaseLocale{Collate: "C", CType: "C"}
		s.SQLite = &workload.SQLiteContent{}
	}
	s.Volume = u.volume
	if u.volume == "" {
		s.FreshVolumeID = "vol-" + strings.ReplaceAll(u.name, "/", "-")
	}
	return s, nil
}

// observeImage is charm/observe_image.go's: the report cached in the
// unit's own peer bag, except where the container may run another image
// (the synapse container's pebble-ready, install, start, upgrade-charm)
// or nothing valid is cached; then the probe reports the image the
// container runs now, and the report is to be cached.
func observeImage(u *modelUnit, h modelHook, s *decide.Snapshot) {
	if cached, ok := decide.CachedImage(s.Peer.Own, h.Kind, h.Container); ok {
		s.Image.UseReport(cached)
		return
	}
	r := u.image
	r.Missing = slices.Clone(r.Missing)
	s.Image.VersionAsked = true
	s.Image.UseReport(r)
	s.Image.Probed = true
}

// goal is goal-state's units: "dying" while a unit runs its teardown,
// absent once it is gone.
func (w *modelWorld) goal() map[string]string {
	out := map[string]string{}
	for name, u := range w.units {
		out[name] = "active"
		if u.dying {
			out[name] = "dying"
		}
	}
	return out
}

// observeRelation is one provider relation as u sees it: pending until
// its relation-created ran, gone in its own relation-broken.
func (w *modelWorld) observeRelation(u *modelUnit, h modelHook, endpoint string, leader bool, secretID func(map[string]string) string) *decide.RelationView {
	r := w.rels[endpoint]
	if r == nil || h.Kind == "relation-broken" && h.RelationID == r.id {
		return nil
	}
	if !u.relCreated[r.id] {
		if slices.ContainsFunc(u.queue, func(q modelHook) bool { return q.RelationID == r.id && q.Kind == "relation-created" }) {
			return &decide.RelationView{ID: r.id, RemoteApp: r.remoteApp, Pending: true}
		}
		return nil
	}
	v := &decide.RelationView{ID: r.id, RemoteApp: r.remoteApp, App: maps.Clone(r.app), Units: map[string]map[string]string{}}
	if endpoint == decide.RedisEndpoint {
		for name, bag := range r.units {
			v.Units[name] = maps.Clone(bag)
		}
	}
	if leader {
		v.Local = maps.Clone(r.local)
	}
	if secretID != nil {
		if sec := w.secrets[secretID(r.app)]; sec != nil {
			v.Secret = maps.Clone(sec.content)
		}
	}
	return v
}

// observeAppSecret reads the application's secret as the charm does: by
// the ID the peer bag names, else (leader) by its label, else fresh
// secrets from the seeded source.
func (w *modelWorld) observeAppSecret(s decide.Snapshot) (decide.AppSecret, error) {
	if s.Peer == nil {
		return decide.AppSecret{}, nil
	}
	if id := s.Peer.App[decide.SecretIDKey]; id != "" {
		sec := w.secrets[id]
		if sec == nil {
			return decide.AppSecret{}, fmt.Errorf("secret-get %s: not found", id)
		}
		return decide.AppSecret{ID: id, Content: maps.Clone(sec.content)}, nil
	}
	if !s.Leader {
		return decide.AppSecret{}, nil
	}
	fresh := w.freshSecrets()
	if id := w.secretByLabel(decide.SecretLabel); id != "" {
		return decide.AppSecret{ID: id, Content: maps.Clone(w.secrets[id].content), Fresh: &fresh}, nil
	}
	return decide.AppSecret{Fresh: &fresh}, nil
}

// freshSecrets are new secrets from the seeded source: reproducible.
func (w *modelWorld) freshSecrets() workload.Secrets {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(w.rng.UintN(256))
	}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[w.rng.IntN(36)])
		}
		return b.String()
	}
	return workload.Secrets{
		SigningKey: "ed25519 a_" + word(4) + " " + base64.RawStdEncoding.EncodeToString(seed),
		Macaroon:   word(48), Registration: word(48), Form: word(48), Replication: word(48),
	}
}
