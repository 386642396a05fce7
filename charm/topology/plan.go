// Package topology decides, as a pure function, which Synapse processes run
// on which unit: the sticky main, and worker slots that keep their names
// and units until their unit leaves. The leader publishes the result (a
// Plan) in the peer application bag; every unit renders only from it.
package topology

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// SchemaVersion is the plan format this charm writes and reads. A plan
// with a newer version comes from a newer charm revision and is refused.
const SchemaVersion = 1

// Bounds a valid plan respects.
const (
	// MaxIndex is the highest worker port index on a unit.
	MaxIndex = 99
	// MaxGeneration leaves room to count up for the life of any deployment.
	MaxGeneration = 1 << 48
)

// Plan is the cluster plan.
type Plan struct {
	// Version is the plan's schema version.
	Version int `json:"version"`
	// Generation increases by one with every change.
	Generation int `json:"generation"`
	// Main is the unit running the main process.
	Main string `json:"main"`
	// Processes are every Synapse process, the main first, then by name.
	Processes []Process `json:"processes"`
	// Deferred are slots the configuration asks for that fitted on no unit
	// when they were placed: their duty stays with the main. They are
	// placed again only when the configuration changes, never as a side
	// effect of scaling, because moving a duty off the main restarts it.
	Deferred []string `json:"deferred,omitempty"`
	// Settings fingerprints the configuration the slots were placed for.
	Settings string `json:"settings,omitempty"`
	// SendersEpoch is the generation at which the set of federation
	// senders last changed. Synapse requires every sender to stop before
	// any starts with a new set; units hold their senders until all units
	// report they stopped for this epoch.
	SendersEpoch int `json:"senders_epoch,omitempty"`
}

// Process is one Synapse process: the main, or a worker slot.
type Process struct {
	// Name is the main's "main" or a slot name such as "generic-3"; it is the
	// worker_name Synapse stores in its stream positions, so it never changes.
	Name string `json:"name"`
	// Role is what the process does.
	Role workload.Role `json:"role"`
	// Unit runs the process.
	Unit string `json:"unit"`
	// Index numbers the process's ports on its unit (0 for the main).
	Index int `json:"index"`
}

// Settings are the configuration the plan depends on.
type Settings struct {
	EventPersisters      int
	FederationSenders    int
	Pushers              int
	KeepSingletonsOnMain bool
	MaxProcessesPerUnit  int
	// Media is true when S3 holds the media, so media may leave the main.
	Media bool
}

// View is everything the leader knows when it plans.
type View struct {
	// Units are the application's live units, including the leader and
	// excluding one that is departing.
	Units []string
	// Leader is the unit planning.
	Leader string
	// Current is the plan in the peer bag, nil before the first.
	Current *Plan
	// PreferredMain is where a new main goes when there is no current
	// plan or its main is not live: the unit whose volume holds the
	// homeserver's data, or the main a previous charm chose. Ignored when
	// not live.
	PreferredMain string
	// Cluster is true when PostgreSQL and Redis are available, so workers
	// can run; without them the main runs alone as a monolith.
	Cluster  bool
	Settings Settings
}

// Plan computes the next plan. It is deterministic, keeps the main and
// every slot where they are unless their unit left, and bumps the
// generation only when something changed.
func Compute(v View) Plan {
	units := sortedUnits(v.Units)
	live := map[string]bool{}
	for _, u := range units {
		live[u] = true
	}
	p := Plan{Version: SchemaVersion, Main: chooseMain(v, live, units)}
	p.Processes = []Process{{Name: string(workload.RoleMain), Role: workload.RoleMain, Unit: p.Main, Index: 0}}
	if v.Cluster {
		// With PostgreSQL and Redis the application is a cluster even on one
		// unit: its duties move to worker slots now, so that scaling up later
		// only adds generic workers and restarts nothing.
		p.Settings = v.Settings.fingerprint()
		workers, deferred := placeWorkers(v, p.Main, live, units)
		p.Processes = append(p.Processes, workers...)
		p.Deferred = deferred
	}
	sortProcesses(p.Processes)
	p.Generation = 1
	if v.Current != nil {
		p.Generation = v.Current.Generation
		if !sameLayout(*v.Current, p) {
			p.Generation++
		}
		p.SendersEpoch = v.Current.SendersEpoch
		if !reflect.DeepEqual(v.Current.senders(), p.senders()) {
			p.SendersEpoch = p.Generation
		}
	}
	return p
}

