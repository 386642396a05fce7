package jujutest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// relation is one relation as this unit sees it.
type relation struct {
	// id is the relation number; endpoint:id is how the tools name it.
	id int
	// endpoint is this application's endpoint, e.g. "database".
	endpoint string
	// remoteApp is the other application; this application on a peer
	// relation.
	remoteApp string
	// units are the remote units in the relation, sorted.
	units []string
	// bags holds every databag by owner.
	bags map[bagKey]map[string]string
}

// bagKey names one databag: a unit's, or an application's.
type bagKey struct {
	owner string
	app   bool
}

// name returns "endpoint:id".
func (r *relation) name() string {
	return r.endpoint + ":" + strconv.Itoa(r.id)
}

// peer reports whether this is a peer relation.
func (r *relation) peer(app string) bool {
	return r.remoteApp == app
}

// AddRelation adds a relation on endpoint to remoteApp (this application for
// a peer relation) with the given remote units, and returns its ID,
// "endpoint:N". IDs count up from 0 across endpoints, as in a model. This
// unit is never one of its own remote units.
func (m *Memory) AddRelation(endpoint, remoteApp string, units ...string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &relation{
		id:        m.nextRelation,
		endpoint:  endpoint,
		remoteApp: remoteApp,
		bags:      map[bagKey]map[string]string{},
	}
	m.nextRelation++
	for _, u := range units {
		if u != m.unit && !slices.Contains(r.units, u) {
			r.units = append(r.units, u)
		}
	}
	slices.Sort(r.units)
	m.relations[r.id] = r
	return r.name()
}

// RemoveRelation removes a relation, as after relation-broken.
func (m *Memory) RemoveRelation(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.mustRelation(id)
	delete(m.relations, r.id)
}

// AddRelationUnit adds a remote unit to a relation (relation-joined).
func (m *Memory) AddRelationUnit(id, unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.mustRelation(id)
	if unit != m.unit && !slices.Contains(r.units, unit) {
		r.units = append(r.units, unit)
		slices.Sort(r.units)
	}
}

// RemoveRelationUnit removes a remote unit from a relation
// (relation-departed). Its bag stays readable, as in Juju.
func (m *Memory) RemoveRelationUnit(id, unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.mustRelation(id)
	r.units = slices.DeleteFunc(r.units, func(u string) bool { return u == unit })
}

// RelationIDs returns the IDs of the relations on endpoint, in ID order.
func (m *Memory) RelationIDs(endpoint string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.relationIDs1(endpoint)
}

func (m *Memory) relationIDs1(endpoint string) []string {
	nums := make([]int, 0, len(m.relations))
	for n, r := range m.relations {
		if r.endpoint == endpoint {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	ids := make([]string, len(nums))
	for i, n := range nums {
		ids[i] = m.relations[n].name()
	}
	return ids
}

// RelationUnits returns a relation's remote units.
func (m *Memory) RelationUnits(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mustRelation(id).units)
}

// SetRelationData replaces a whole bag: owner's unit bag, or with app its
// application bag (owner is then an application name). Any owner may be set
// here (a test plays every side); the tools enforce who may write what.
func (m *Memory) SetRelationData(id, owner string, app bool, data map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.mustRelation(id)
	bag := make(map[string]string, len(data))
	for k, v := range data {
		if v != "" {
			bag[k] = v
		}
	}
	r.bags[bagKey{owner, app}] = bag
}

// RelationData returns a copy of a bag (empty, not nil, if nobody wrote it).
func (m *Memory) RelationData(id, owner string, app bool) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.mustRelation(id)
	bag := maps.Clone(r.bags[bagKey{owner, app}])
	if bag == nil {
		bag = map[string]string{}
	}
	return bag
}

// mustRelation finds a relation for a setter; a bad ID is a test bug.
func (m *Memory) mustRelation(id string) *relation {
	r, err := m.findRelation(id)
	if err != nil {
		panic("jujutest: " + err.Error())
	}
	return r
}

// findRelation resolves "endpoint:N" or "N" as the tools' -r flag does
// (jujuc.ParseRelationID: the endpoint is ignored, as in Juju).
func (m *Memory) findRelation(id string) (*relation, error) {
	rel, err := jujuc.ParseRelationID(memHost{m}, id)
	if err != nil {
		return nil, fmt.Errorf("invalid value %q for flag -r: %w", id, err)
	}
	return m.relations[rel.ID], nil
}

// relationFlag returns the relation named by -r, which Memory requires (it
// has no hook relation to default to).
func (m *Memory) relationFlag(c *call) (*relation, error) {
	if !c.has("r") {
		return nil, usage("no relation id specified")
	}
	r, err := m.findRelation(c.value("r"))
	if err != nil {
		return nil, usageError{err}
	}
	return r, nil
}
