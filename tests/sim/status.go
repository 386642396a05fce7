package sim

import (
	"maps"
	"sort"
	"time"
)

// UnitView is a snapshot of one unit.
type UnitView struct {
	// Name is e.g. "synapse/0"; Number is 0.
	Name   string
	Number int
	// Address is the unit's loopback address (its "pod IP").
	Address string
	// FQDN is the unit's stable DNS name.
	FQDN string
	// Leader reports leadership.
	Leader bool
	// Life is "alive" or "dying".
	Life string
	// WorkloadStatus is what the charm set (or "error" while a hook fails);
	// AgentStatus is the agent's ("idle", "executing", "allocating").
	WorkloadStatus, AgentStatus Status
	// History is every workload status, oldest first.
	History []Status
	// OpenedPorts are the committed port ranges, e.g. "8080/tcp".
	OpenedPorts []string
	// State is the committed charm state (state-set).
	State map[string]string
	// Dir, CharmDir and ContainersDir are the unit's host directories.
	Dir, CharmDir, ContainersDir string
	// StorageDirs maps storage names to the unit's host directories.
	StorageDirs map[string]string
	// FailedHook is the hook the unit is in error on, or "".
	FailedHook string
}

func (m *Model) unitView(u *unit) UnitView {
	v := UnitView{
		Name: u.name, Number: u.number, Address: u.address,
		FQDN:   UnitFQDN(m.opts.App, m.opts.ModelName, u.number),
		Leader: m.leader == u.name, Life: "alive",
		WorkloadStatus: u.workloadStatus, AgentStatus: u.agentStatus,
		History: append([]Status(nil), u.history...), State: maps.Clone(u.state),
		Dir: u.dir, CharmDir: u.charmDir, ContainersDir: u.containersDir,
		StorageDirs: maps.Clone(u.storageDirs),
	}
	if u.life == dying {
		v.Life = "dying"
	}
	for _, p := range u.ports {
		s := openPort{Protocol: p.Protocol, From: p.From, To: p.To}.String()
		if !contains(v.OpenedPorts, s) {
			v.OpenedPorts = append(v.OpenedPorts, s)
		}
	}
	if u.failure != nil {
		v.FailedHook = u.failure.spec.name
	}
	return v
}

// Units returns every unit, by number.
func (m *Model) Units() []UnitView {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []UnitView
	for _, u := range m.sortedUnits() {
		out = append(out, m.unitView(u))
	}
	return out
}

// Unit returns one unit.
func (m *Model) Unit(name string) (UnitView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[name]
	if u == nil {
		return UnitView{}, false
	}
	return m.unitView(u), true
}

// AppStatus is the application status the leader set ("unknown" if none).
func (m *Model) AppStatus() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appStatus
}

// WorkloadVersion is what application-version-set set.
func (m *Model) WorkloadVersion() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.workloadVersion
}

// RelationView is a snapshot of one relation and its committed bags.
type RelationView struct {
	// ID is the relation id; Endpoint our endpoint.
	ID       int
	Endpoint string
	// Interface is the relation interface.
	Interface string
	// Peer reports a peer relation.
	Peer bool
	// RemoteApp and RemoteEndpoint are the other side (our own application
	// for a peer relation).
	RemoteApp, RemoteEndpoint string
	// Dying reports a relation being removed.
	Dying bool
	// AppData is our application's bag; UnitData our units' bags.
	AppData  map[string]string
	UnitData map[string]map[string]string
	// RemoteAppData and RemoteUnitData are the remote application's bags
	// (for a peer relation, the same as AppData and UnitData).
	RemoteAppData  map[string]string
	RemoteUnitData map[string]map[string]string
}

