package jujutest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
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

// findRelation resolves "endpoint:N" or "N" as the tools' -r flag does. The
// endpoint, when given, must be the relation's.
func (m *Memory) findRelation(id string) (*relation, error) {
	endpoint, num, hasEndpoint := "", id, false
	if i := strings.LastIndexByte(id, ':'); i >= 0 {
		endpoint, num, hasEndpoint = id[:i], id[i+1:], true
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return nil, fmt.Errorf("invalid value %q for option -r: invalid relation id", id)
	}
	r, ok := m.relations[n]
	if !ok || (hasEndpoint && endpoint != r.endpoint) {
		return nil, fmt.Errorf("invalid value %q for option -r: relation not found", id)
	}
	return r, nil
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

func (m *Memory) relationIDs(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usage("expected one endpoint name, got %q", c.args)
	}
	return jsonOut(m.relationIDs1(c.args[0]))
}

func (m *Memory) relationList(c *call, _ []byte) ([]byte, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	r, err := m.relationFlag(c)
	if err != nil {
		return nil, err
	}
	if c.bool("app") {
		return jsonOut(r.remoteApp)
	}
	units := r.units
	if units == nil {
		units = []string{}
	}
	return jsonOut(units)
}

// appOf returns the application of a unit name ("x/1" -> "x"), or "" if
// name is not a unit name.
func appOf(name string) string {
	app, n, ok := strings.Cut(name, "/")
	if !ok || app == "" || n == "" {
		return ""
	}
	if _, err := strconv.Atoi(n); err != nil {
		return ""
	}
	return app
}

func (m *Memory) relationGet(c *call, _ []byte) ([]byte, error) {
	r, err := m.relationFlag(c)
	if err != nil {
		return nil, err
	}
	key := ""
	args := c.args
	if len(args) > 0 {
		if args[0] != "-" {
			key = args[0]
		}
		args = args[1:]
	}
	if len(args) == 0 {
		// Juju would use the hook's remote unit or application.
		return nil, usage("no unit or application specified")
	}
	if len(args) > 1 {
		return nil, usage("unrecognized args: %q", args[1:])
	}
	owner, app := args[0], c.bool("app")
	if app {
		if a := appOf(owner); a != "" {
			owner = a
		}
	} else if appOf(owner) == "" {
		if !strings.Contains(owner, "/") {
			return nil, usage("expected unit name, got application name %q", owner)
		}
		return nil, usage("invalid unit name %q", owner)
	}
	if err := m.canRead(r, owner, app); err != nil {
		return nil, err
	}
	bag := r.bags[bagKey{owner, app}]
	if key != "" {
		v, ok := bag[key]
		if !ok {
			return jsonOut(nil)
		}
		return jsonOut(v)
	}
	if bag == nil {
		return []byte("{}\n"), nil
	}
	return jsonOut(bag)
}

// errPermission is Juju's answer to a read or write a unit may not make.
var errPermission = errors.New("permission denied")

// canRead applies Juju's rules for reading a bag: one's own unit bag; one's
// own application bag if leader, or on a peer relation; the bags of the
// remote application and its units (departed ones included).
func (m *Memory) canRead(r *relation, owner string, app bool) error {
	switch {
	case app && owner == m.app:
		if m.leader || r.peer(m.app) {
			return nil
		}
		return errPermission
	case app:
		if owner == r.remoteApp {
			return nil
		}
		return errPermission
	case owner == m.unit:
		return nil
	case appOf(owner) == r.remoteApp:
		return nil
	}
	return errPermission
}

// readSettings reads relation-set's or state-set's --file: a YAML (or JSON)
// map of strings; "-" is stdin.
func readSettings(path string, stdin []byte) (map[string]string, error) {
	data := stdin
	if path != "-" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	kv := map[string]string{}
	if len(strings.TrimSpace(string(data))) == 0 {
		return kv, nil
	}
	// JSON first (what juju.Tools sends, and fast); YAML as Juju reads it.
	if err := json.Unmarshal(data, &kv); err == nil {
		return kv, nil
	}
	kv = map[string]string{}
	if err := yaml.Unmarshal(data, &kv); err != nil {
		return nil, fmt.Errorf("cannot parse settings: %v", err)
	}
	return kv, nil
}

// settingsFromCall merges --file and key=value arguments, arguments winning,
// as relation-set and state-set do.
func settingsFromCall(c *call, stdin []byte) (map[string]string, error) {
	overrides, err := parseKeyValues(c.args)
	if err != nil {
		return nil, usageError{err}
	}
	if !c.has("file") {
		return overrides, nil
	}
	settings, err := readSettings(c.value("file"), stdin)
	if err != nil {
		return nil, err
	}
	maps.Copy(settings, overrides)
	return settings, nil
}

func (m *Memory) relationSet(c *call, stdin []byte) ([]byte, error) {
	r, err := m.relationFlag(c)
	if err != nil {
		return nil, err
	}
	settings, err := settingsFromCall(c, stdin)
	if err != nil {
		return nil, err
	}
	key := bagKey{m.unit, false}
	if c.bool("app") {
		if !m.leader {
			return nil, errors.New("cannot write relation settings")
		}
		key = bagKey{m.app, true}
	}
	bag := r.bags[key]
	if bag == nil {
		bag = make(map[string]string, len(settings))
		r.bags[key] = bag
	}
	for k, v := range settings {
		if v == "" {
			delete(bag, k)
		} else {
			bag[k] = v
		}
	}
	return nil, nil
}
