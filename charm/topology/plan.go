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

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
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
	// Deferred are slots the configuration asks for that are not placed:
	// they fitted on no unit, or adding them restarts processes and waits
	// for a planned restart. Their duty stays with the main (a reader's
	// pool falls back to the main). Readers are retried on every plan;
	// the others only at a planned restart, never as a side effect of
	// scaling.
	Deferred []string `json:"deferred,omitempty"`
	// Settings fingerprints the configuration the slots were placed for.
	Settings string `json:"settings,omitempty"`
	// RestartToken is the Settings.RestartToken the plan was made with.
	RestartToken string `json:"restart_token,omitempty"`
	// Drained maps a slot named in workers_ignore_list to the unit it was
	// drained from, which it avoids while it is listed.
	Drained map[string]string `json:"drained,omitempty"`
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
	// Preset names the entry of Presets that gives each role its count at
	// the number of live units; unknown or empty is the balanced preset.
	Preset string
	// Counts are the roles whose count the operator set: they replace the
	// preset's, whatever the number of units.
	Counts map[workload.Role]int
	// KeepSingletonsOnMain gives every Single role the preset counts a
	// count of 0, except the media worker, which is pinned to the main's
	// unit anyway while the media is local. Counts still apply.
	KeepSingletonsOnMain bool
	MaxProcessesPerUnit  int
	// Media is true when S3 holds the media, so the media worker may run
	// on any unit; otherwise it runs on the main's unit.
	Media bool
	// Ignore lists units ("synapse/3": it runs no workers) and slots
	// ("pusher-1": drained from the unit it ran on when listed).
	Ignore []string
	// RestartToken changes exactly when every process restarts anyway
	// (a Synapse upgrade, a change of the configuration every process
	// reads): a new one is a planned restart, when the plan rebalances.
	RestartToken string
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
		p.RestartToken = v.Settings.RestartToken
		workers, deferred, drained := placeWorkers(v, p.Main, live, units)
		p.Processes = append(p.Processes, workers...)
		p.Deferred = deferred
		p.Drained = drained
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

// Wanted lists the slots other than generic workers that the settings ask
// for at the given number of live units, in placement order: the preset's
// counts, keep_singletons_on_main, then the operator's counts.
func Wanted(s Settings, units int) []string {
	preset, ok := Presets[s.Preset]
	if !ok {
		preset = Presets[config.PresetBalanced]
	}
	var names []string
	for _, spec := range workload.Roles {
		if spec.Scalable {
			continue
		}
		count := preset.Count(spec.Role, units)
		if s.KeepSingletonsOnMain && spec.Single && !spec.OnMainUnitWhileLocalMedia {
			count = 0
		}
		if c, ok := s.Counts[spec.Role]; ok {
			count = c
		}
		if spec.Single {
			count = min(count, 1)
		}
		for i := 1; i <= min(count, config.MaxRoleCount); i++ {
			names = append(names, slotName(spec.Role, i))
		}
	}
	return names
}

func (s Settings) fingerprint() string {
	preset := s.Preset
	if _, ok := Presets[preset]; !ok {
		preset = config.PresetBalanced
	}
	var counts []string
	for role, n := range s.Counts {
		counts = append(counts, fmt.Sprintf("%s=%d", role, n))
	}
	sort.Strings(counts)
	ignore := append([]string(nil), s.Ignore...)
	sort.Strings(ignore)
	// Not Media: integrating S3 restarts only the media worker (its keys),
	// so it is no planned restart; the media worker moves off the main's
	// unit at the next one. Removing S3 brings it back at once (hosts).
	return fmt.Sprintf("%s.c[%s].k%t.m%d.i[%s]", preset, strings.Join(counts, ","), s.KeepSingletonsOnMain,
		s.MaxProcessesPerUnit, strings.Join(ignore, ","))
}