func (m *Model) relationView(r *relation) RelationView {
	v := RelationView{
		ID: r.id, Endpoint: r.endpoint, Interface: r.iface, Peer: r.peer,
		RemoteApp: r.remoteApp, RemoteEndpoint: r.remoteEndpoint, Dying: r.dying,
		AppData: r.appBag.copy(), UnitData: map[string]map[string]string{},
		RemoteAppData: r.remoteAppBag.copy(), RemoteUnitData: map[string]map[string]string{},
	}
	for n, b := range r.unitBags {
		v.UnitData[n] = b.copy()
	}
	for n, b := range r.remoteUnitBags {
		v.RemoteUnitData[n] = b.copy()
	}
	return v
}

// Relations returns every relation, by id.
func (m *Model) Relations() []RelationView {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []RelationView
	for _, r := range m.sortedRelations() {
		out = append(out, m.relationView(r))
	}
	return out
}

// Relation returns one relation.
func (m *Model) Relation(id int) (RelationView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.relations[id]
	if r == nil {
		return RelationView{}, false
	}
	return m.relationView(r), true
}

// RelationOn returns the first live relation on one of our endpoints.
func (m *Model) RelationOn(endpoint string) (RelationView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.sortedRelations() {
		if r.endpoint == endpoint && !r.dying {
			return m.relationView(r), true
		}
	}
	return RelationView{}, false
}

// StatusDoc is the model in the shape of "juju status --format=json".
type StatusDoc struct {
	Model        ModelStatus                  `json:"model"`
	Machines     map[string]any               `json:"machines"`
	Applications map[string]ApplicationStatus `json:"applications"`
	Controller   map[string]string            `json:"controller"`
}

// ModelStatus is the "model" section.
type ModelStatus struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Controller  string     `json:"controller"`
	Cloud       string     `json:"cloud"`
	Region      string     `json:"region"`
	Version     string     `json:"version"`
	ModelStatus StatusInfo `json:"model-status"`
	SLA         string     `json:"sla"`
}

// StatusInfo is a status as juju status prints it.
type StatusInfo struct {
	Current string `json:"current"`
	Message string `json:"message,omitempty"`
	Since   string `json:"since,omitempty"`
	Version string `json:"version,omitempty"`
}

// ApplicationStatus is one application.
type ApplicationStatus struct {
	Charm             string                  `json:"charm"`
	CharmOrigin       string                  `json:"charm-origin"`
	CharmName         string                  `json:"charm-name"`
	CharmRev          int                     `json:"charm-rev"`
	Exposed           bool                    `json:"exposed"`
	Scale             int                     `json:"scale"`
	ApplicationStatus StatusInfo              `json:"application-status"`
	Relations         map[string][]RelatedApp `json:"relations,omitempty"`
	Units             map[string]UnitStatus   `json:"units,omitempty"`
	Version           string                  `json:"version,omitempty"`
	EndpointBindings  map[string]string       `json:"endpoint-bindings,omitempty"`
}

// RelatedApp is one entry of an application's relations.
type RelatedApp struct {
	RelatedApplication string `json:"related-application"`
	Interface          string `json:"interface"`
	Scope              string `json:"scope"`
}

// UnitStatus is one unit.
type UnitStatus struct {
	WorkloadStatus StatusInfo `json:"workload-status"`
	JujuStatus     StatusInfo `json:"juju-status"`
	Leader         bool       `json:"leader,omitempty"`
	Address        string     `json:"address,omitempty"`
	ProviderID     string     `json:"provider-id,omitempty"`
	OpenPorts      []string   `json:"open-ports,omitempty"`
}

// statusTime formats a time as juju status does.
func statusTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("02 Jan 2006 15:04:05Z07:00")
}

func statusInfo(s Status) StatusInfo {
	return StatusInfo{Current: s.Status, Message: s.Message, Since: statusTime(s.Since)}
}

// severity orders workload statuses for the derived application status.
var severity = map[string]int{
	"error": 100, "blocked": 90, "waiting": 80, "maintenance": 70,
	"terminated": 60, "active": 50, "unknown": 40,
}