// senders lists the processes of the stop-together roles (federation
// senders) with their units.
func (p Plan) senders() []Process {
	var out []Process
	for _, proc := range p.Processes {
		if spec, ok := workload.Spec(proc.Role); ok && spec.StopTogether {
			out = append(out, proc)
		}
	}
	return out
}

func chooseMain(v View, live map[string]bool, units []string) string {
	if v.Current != nil && live[v.Current.Main] {
		return v.Current.Main
	}
	if live[v.PreferredMain] {
		return v.PreferredMain
	}
	if live[v.Leader] || len(units) == 0 {
		return v.Leader
	}
	return units[0]
}

// wanted lists the non-scalable slots the settings ask for, in placement
// order.
func wanted(s Settings) []string {
	var names []string
	add := func(role workload.Role, n int) {
		for i := 1; i <= n; i++ {
			names = append(names, slotName(role, i))
		}
	}
	add(workload.RoleFederationSend, s.FederationSenders)
	add(workload.RolePusher, s.Pushers)
	if !s.KeepSingletonsOnMain {
		add(workload.RoleBackground, 1)
		add(workload.RoleUserDirectory, 1)
	}
	if s.Media {
		add(workload.RoleMedia, 1)
	}
	add(workload.RoleEventPersister, s.EventPersisters)
	return names
}

func (s Settings) fingerprint() string {
	return fmt.Sprintf("e%d.f%d.p%d.k%t.m%d.s%t", s.EventPersisters, s.FederationSenders, s.Pushers, s.KeepSingletonsOnMain, s.MaxProcessesPerUnit, s.Media)
}