// plannedRestart reports whether every process restarts anyway with this
// plan, so that slots may be added and moved: the first cluster plan, a
// change of the topology options, or a new restart token (a plan from a
// revision without tokens adopts the first one without moving anything).
func plannedRestart(cur *Plan, s Settings) bool {
	return cur == nil || cur.Settings == "" || cur.Settings != s.fingerprint() ||
		(cur.RestartToken != "" && cur.RestartToken != s.RestartToken)
}

// restartsAll reports whether every process restarts with this plan
// anyway: a new restart token (an upgrade, a server-wide option), or a
// topology change that adds or removes a slot of a role whose holders
// every process reads (stream writers).
func restartsAll(cur *Plan, s Settings, want []string) bool {
	switch {
	case cur.Settings == "":
		return false // the first cluster plan: nothing placed yet to move
	case cur.RestartToken != "" && cur.RestartToken != s.RestartToken:
		return true
	case cur.Settings == s.fingerprint():
		return false
	}
	all := func(name string) bool {
		spec, ok := workload.Spec(workload.SlotRole(name))
		return ok && spec.Restart == workload.RestartAll
	}
	running := map[string]bool{}
	for _, p := range cur.Processes {
		running[p.Name] = true
		if all(p.Name) && !contains(want, p.Name) {
			return true
		}
	}
	for _, name := range want {
		if all(name) && !running[name] {
			return true
		}
	}
	return false
}

// onlyRouting reports whether adding, removing or moving the slot changes
// only nginx's pools: generic workers and readers.
func onlyRouting(name string) bool {
	spec, ok := workload.Spec(workload.SlotRole(name))
	return ok && spec.Restart == workload.RestartRouting
}

