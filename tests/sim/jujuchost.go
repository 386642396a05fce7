package sim

import (
	"sort"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// jujucHost serves the relation and secret tools (package jujuc) from the
// model: reads see the hook's own pending writes, and writes are buffered
// in the hook context until the hook exits 0.
type jujucHost struct{ tc *toolCall }

func (tc *toolCall) host() jujuc.Host { return jujucHost{tc} }

func (h jujucHost) Unit() string      { return h.tc.u.name }
func (h jujucHost) App() string       { return h.tc.m.opts.App }
func (h jujucHost) IsLeader() bool    { return h.tc.isLeader() }
func (h jujucHost) ModelUUID() string { return h.tc.m.opts.ModelUUID }

func (h jujucHost) HookRelation() jujuc.HookRelation {
	spec := h.tc.hc.spec
	if spec.relID < 0 || h.tc.m.relations[spec.relID] == nil {
		return jujuc.HookRelation{ID: -1}
	}
	return jujuc.HookRelation{ID: spec.relID, RemoteUnit: spec.remoteUnit, RemoteApp: spec.remoteApp}
}

func (h jujucHost) Relations() []jujuc.Relation {
	m, u := h.tc.m, h.tc.u
	var out []jujuc.Relation
	for _, r := range m.sortedRelations() {
		ur := u.rel[r.id]
		if ur == nil {
			continue
		}
		out = append(out, jujuc.Relation{
			ID: r.id, Endpoint: r.endpoint, RemoteApp: r.remoteApp, Peer: r.peer,
			InScope: ur.inScope, Members: sortedUnitNames(ur.joined), Key: r.key(m.opts.App),
		})
	}
	return out
}

func (h jujucHost) Bag(id int, owner string, app bool) (map[string]string, bool) {
	tc := h.tc
	r := tc.m.relations[id]
	switch {
	case r == nil:
		return nil, false
	case !app && owner == tc.u.name:
		return tc.hc.pendingBag(r.unitBags[owner], tc.hc.relUnit[id]), true
	case app && owner == tc.m.opts.App:
		if tc.isLeader() {
			return tc.hc.pendingBag(r.appBag, tc.hc.relApp[id]), true
		}
		return r.appBag.copy(), true
	case app:
		return r.remoteAppBag.copy(), true
	}
	b := r.remoteUnitBag(owner)
	if b == nil {
		return nil, false
	}
	return b.copy(), true
}

func (h jujucHost) SetBag(id int, app bool, settings map[string]string) {
	tc := h.tc
	target, bagName := tc.hc.relUnit, tc.u.name
	if app {
		target, bagName = tc.hc.relApp, tc.m.opts.App
	}
	if target[id] == nil {
		target[id] = map[string]string{}
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		target[id][k] = settings[k]
		w := &BagWrite{Unit: tc.u.name, Hook: tc.hc.spec.name, RelationID: id, Bag: bagName, Key: k, Value: settings[k]}
		tc.hc.writes = append(tc.hc.writes, w)
		tc.m.rec.addBagWrite(w)
	}
}

func (h jujucHost) Secrets() *jujuc.Secrets            { return h.tc.m.secrets }
func (h jujucHost) PendingSecretOps() []jujuc.SecretOp { return h.tc.hc.secrets }
func (h jujucHost) AddSecretOp(op jujuc.SecretOp)      { h.tc.hc.secrets = append(h.tc.hc.secrets, op) }