func placeWorkers(v View, main string, live map[string]bool, units []string) ([]Process, []string) {
	capacity := v.Settings.MaxProcessesPerUnit
	if capacity < 1 {
		capacity = 1
	}
	load := map[string]int{main: 1}
	used := map[string]map[int]bool{main: {0: true}}
	var out []Process
	keep := func(p Process) {
		out = append(out, p)
		load[p.Unit]++
		if used[p.Unit] == nil {
			used[p.Unit] = map[int]bool{}
		}
		used[p.Unit][p.Index] = true
	}
	freeIndex := func(unit string) int {
		for i := 1; ; i++ {
			if !used[unit][i] {
				return i
			}
		}
	}
	want := map[string]bool{}
	for _, name := range wanted(v.Settings) {
		want[name] = true
	}

	// Existing slots stay where they are while their unit lives (and is
	// not the main, which runs no generic worker of its own).
	var orphans []string
	genericOn := map[string]bool{}
	if v.Current != nil {
		for _, p := range v.Current.Processes {
			switch {
			case p.Role == workload.RoleMain:
			case p.Role == workload.RoleGeneric:
				if live[p.Unit] && p.Unit != main && !genericOn[p.Unit] {
					keep(p)
					genericOn[p.Unit] = true
				}
			case !want[p.Name]:
				// The configuration no longer asks for this slot.
			case live[p.Unit] && (p.Unit != main || p.Index != 0):
				keep(p)
			default:
				orphans = append(orphans, p.Name)
			}
		}
	}
	placed := map[string]bool{}
	for _, p := range out {
		placed[p.Name] = true
	}

	// Every non-main unit runs one generic worker, in unit order, taking the
	// lowest free generic slot number.
	generics := map[int]bool{}
	for _, p := range out {
		if p.Role == workload.RoleGeneric {
			generics[slotNumber(p.Name)] = true
		}
	}
	for _, u := range units {
		if u == main || genericOn[u] || load[u] >= capacity {
			continue
		}
		n := 1
		for generics[n] {
			n++
		}
		generics[n] = true
		keep(Process{Name: slotName(workload.RoleGeneric, n), Role: workload.RoleGeneric, Unit: u, Index: freeIndex(u)})
		placed[slotName(workload.RoleGeneric, n)] = true
	}

	// Orphaned and new slots go to the least-loaded non-main unit with room,
	// then to the main unit; a slot that fits nowhere stays a duty of main
	// (deferred). Deferred slots are retried only when the configuration
	// changed, so scaling never moves a duty off the main.
	var deferredBefore []string
	retry := true
	if v.Current != nil && len(v.Current.Processes) > 1 {
		deferredBefore = v.Current.Deferred
		retry = v.Current.Settings != v.Settings.fingerprint()
	}
	var deferred []string
	toPlace := orphans
	for _, name := range wanted(v.Settings) {
		if placed[name] || contains(orphans, name) {
			continue
		}
		if contains(deferredBefore, name) && !retry {
			deferred = append(deferred, name)
			continue
		}
		toPlace = append(toPlace, name)
	}
	sort.SliceStable(toPlace, func(i, j int) bool { return placementRank(toPlace[i]) < placementRank(toPlace[j]) })
	for _, name := range toPlace {
		unit := leastLoaded(units, main, load, capacity)
		if unit == "" {
			deferred = append(deferred, name)
			continue
		}
		keep(Process{Name: name, Role: roleOf(name), Unit: unit, Index: freeIndex(unit)})
	}
	sort.Slice(deferred, func(i, j int) bool { return placementRank(deferred[i]) < placementRank(deferred[j]) })
	return out, deferred
}

func leastLoaded(units []string, main string, load map[string]int, capacity int) string {
	best := ""
	for _, u := range units {
		if u == main || load[u] >= capacity {
			continue
		}
		if best == "" || load[u] < load[best] {
			best = u
		}
	}
	if best == "" && load[main] < capacity {
		best = main
	}
	return best
}

func placementRank(name string) int {
	role := roleOf(name)
	for i, s := range workload.Roles {
		if s.Role == role {
			return i*1000 + slotNumber(name)
		}
	}
	return 1 << 30
}

func slotName(role workload.Role, n int) string {
	return string(role) + "-" + strconv.Itoa(n)
}

func roleOf(name string) workload.Role {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return workload.Role(name)
	}
	return workload.Role(name[:i])
}