// Status returns the model as "juju status --format=json" shows it. The
// application status is the one the leader set, or, if it never set one,
// the most severe unit workload status, as Juju derives it.
func (m *Model) Status() *StatusDoc {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().UTC()
	doc := &StatusDoc{
		Model: ModelStatus{
			Name: m.opts.ModelName, Type: "caas", Controller: "jujusim", Cloud: "jujusim-k8s",
			Region: "localhost", Version: m.opts.JujuVersion,
			ModelStatus: StatusInfo{Current: "available", Since: statusTime(now)}, SLA: "unsupported",
		},
		Machines:     map[string]any{},
		Applications: map[string]ApplicationStatus{},
		Controller:   map[string]string{"timestamp": now.Format("15:04:05Z")},
	}
	if !m.deployed {
		return doc
	}
	app := ApplicationStatus{
		Charm: "local:" + m.meta.Name + "-0", CharmOrigin: "local", CharmName: m.meta.Name,
		Version: m.workloadVersion, Units: map[string]UnitStatus{}, Relations: map[string][]RelatedApp{},
		EndpointBindings: map[string]string{"": "alpha"},
	}
	derived := Status{Status: "unknown"}
	for _, u := range m.sortedUnits() {
		if u.life == alive {
			app.Scale++
		}
		us := UnitStatus{
			WorkloadStatus: statusInfo(u.workloadStatus),
			JujuStatus:     statusInfo(u.agentStatus),
			Leader:         m.leader == u.name,
			Address:        u.address,
			ProviderID:     m.opts.App + "-" + itoa(u.number),
		}
		us.JujuStatus.Version = m.opts.JujuVersion
		for _, p := range u.ports {
			s := openPort{Protocol: p.Protocol, From: p.From, To: p.To}.String()
			if !contains(us.OpenPorts, s) {
				us.OpenPorts = append(us.OpenPorts, s)
			}
		}
		app.Units[u.name] = us
		if severity[u.workloadStatus.Status] > severity[derived.Status] {
			derived = u.workloadStatus
		}
	}
	for _, ep := range append(append(m.meta.peerEndpoints(), sortedMapKeys(m.meta.Requires)...), sortedMapKeys(m.meta.Provides)...) {
		app.EndpointBindings[ep] = "alpha"
	}
	appSt := m.appStatus
	if appSt.Status == "unknown" && appSt.Message == "" {
		appSt = derived
	}
	app.ApplicationStatus = statusInfo(appSt)
	remote := map[string]*ApplicationStatus{}
	for _, r := range m.sortedRelations() {
		if r.dying {
			continue
		}
		app.Relations[r.endpoint] = append(app.Relations[r.endpoint], RelatedApp{RelatedApplication: r.remoteApp, Interface: r.iface, Scope: "global"})
		if r.peer {
			continue
		}
		ra := remote[r.remoteApp]
		if ra == nil {
			ra = &ApplicationStatus{
				Charm: "ch:" + r.remote.app.Charm(), CharmOrigin: "charmhub", CharmName: r.remote.app.Charm(),
				Scale: r.remote.units, ApplicationStatus: StatusInfo{Current: "active", Since: statusTime(r.created)},
				Relations: map[string][]RelatedApp{}, Units: map[string]UnitStatus{},
			}
			for i, n := range r.remoteUnitNames() {
				ra.Units[n] = UnitStatus{
					WorkloadStatus: StatusInfo{Current: "active", Since: statusTime(r.created)},
					JujuStatus:     StatusInfo{Current: "idle", Since: statusTime(r.created), Version: m.opts.JujuVersion},
					Leader:         i == 0,
					Address:        r.remote.unitAddress(i),
				}
			}
			remote[r.remoteApp] = ra
		}
		ra.Relations[r.remoteEndpoint] = append(ra.Relations[r.remoteEndpoint], RelatedApp{RelatedApplication: m.opts.App, Interface: r.iface, Scope: "global"})
	}
	doc.Applications[m.opts.App] = app
	for name, ra := range remote {
		doc.Applications[name] = *ra
	}
	return doc
}

func sortedMapKeys(mp map[string]string) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
