package sim

import (
	"context"
	"fmt"
	"maps"
	"net"
	"sort"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// relation is one relation of the application under test: the peer
// relation, or a relation with a simulated remote application.
type relation struct {
	id             int
	endpoint       string // our endpoint
	iface          string
	peer           bool
	remoteApp      string // the remote application (our own for a peer relation)
	remoteEndpoint string
	remote         *remoteApp // nil for a peer relation
	dying          bool
	created        time.Time

	appBag   *bag            // our application's bag
	unitBags map[string]*bag // our units' bags

	remoteAppBag   *bag            // the remote application's bag (peer: == appBag)
	remoteUnitBags map[string]*bag // the remote units' bags (peer: == unitBags)
}

// bag is one databag with a version that grows on every committed change.
type bag struct {
	data    map[string]string
	version int
}

func newBag() *bag { return &bag{data: map[string]string{}} }

// apply sets (or, for "", deletes) keys; it reports whether anything changed
// and bumps the version if so.
func (b *bag) apply(changes map[string]string) bool {
	changed := false
	for k, v := range changes {
		old, had := b.data[k]
		if v == "" {
			if had {
				delete(b.data, k)
				changed = true
			}
			continue
		}
		if !had || old != v {
			b.data[k] = v
			changed = true
		}
	}
	if changed {
		b.version++
	}
	return changed
}

func (b *bag) copy() map[string]string {
	if b == nil {
		return map[string]string{}
	}
	return maps.Clone(b.data)
}

// fakeID is "endpoint:id", as JUJU_RELATION_ID and relation-ids print it.
func (r *relation) fakeID() string { return fmt.Sprintf("%s:%d", r.endpoint, r.id) }

// key is Juju's relation key, e.g. "postgresql-k8s:database synapse:database".
func (r *relation) key(app string) string {
	if r.peer {
		return app + ":" + r.endpoint
	}
	a, b := app+":"+r.endpoint, r.remoteApp+":"+r.remoteEndpoint
	if b < a {
		a, b = b, a
	}
	return a + " " + b
}

// unitBag returns (creating) our unit's bag.
func (r *relation) unitBag(name string) *bag {
	b := r.unitBags[name]
	if b == nil {
		b = newBag()
		r.unitBags[name] = b
	}
	return b
}

// remoteUnitBag returns the bag of a remote unit, or nil.
func (r *relation) remoteUnitBag(name string) *bag {
	if r.peer {
		return r.unitBags[name]
	}
	return r.remoteUnitBags[name]
}

// remoteUnits lists the remote application's units (not our own, for a
// non-peer relation).
func (r *relation) remoteUnitNames() []string {
	if r.remote == nil {
		return nil
	}
	var out []string
	for i := 0; i < r.remote.units; i++ {
		out = append(out, fmt.Sprintf("%s/%d", r.remoteApp, i))
	}
	return out
}

// members returns the remote units unit u should currently see in the
// relation, in unit-number order: for a peer relation the other live units
// that entered scope; otherwise the remote application's units. A dying
// unit, or a dying relation, sees none.
func (m *Model) members(r *relation, u *unit) []string {
	if r.dying || u.life != alive {
		return nil
	}
	if !r.peer {
		return r.remoteUnitNames()
	}
	var out []string
	for _, v := range m.sortedUnits() {
		if v == u || v.life != alive {
			continue
		}
		if ur := v.rel[r.id]; ur != nil && ur.inScope {
			out = append(out, v.name)
		}
	}
	return out
}

// unitsInScope returns our live units in scope of a relation (what a remote
// application sees).
func (m *Model) unitsInScope(r *relation) []string {
	var out []string
	for _, u := range m.sortedUnits() {
		if ur := u.rel[r.id]; ur != nil && ur.inScope && u.life == alive {
			out = append(out, u.name)
		}
	}
	return out
}

// addRelationLocked creates a relation and enrols every unit in it.
func (m *Model) addRelationLocked(r *relation) {
	r.id = m.nextRelationID
	m.nextRelationID++
	r.created = time.Now().UTC()
	r.appBag = newBag()
	r.unitBags = map[string]*bag{}
	if r.peer {
		r.remoteAppBag = r.appBag
		r.remoteUnitBags = r.unitBags
	} else {
		r.remoteAppBag = newBag()
		r.remoteUnitBags = map[string]*bag{}
		for i, n := range r.remoteUnitNames() {
			b := newBag()
			for k, v := range addressSettings(r.remote.unitAddress(i)) {
				b.data[k] = v
			}
			r.remoteUnitBags[n] = b
		}
	}
	m.relations[r.id] = r
	for _, u := range m.units {
		u.rel[r.id] = newUnitRelation()
	}
}

func newUnitRelation() *unitRelation {
	return &unitRelation{joined: map[string]bool{}, needsChanged: map[string]bool{}, seen: map[string]int{}}
}

// RemoteApp is a simulated application on the other side of a relation.
// It is not a charm binary: the simulator calls its methods as the remote
// application's hooks, and what they write through RemoteRelation reaches
// our units as relation-changed, as Juju would deliver it.
type RemoteApp interface {
	// Name is the application name, e.g. "postgresql-k8s".
	Name() string
	// Charm is the charm name, for status.
	Charm() string
	// Endpoint is the remote application's endpoint, e.g. "database".
	Endpoint() string
	// Interface is the relation interface, e.g. "postgresql_client".
	Interface() string
	// Units is the number of units of the remote application.
	Units() int
	// Created runs once, as the remote application's relation-created.
	Created(ctx context.Context, r *RemoteRelation) error
	// Changed runs after our side changed: a bag committed by one of our
	// hooks, or a unit of ours joined or departed.
	Changed(ctx context.Context, r *RemoteRelation) error
	// Broken runs when the relation is removed.
	Broken(ctx context.Context, r *RemoteRelation) error
}

// remoteApp is a simulated application in the model.
type remoteApp struct {
	app       RemoteApp
	name      string
	units     int
	relations int
}

// UnitAddresser is implemented by a RemoteApp whose units have addresses
// (the pod IPs Juju writes into their bags as private-address and
// ingress-address). Without it every remote unit is at 127.0.0.1.
type UnitAddresser interface {
	UnitAddress(i int) string
}

func (ra *remoteApp) unitAddress(i int) string {
	if a, ok := ra.app.(UnitAddresser); ok {
		if addr := a.UnitAddress(i); addr != "" {
			return addr
		}
	}
	return "127.0.0.1"
}

// providerEvent asks a remote application to run one of its hooks.
type providerEvent struct {
	relID int
	kind  string // "created", "changed", "broken"
	rel   *relation
}

// queueProviderLocked queues a remote application's hook, dropping a
// duplicate "changed" already waiting.
func (m *Model) queueProviderLocked(r *relation, kind string) {
	if r.remote == nil {
		return
	}
	if kind == "changed" {
		for _, ev := range m.providerQueue {
			if ev.relID == r.id && ev.kind == "changed" {
				return
			}
		}
	}
	m.providerQueue = append(m.providerQueue, providerEvent{relID: r.id, kind: kind, rel: r})
}

// Integrate relates our endpoint with a simulated remote application (like
// "juju integrate synapse:database postgresql-k8s"). Every unit of ours gets
// relation-created, then relation-joined and relation-changed for each
// remote unit; the remote application's Created runs first. It returns the
// relation id.
func (m *Model) Integrate(ctx context.Context, app RemoteApp, endpoint string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.deployed {
		return 0, fmt.Errorf("integrate: the application is not deployed")
	}
	iface, role, ok := m.meta.endpointInterface(endpoint)
	if !ok {
		return 0, fmt.Errorf("integrate: application %q has no endpoint %q", m.opts.App, endpoint)
	}
	if role == "peer" {
		return 0, fmt.Errorf("integrate: %q is a peer endpoint", endpoint)
	}
	if app.Interface() != iface {
		return 0, fmt.Errorf("integrate: %s:%s has interface %q, %s:%s has %q",
			m.opts.App, endpoint, iface, app.Name(), app.Endpoint(), app.Interface())
	}
	for _, r := range m.relations {
		if !r.dying && r.endpoint == endpoint && r.remoteApp == app.Name() {
			return 0, fmt.Errorf("integrate: relation %s:%s %s:%s already exists", m.opts.App, endpoint, app.Name(), app.Endpoint())
		}
	}
	if app.Name() == m.opts.App {
		return 0, fmt.Errorf("integrate: remote application name %q is the application under test", app.Name())
	}
	ra := m.remoteApps[app.Name()]
	if ra == nil {
		n := app.Units()
		if n < 1 {
			n = 1
		}
		ra = &remoteApp{app: app, name: app.Name(), units: n}
		m.remoteApps[app.Name()] = ra
	} else if ra.app != app {
		return 0, fmt.Errorf("integrate: another application named %q is already in the model", app.Name())
	}
	ra.relations++
	r := &relation{endpoint: endpoint, iface: iface, remoteApp: app.Name(), remoteEndpoint: app.Endpoint(), remote: ra}
	m.addRelationLocked(r)
	m.queueProviderLocked(r, "created")
	m.logf("integrate %s:%s %s:%s (relation %d)", m.opts.App, endpoint, app.Name(), app.Endpoint(), r.id)
	return r.id, nil
}

// RemoveRelation removes a relation (like "juju remove-relation"): each of
// our units gets relation-departed for every remote unit, then
// relation-broken; the remote application's Broken runs; grants made in
// the relation are revoked.
func (m *Model) RemoveRelation(ctx context.Context, id int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.relations[id]
	if r == nil || r.dying {
		return fmt.Errorf("remove-relation: relation %d not found", id)
	}
	if r.peer {
		return fmt.Errorf("remove-relation: relation %d is a peer relation", id)
	}
	r.dying = true
	m.queueProviderLocked(r, "broken")
	m.secrets.RevokeRelation(id)
	m.logf("remove-relation %d (%s)", id, r.key(m.opts.App))
	return nil
}

// RemoteChanged runs the simulated remote application's relation-changed
// for relation id, as when its own configuration changed (e.g. a new
// registration); what it writes reaches our units as usual.
func (m *Model) RemoteChanged(id int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.relations[id]
	if r == nil || r.dying || r.remote == nil {
		return fmt.Errorf("remote-changed: relation %d not found", id)
	}
	m.queueProviderLocked(r, "changed")
	return nil
}

// finishRelationLocked drops a dying relation once every unit has run
// relation-broken for it.
func (m *Model) finishRelationLocked(r *relation) {
	if !r.dying {
		return
	}
	for _, u := range m.units {
		if ur := u.rel[r.id]; ur != nil && !ur.broken {
			return
		}
	}
	delete(m.relations, r.id)
	for _, u := range m.units {
		delete(u.rel, r.id)
	}
	if r.remote != nil {
		r.remote.relations--
		if r.remote.relations == 0 {
			delete(m.remoteApps, r.remote.name)
		}
	}
}

// RemoteRelation is a simulated remote application's view of one relation:
// it reads our side's bags and writes its own. Every write commits at once,
// as if the remote application's hook exited 0, and reaches our units as
// relation-changed.
type RemoteRelation struct {
	m *Model
	r *relation
}

// ID is the relation id.
func (rr *RemoteRelation) ID() int { return rr.r.id }

// ModelName is the model name (the Kubernetes namespace).
func (rr *RemoteRelation) ModelName() string { return rr.m.opts.ModelName }

// ModelUUID is the model UUID.
func (rr *RemoteRelation) ModelUUID() string { return rr.m.opts.ModelUUID }

// RemoteAppName is the application under test (the remote application of
// the simulated one), e.g. "synapse".
func (rr *RemoteRelation) RemoteAppName() string { return rr.m.opts.App }

// AppName is the simulated application's name.
func (rr *RemoteRelation) AppName() string { return rr.r.remoteApp }

// UnitNames are the simulated application's units, e.g. ["redis-k8s/0"].
func (rr *RemoteRelation) UnitNames() []string { return rr.r.remoteUnitNames() }

// RemoteAppData is the committed application bag of the application under
// test.
func (rr *RemoteRelation) RemoteAppData() map[string]string {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	return rr.r.appBag.copy()
}

// RemoteUnits are the units of the application under test in scope.
func (rr *RemoteRelation) RemoteUnits() []string {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	return rr.m.unitsInScope(rr.r)
}

// RemoteUnitData is the committed bag of one unit of the application under
// test.
func (rr *RemoteRelation) RemoteUnitData(unit string) map[string]string {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	return rr.r.unitBags[unit].copy()
}

// AppData is the simulated application's own bag.
func (rr *RemoteRelation) AppData() map[string]string {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	return rr.r.remoteAppBag.copy()
}

// UnitData is one simulated unit's own bag.
func (rr *RemoteRelation) UnitData(unit string) map[string]string {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	return rr.r.remoteUnitBags[unit].copy()
}

// UpdateAppData writes the simulated application's bag ("" deletes a key).
func (rr *RemoteRelation) UpdateAppData(data map[string]string) {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	rr.recordWrites(rr.r.remoteApp, data)
	rr.r.remoteAppBag.apply(data)
}

// UpdateUnitData writes one simulated unit's bag ("" deletes a key).
func (rr *RemoteRelation) UpdateUnitData(unit string, data map[string]string) error {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	b := rr.r.remoteUnitBags[unit]
	if b == nil {
		return fmt.Errorf("relation %d: no unit %q", rr.r.id, unit)
	}
	rr.recordWrites(unit, data)
	b.apply(data)
	return nil
}

func (rr *RemoteRelation) recordWrites(bagName string, data map[string]string) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rr.m.rec.addBagWrite(&BagWrite{Unit: rr.r.remoteApp, Hook: "(simulated)", RelationID: rr.r.id,
			Bag: bagName, Key: k, Value: data[k], Committed: true})
	}
}