func slotNumber(name string) int {
	i := strings.LastIndexByte(name, '-')
	n, _ := strconv.Atoi(name[i+1:])
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unitNumber orders "app/10" after "app/9".
func unitNumber(unit string) int {
	i := strings.LastIndexByte(unit, '/')
	n, err := strconv.Atoi(unit[i+1:])
	if err != nil {
		return -1
	}
	return n
}

func sortedUnits(units []string) []string {
	out := append([]string(nil), units...)
	sort.Slice(out, func(i, j int) bool {
		ni, nj := unitNumber(out[i]), unitNumber(out[j])
		if ni != nj {
			return ni < nj
		}
		return out[i] < out[j]
	})
	return out
}

func sortProcesses(ps []Process) {
	sort.Slice(ps, func(i, j int) bool {
		if (ps[i].Role == workload.RoleMain) != (ps[j].Role == workload.RoleMain) {
			return ps[i].Role == workload.RoleMain
		}
		ri, rj := placementRank(ps[i].Name), placementRank(ps[j].Name)
		if ri != rj {
			return ri < rj
		}
		return ps[i].Name < ps[j].Name
	})
}

func sameLayout(a, b Plan) bool {
	return a.Main == b.Main && reflect.DeepEqual(a.Processes, b.Processes) &&
		reflect.DeepEqual(a.Deferred, b.Deferred) && a.Settings == b.Settings
}

// OnUnit returns the processes the plan gives unit.
func (p Plan) OnUnit(unit string) []Process {
	var out []Process
	for _, proc := range p.Processes {
		if proc.Unit == unit {
			out = append(out, proc)
		}
	}
	return out
}

// Holders returns the names of the processes with role.
func (p Plan) Holders(role workload.Role) []string {
	var out []string
	for _, proc := range p.Processes {
		if proc.Role == role {
			out = append(out, proc.Name)
		}
	}
	return out
}

// Encode renders the plan for the peer bag.
func (p Plan) Encode() string {
	data, _ := json.Marshal(p)
	return string(data)
}

// Decode reads a plan from the peer bag and validates it: a malformed plan,
// or one from a newer charm revision, is an error, never half-applied.
func Decode(s string) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var probe struct {
			Version int `json:"version"`
		}
		if json.Unmarshal([]byte(s), &probe) == nil && probe.Version > SchemaVersion {
			return nil, &NewerError{Version: probe.Version}
		}
		return nil, fmt.Errorf("malformed plan: %w", err)
	}
	if p.Version > SchemaVersion {
		return nil, &NewerError{Version: p.Version}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// NewerError is Decode's error for a plan written by a newer charm
// revision: only a refresh to that revision can read it.
type NewerError struct{ Version int }

func (e *NewerError) Error() string {
	return fmt.Sprintf("plan version %d is newer than this charm understands (%d): refresh the charm to the revision the leader runs", e.Version, SchemaVersion)
}

// Validate checks the rules Synapse and the charm rely on.
func (p Plan) Validate() error {
	if p.Version < 1 || p.Generation < 1 || p.Main == "" {
		return fmt.Errorf("malformed plan: version, generation and main are required")
	}
	if p.Generation > MaxGeneration || p.SendersEpoch < 0 || p.SendersEpoch > p.Generation {
		return fmt.Errorf("malformed plan: generation %d or senders epoch %d out of range", p.Generation, p.SendersEpoch)
	}
	names := map[string]bool{}
	ports := map[string]bool{}
	mains := 0
	for _, proc := range p.Processes {
		if proc.Name == "" || proc.Unit == "" || names[proc.Name] {
			return fmt.Errorf("malformed plan: process %q is unnamed, unplaced or duplicated", proc.Name)
		}
		names[proc.Name] = true
		key := proc.Unit + "#" + strconv.Itoa(proc.Index)
		if ports[key] {
			return fmt.Errorf("malformed plan: two processes share port index %d on %s", proc.Index, proc.Unit)
		}
		ports[key] = true
		if proc.Role == workload.RoleMain {
			mains++
			if proc.Unit != p.Main || proc.Index != 0 || proc.Name != "main" {
				return fmt.Errorf("malformed plan: the main process must be \"main\" on %s", p.Main)
			}
			continue
		}
		spec, ok := workload.Spec(proc.Role)
		if !ok || roleOf(proc.Name) != proc.Role || slotNumber(proc.Name) < 1 {
			return fmt.Errorf("malformed plan: process %q has unknown role %q", proc.Name, proc.Role)
		}
		if proc.Index < 1 || proc.Index > MaxIndex {
			// Worker ports are 8100+i, 8200+i and 9000+i: beyond 99 they
			// would collide with another slot's.
			return fmt.Errorf("malformed plan: process %q has port index %d, outside 1..%d", proc.Name, proc.Index, MaxIndex)
		}
		if spec.Single && slotNumber(proc.Name) != 1 {
			return fmt.Errorf("malformed plan: role %s takes one process, got %s", proc.Role, proc.Name)
		}
	}
	if mains != 1 {
		return fmt.Errorf("malformed plan: %d main processes", mains)
	}
	return nil
}