func placeWorkers(v View, main string, live map[string]bool, units []string) ([]Process, []string, map[string]string) {
	s := v.Settings
	capacity := max(s.MaxProcessesPerUnit, 1)
	cur := v.Current
	planned := plannedRestart(cur, s)
	if cur == nil {
		cur = &Plan{}
	}

	// workers_ignore_list: units that run no workers, and slots that
	// avoid the unit they ran on when listed ("" when they ran nowhere).
	ignoredUnit := map[string]bool{}
	var drained map[string]string
	for _, name := range s.Ignore {
		if strings.Contains(name, "/") {
			ignoredUnit[name] = true
			continue
		}
		if drained == nil {
			drained = map[string]string{}
		}
		if from, ok := cur.Drained[name]; ok {
			drained[name] = from
			continue
		}
		drained[name] = ""
		for _, p := range cur.Processes {
			if p.Name == name && p.Role != workload.RoleMain {
				drained[name] = p.Unit
			}
		}
	}
	// A unit a generic worker was drained from runs none while it is
	// listed: every other unit has its own.
	noGeneric := map[string]bool{}
	for name, from := range drained {
		if workload.SlotRole(name) == workload.RoleGeneric {
			noGeneric[from] = true
		}
	}
	hosts := func(name, unit string) bool {
		if !live[unit] || ignoredUnit[unit] || (drained[name] == unit && unit != "") {
			return false
		}
		spec, _ := workload.Spec(workload.SlotRole(name))
		return unit == main || s.Media || !spec.OnMainUnitWhileLocalMedia
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
	want := Wanted(s, len(units))
	wanted := map[string]bool{}
	for _, name := range want {
		wanted[name] = true
	}

	// Existing slots stay where they are while their unit may host them.
	// A slot the configuration no longer asks for goes at a planned
	// restart, or at once when only routing changes; otherwise it stays
	// until the next planned restart (removing it would restart others).
	var orphans []string
	genericOn := map[string]bool{}
	for _, p := range cur.Processes {
		switch {
		case p.Role == workload.RoleMain:
		case p.Role == workload.RoleGeneric:
			if hosts(p.Name, p.Unit) && p.Unit != main && !genericOn[p.Unit] && !noGeneric[p.Unit] {
				keep(p)
				genericOn[p.Unit] = true
			}
		case !wanted[p.Name] && (planned || onlyRouting(p.Name) || !hosts(p.Name, p.Unit)):
		case hosts(p.Name, p.Unit) && (p.Unit != main || p.Index != 0):
			keep(p)
		default:
			orphans = append(orphans, p.Name)
		}
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
		if u == main || genericOn[u] || noGeneric[u] || ignoredUnit[u] || load[u] >= capacity {
			continue
		}
		n := 1
		for generics[n] {
			n++
		}
		generics[n] = true
		keep(Process{Name: slotName(workload.RoleGeneric, n), Role: workload.RoleGeneric, Unit: u, Index: freeIndex(u)})
	}

	// When every process restarts anyway, slots on the main's unit
	// (placed there when it was alone or full) move to the least-loaded
	// other unit with room, keeping their names: the main is the busiest
	// process. A topology change that restarts only some processes (a
	// reader added, pushers changed) moves nothing else.
	if restartsAll(cur, s, want) {
		sortProcesses(out)
		for i, p := range out {
			if p.Unit != main {
				continue
			}
			to := leastLoaded(units, main, load, capacity, func(u string) bool { return u != main && hosts(p.Name, u) })
			if to == "" {
				continue
			}
			load[main]--
			delete(used[main], p.Index)
			out[i].Unit, out[i].Index = to, freeIndex(to)
			load[to]++
			if used[to] == nil {
				used[to] = map[int]bool{}
			}
			used[to][out[i].Index] = true
		}
	}

	// Orphans are placed at once (their unit left or may no longer host
	// them); new and deferred slots at a planned restart, or at once when
	// only routing changes. A slot that fits nowhere is deferred.
	placed := map[string]bool{}
	for _, p := range out {
		placed[p.Name] = true
	}
	var toPlace, deferred []string
	for _, name := range want {
		switch {
		case placed[name]:
		case planned || onlyRouting(name) || contains(orphans, name):
			toPlace = append(toPlace, name)
		default:
			deferred = append(deferred, name)
		}
	}
	for _, name := range toPlace {
		unit := leastLoaded(units, main, load, capacity, func(u string) bool { return hosts(name, u) })
		if unit == "" {
			deferred = append(deferred, name)
			continue
		}
		keep(Process{Name: name, Role: workload.SlotRole(name), Unit: unit, Index: freeIndex(unit)})
	}
	sort.Slice(deferred, func(i, j int) bool { return placementRank(deferred[i]) < placementRank(deferred[j]) })
	return out, deferred, drained
}

// leastLoaded picks the non-main unit with room that may host the slot
// and runs the fewest processes, else the main's unit if it has room.
func leastLoaded(units []string, main string, load map[string]int, capacity int, may func(string) bool) string {
	best := ""
	for _, u := range units {
		if u == main || load[u] >= capacity || !may(u) {
			continue
		}
		if best == "" || load[u] < load[best] {
			best = u
		}
	}
	if best == "" && load[main] < capacity && may(main) {
		best = main
	}
	return best
}

func placementRank(name string) int {
	role := workload.SlotRole(name)
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
		reflect.DeepEqual(a.Deferred, b.Deferred) && a.Settings == b.Settings &&
		a.RestartToken == b.RestartToken && reflect.DeepEqual(a.Drained, b.Drained)
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
		if !ok || workload.SlotRole(proc.Name) != proc.Role || slotNumber(proc.Name) < 1 {
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
	for _, name := range p.Deferred {
		spec, ok := workload.Spec(workload.SlotRole(name))
		if !ok || spec.Scalable || slotNumber(name) < 1 || names[name] || (spec.Single && slotNumber(name) != 1) {
			return fmt.Errorf("malformed plan: deferred slot %q is unknown, placed or listed twice", name)
		}
		names[name] = true
	}
	for name := range p.Drained {
		if _, ok := workload.Spec(workload.SlotRole(name)); !ok || slotNumber(name) < 1 {
			return fmt.Errorf("malformed plan: drained slot %q has an unknown role", name)
		}
	}
	return nil
}
