package jujutest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// memHost serves the relation and secret tools (package jujuc, shared with
// the simulator) from Memory: every relation is in scope, there is no hook
// relation, and writes apply at once. The caller holds m.mu.
type memHost struct{ m *Memory }

func (h memHost) Unit() string                     { return h.m.unit }
func (h memHost) App() string                      { return h.m.app }
func (h memHost) IsLeader() bool                   { return h.m.leader }
func (h memHost) ModelUUID() string                { return "jujutest" }
func (h memHost) HookRelation() jujuc.HookRelation { return jujuc.HookRelation{ID: -1} }

func (h memHost) Relations() []jujuc.Relation {
	var out []jujuc.Relation
	for _, id := range sortedIDs(h.m.relations) {
		r := h.m.relations[id]
		out = append(out, jujuc.Relation{ID: r.id, Endpoint: r.endpoint, RemoteApp: r.remoteApp,
			Peer: r.peer(h.m.app), InScope: true, Members: r.units, Key: r.name()})
	}
	return out
}

// Bag exists for this unit, either application, and any remote unit that
// is a member or wrote a bag.
func (h memHost) Bag(id int, owner string, app bool) (map[string]string, bool) {
	r := h.m.relations[id]
	bag, ok := r.bags[bagKey{owner, app}]
	if !ok && (app || owner == h.m.unit || slicesContains(r.units, owner)) {
		return map[string]string{}, true
	}
	return bag, ok
}

func (h memHost) SetBag(id int, app bool, settings map[string]string) {
	key := bagKey{h.m.unit, false}
	if app {
		key = bagKey{h.m.app, true}
	}
	r := h.m.relations[id]
	bag := r.bags[key]
	if bag == nil {
		bag = map[string]string{}
		r.bags[key] = bag
	}
	for k, v := range settings {
		if v == "" {
			delete(bag, k)
		} else {
			bag[k] = v
		}
	}
}

func (h memHost) Secrets() *jujuc.Secrets            { return h.m.secrets }
func (h memHost) PendingSecretOps() []jujuc.SecretOp { return nil }
func (h memHost) AddSecretOp(op jujuc.SecretOp)      { h.m.secrets.Apply(op) }

// newSecretIDs mints Memory's predictable secret ids, valid xids.
func newSecretIDs() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("d%019d", n)
	}
}

func sortedIDs(rels map[int]*relation) []int {
	return slices.Sorted(maps.Keys(rels))
}

func slicesContains(list []string, s string) bool { return slices.Contains(list, s) }