// AddSecret creates a secret owned by the simulated application and
// returns its URI in the long form a provider writes into a databag,
// "secret://<model-uuid>/<id>".
func (rr *RemoteRelation) AddSecret(content map[string]string, label string) string {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	s := rr.m.secrets.Create(jujuc.Owner{App: rr.r.remoteApp}, label, "", content)
	return "secret://" + rr.m.opts.ModelUUID + "/" + s.ID
}

// GrantSecret lets the application under test read a secret of the
// simulated application through this relation.
func (rr *RemoteRelation) GrantSecret(uri string) error {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	s, err := rr.m.ownSecret(uri, rr.r.remoteApp)
	if err != nil {
		return err
	}
	s.Grants[rr.r.id] = jujuc.Grant{App: rr.m.opts.App}
	return nil
}

// UpdateSecret adds a revision to a secret of the simulated application;
// our units that track an older revision get secret-changed.
func (rr *RemoteRelation) UpdateSecret(uri string, content map[string]string) error {
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	s, err := rr.m.ownSecret(uri, rr.r.remoteApp)
	if err != nil {
		return err
	}
	rr.m.addRevisionLocked(s, content)
	return nil
}

// ReadSecret returns the latest content of a secret the simulated
// application owns or was granted (through any relation, by its whole
// application or its first unit), as "secret-get --refresh" on its leader.
func (rr *RemoteRelation) ReadSecret(uri string) (map[string]string, error) {
	id, err := parseSecretURI(uri)
	if err != nil {
		return nil, err
	}
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	s := rr.m.secrets.Get(id)
	app := rr.r.remoteApp
	if s == nil {
		return nil, fmt.Errorf("secret %q not found", id)
	}
	if !jujuc.Owns(s, "", app) && !jujuc.CanConsume(s, app+"/0", app) {
		return nil, fmt.Errorf("secret %q: permission denied for %s", id, app)
	}
	return maps.Clone(s.Latest().Content), nil
}

// AddHost makes name resolve to addr in every container (for a service
// name such as "redis-k8s-0.redis-k8s-endpoints.<model>.svc.cluster.local").
// addr must be an IP address.
func (rr *RemoteRelation) AddHost(name, addr string) error {
	if net.ParseIP(addr) == nil {
		return fmt.Errorf("add host %s: %q is not an IP address", name, addr)
	}
	rr.m.mu.Lock()
	defer rr.m.mu.Unlock()
	if rr.m.extraHosts[name] == addr {
		return nil
	}
	rr.m.extraHosts[name] = addr
	return rr.m.writeHostsLocked()
}

// runProviderEvent runs one remote application hook. The model lock is not
// held: the remote application calls back into RemoteRelation.
func (m *Model) runProviderEvent(ctx context.Context, ev providerEvent) error {
	rr := &RemoteRelation{m: m, r: ev.rel}
	app := ev.rel.remote.app
	var err error
	switch ev.kind {
	case "created":
		err = app.Created(ctx, rr)
	case "changed":
		err = app.Changed(ctx, rr)
	case "broken":
		err = app.Broken(ctx, rr)
	}
	m.logf("%s: relation %d %s hook (simulated): %v", app.Name(), ev.relID, ev.kind, errString(err))
	if err != nil {
		return fmt.Errorf("simulated %s: relation %d %s: %w", app.Name(), ev.relID, ev.kind, err)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
