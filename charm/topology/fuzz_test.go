package topology_test

// Fuzz targets for the peer plan: Decode reads it from the peer
// application bag (outside input for every unit), Compute derives the next
// one. Run one with, e.g.:
//
//	go test -run XXX -fuzz FuzzCompute -fuzztime 30s ./charm/topology/
//
// Plain `go test` runs the f.Add seeds and every file under
// testdata/fuzz/<target>/.

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// fuzzPlans are plans as the charm publishes them, for seeds.
func fuzzPlans() []string {
	s := topology.Settings{Preset: config.PresetMinimal, MaxProcessesPerUnit: 4}
	one := topology.Compute(topology.View{Units: []string{"synapse/0"}, Leader: "synapse/0", Settings: s})
	clustered := topology.Compute(topology.View{Units: []string{"synapse/0"}, Leader: "synapse/0", Cluster: true, Settings: s})
	three := topology.Compute(topology.View{Units: []string{"synapse/0", "synapse/1", "synapse/2"}, Leader: "synapse/0", Current: &clustered, Cluster: true, Settings: s})
	big := topology.Settings{Preset: config.PresetOneOfEach, Counts: map[workload.Role]int{workload.RoleEventPersister: 2, workload.RoleFederationSend: 3}, MaxProcessesPerUnit: 3, Media: true,
		Ignore: []string{"synapse/10", "pusher-1"}, RestartToken: "t1"}
	media := topology.Compute(topology.View{Units: []string{"synapse/3", "synapse/5", "synapse/10"}, Leader: "synapse/5", Current: &three, Cluster: true, Settings: big})
	return []string{one.Encode(), clustered.Encode(), three.Encode(), media.Encode()}
}

// badPlans are plans Decode must refuse (or plans it accepts that a hand
// edit or an older charm could leave in the bag).
var badPlans = []string{
	``,
	`{garbage`,
	`null`,
	`[]`,
	`{"version":2,"generation":3,"main":"synapse/0","processes":[],"streams":{}}`,
	`{"version":0,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}]}`,
	`{"version":1,"generation":0,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0},{"name":"generic-1","role":"generic","unit":"synapse/1","index":0}]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0},{"name":"main","role":"main","unit":"synapse/1","index":0}]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0},{"name":"background-2","role":"background","unit":"synapse/1","index":1}]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0},{"name":"pusher-1","role":"pusher","unit":"synapse/1","index":1},{"name":"generic-1","role":"generic","unit":"synapse/1","index":1}]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0},{"name":"wizard-1","role":"wizard","unit":"synapse/1","index":1}]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}],"extra":true}`,
	`{"version":1,"generation":1.5,"main":"synapse/0","processes":[]}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}],"deferred":["pusher-1","user-directory-1"],"settings":"e0.f1.p1.kfalse.m1.sfalse"}`,
	`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}]} and then some`,
	`{"version":1,"generation":7,"main":"synapse/1","processes":[{"name":"main","role":"main","unit":"synapse/1","index":0},{"name":"generic-4","role":"generic","unit":"synapse/2","index":3},{"name":"federation-sender-9","role":"federation-sender","unit":"synapse/0","index":2}],"deferred":["bogus-1"]}`,
}

// FuzzDecode: Decode never panics; an error is an error (no plan with
// it); an accepted plan passes Validate, re-encodes to a plan that decodes
// to the same value, and gives every process ports that are valid and
// distinct on its unit.
func FuzzDecode(f *testing.F) {
	for _, p := range fuzzPlans() {
		f.Add(p)
	}
	for _, p := range badPlans {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := topology.Decode(s)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a plan", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "malformed plan") && !strings.HasPrefix(msg, "plan version") {
				t.Errorf("error %q does not say what is wrong with the plan", msg)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted a plan that does not validate: %v", err)
		}
		if p.Version != topology.SchemaVersion {
			t.Errorf("accepted version %d", p.Version)
		}
		enc := p.Encode()
		back, err := topology.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded plan %s does not decode: %v", enc, err)
		}
		if !samePlan(*p, *back) {
			t.Fatalf("round trip changed the plan:\n%#v\n%#v", *p, *back)
		}
		if again := back.Encode(); again != enc {
			t.Errorf("encoding is not stable:\n%s\n%s", enc, again)
		}
		checkPorts(t, *p)
		if p.SendersEpoch < 0 || p.SendersEpoch > p.Generation {
			t.Errorf("senders_epoch %d outside 0..generation %d: the senders barrier compares it with the epochs units report", p.SendersEpoch, p.Generation)
		}
	})
}

// samePlan compares plans, reading a nil and an empty list alike (JSON
// "deferred":[] and an absent deferred mean the same).
func samePlan(a, b topology.Plan) bool {
	norm := func(p topology.Plan) topology.Plan {
		if len(p.Processes) == 0 {
			p.Processes = nil
		}
		if len(p.Deferred) == 0 {
			p.Deferred = nil
		}
		return p
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// checkPorts: every port a process of the plan listens on (workload.Ports,
// plus nginx on every unit) is a TCP port, and no two are the same on one
// unit, or a process would fail to bind.
func checkPorts(t *testing.T, p topology.Plan) {
	t.Helper()
	used := map[string]map[int]string{}
	claim := func(unit string, port int, what string) {
		if used[unit] == nil {
			used[unit] = map[int]string{workload.NginxPort: "nginx"}
		}
		if port < 1 || port > 65535 {
			t.Errorf("%s on %s: port %d is not a TCP port", what, unit, port)
			return
		}
		if other, ok := used[unit][port]; ok {
			t.Errorf("%s and %s both listen on %s:%d", other, what, unit, port)
			return
		}
		used[unit][port] = what
	}
	for _, proc := range p.Processes {
		http, repl, metrics := workload.Ports(proc.Index)
		claim(proc.Unit, http, proc.Name+" http")
		claim(proc.Unit, repl, proc.Name+" replication")
		claim(proc.Unit, metrics, proc.Name+" metrics")
	}
}

// senders renders the federation senders and their units.
func senders(p topology.Plan) string {
	var out []string
	for _, proc := range p.Processes {
		if proc.Role == workload.RoleFederationSend {
			out = append(out, fmt.Sprintf("%s@%s#%d", proc.Name, proc.Unit, proc.Index))
		}
	}
	return strings.Join(out, ",")
}

// fuzzBytes hands out fuzz input as small decisions; exhausted, it gives 0.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) next() int {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return int(v)
}

func (r *fuzzBytes) n(k int) int { return r.next() % k }

func (r *fuzzBytes) settings() topology.Settings {
	// Counts within the bounds config.Parse enforces.
	s := topology.Settings{
		Preset:               config.Presets[r.n(len(config.Presets))],
		KeepSingletonsOnMain: r.n(2) == 1,
		MaxProcessesPerUnit:  1 + r.n(64),
		Media:                r.n(2) == 1,
		RestartToken:         []string{"", "a", "b"}[r.n(3)],
	}
	for n := r.n(4); n > 0; n-- {
		spec := workload.Roles[1+r.n(len(workload.Roles)-1)]
		if s.Counts == nil {
			s.Counts = map[workload.Role]int{}
		}
		s.Counts[spec.Role] = r.n(config.WorkerRoles[string(spec.Role)] + 1)
	}
	for n := r.n(3); n > 0; n-- {
		s.Ignore = append(s.Ignore, []string{"synapse/0", "synapse/1", "synapse/3", "pusher-1", "generic-1", "media-1", "federation-sender-2", "sync-1"}[r.n(8)])
	}
	return s
}

// permuted returns units in an order chosen by r: Juju lists peers in no
// particular order.
func (r *fuzzBytes) permuted(units []string) []string {
	out := slices.Clone(units)
	for i := len(out) - 1; i > 0; i-- {
		j := r.n(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// checkComputed checks one Compute result against its view.
func checkComputed(t *testing.T, v topology.View, p topology.Plan, r *fuzzBytes) {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatalf("Compute(%+v) does not validate: %v\n%s", v, err, p.Encode())
	}
	live := map[string]bool{}
	for _, u := range v.Units {
		live[u] = true
	}
	if !live[p.Main] {
		t.Errorf("main on %s, not a unit of the view %v", p.Main, v.Units)
	}
	count := map[string]int{}
	generic := map[string]int{}
	for _, proc := range p.Processes {
		if !live[proc.Unit] {
			t.Errorf("%s placed on %s, not a unit of the view %v", proc.Name, proc.Unit, v.Units)
		}
		count[proc.Unit]++
		if proc.Role == workload.RoleGeneric {
			generic[proc.Unit]++
		}
	}
	checkPorts(t, p)
	if p.SendersEpoch < 0 || p.SendersEpoch > p.Generation {
		t.Errorf("senders_epoch %d outside 0..generation %d", p.SendersEpoch, p.Generation)
	}

	// Stable: planning again from the result changes nothing, and the
	// order Juju lists the units in does not matter.
	again := v
	again.Current = &p
	if q := topology.Compute(again); !reflect.DeepEqual(p, q) {
		t.Fatalf("not stable: planning again from\n%s\ngives\n%s", p.Encode(), q.Encode())
	}
	shuffled := v
	shuffled.Units = r.permuted(v.Units)
	if q := topology.Compute(shuffled); !reflect.DeepEqual(p, q) {
		t.Fatalf("depends on the order of the units %v / %v:\n%s\n%s", v.Units, shuffled.Units, p.Encode(), q.Encode())
	}
	back, err := topology.Decode(p.Encode())
	if err != nil || !reflect.DeepEqual(p, *back) {
		t.Fatalf("does not survive the peer bag: %v\n%s", err, p.Encode())
	}

	ignored := map[string]bool{}
	for _, name := range v.Settings.Ignore {
		if strings.Contains(name, "/") {
			ignored[name] = true
		}
	}
	// A planned restart: the first cluster plan, another configuration, a
	// new restart token. Only then may slots be added or removed other
	// than readers, or move other than off the main's unit.
	cur := v.Current
	planned := cur == nil || cur.Settings == "" || cur.Settings != p.Settings || (cur.RestartToken != "" && cur.RestartToken != p.RestartToken)
	if cur != nil {
		if live[cur.Main] && p.Main != cur.Main {
			t.Errorf("main moved from %s to %s while its unit lives", cur.Main, p.Main)
		}
		same := cur.Main == p.Main && reflect.DeepEqual(cur.Processes, p.Processes) && slices.Equal(cur.Deferred, p.Deferred) && cur.Settings == p.Settings &&
			cur.RestartToken == p.RestartToken && reflect.DeepEqual(cur.Drained, p.Drained)
		switch {
		case same && p.Generation != cur.Generation:
			t.Errorf("generation %d -> %d without a change", cur.Generation, p.Generation)
		case !same && p.Generation != cur.Generation+1:
			t.Errorf("generation %d -> %d for a change", cur.Generation, p.Generation)
		}
		if senders(*cur) != senders(p) {
			if p.SendersEpoch != p.Generation {
				t.Errorf("the federation senders changed but senders_epoch is %d, not the generation %d", p.SendersEpoch, p.Generation)
			}
		} else if p.SendersEpoch != cur.SendersEpoch {
			t.Errorf("senders_epoch %d -> %d without a change of federation senders", cur.SendersEpoch, p.SendersEpoch)
		}
		for _, old := range cur.Processes {
			spec, _ := workload.Spec(old.Role)
			if old.Name == "main" || !live[old.Unit] || (old.Unit == p.Main && planned) || old.Unit != cur.Main && old.Unit == p.Main || ignored[old.Unit] || p.Drained[old.Name] == old.Unit ||
				(spec.OnMainUnitWhileLocalMedia && !v.Settings.Media) {
				continue
			}
			for _, proc := range p.Processes {
				if proc.Name == old.Name && proc.Unit != old.Unit {
					t.Errorf("%s moved from the live unit %s to %s", old.Name, old.Unit, proc.Unit)
				}
			}
		}
		if !planned {
			had := map[string]bool{}
			for _, proc := range cur.Processes {
				had[proc.Name] = true
			}
			for _, proc := range p.Processes {
				if spec, _ := workload.Spec(proc.Role); !had[proc.Name] && spec.Restart != workload.RestartRouting {
					t.Errorf("%s added outside a planned restart: adding it restarts processes", proc.Name)
				}
			}
		}
	}

	if !v.Cluster {
		if len(p.Processes) != 1 || len(p.Deferred) != 0 {
			t.Errorf("without PostgreSQL and Redis the main must run alone: %s", p.Encode())
		}
		return
	}
	want := map[string]bool{}
	for _, name := range topology.Wanted(v.Settings, len(v.Units)) {
		want[name] = true
	}
	seen := map[string]int{}
	for _, proc := range p.Processes {
		if proc.Role == workload.RoleMain || proc.Role == workload.RoleGeneric {
			continue
		}
		seen[proc.Name]++
		spec, _ := workload.Spec(proc.Role)
		if !want[proc.Name] && (planned || spec.Restart == workload.RestartRouting) {
			t.Errorf("%s placed, but the settings do not ask for it", proc.Name)
		}
		if spec.OnMainUnitWhileLocalMedia && !v.Settings.Media && proc.Unit != p.Main {
			t.Errorf("%s on %s, away from the local media on the main's unit %s", proc.Name, proc.Unit, p.Main)
		}
	}
	for _, proc := range p.Processes {
		if proc.Role != workload.RoleMain && ignored[proc.Unit] {
			t.Errorf("%s on %s, which workers_ignore_list names", proc.Name, proc.Unit)
		}
		if from := p.Drained[proc.Name]; from != "" && from == proc.Unit {
			t.Errorf("%s still on %s, which it was drained from", proc.Name, from)
		}
	}
	for _, name := range p.Deferred {
		seen[name]++
		if !want[name] {
			t.Errorf("%s deferred, but the settings do not ask for it", name)
		}
	}
	for name := range want {
		if seen[name] != 1 {
			t.Errorf("slot %s is placed or deferred %d times, want once", name, seen[name])
		}
	}
	noGeneric := map[string]bool{}
	for name, from := range p.Drained {
		if strings.HasPrefix(name, "generic-") {
			noGeneric[from] = true
		}
	}
	capacity := max(v.Settings.MaxProcessesPerUnit, 1)
	for _, u := range v.Units {
		switch {
		case u == p.Main && generic[u] > 0:
			t.Errorf("the main unit %s runs a generic worker", u)
		case u != p.Main && generic[u] > 1:
			t.Errorf("%s runs %d generic workers", u, generic[u])
		case u != p.Main && generic[u] == 0 && count[u] < capacity && !ignored[u] && !noGeneric[u]:
			t.Errorf("%s has room (%d of %d) but no generic worker", u, count[u], capacity)
		}
	}
}

// FuzzCompute drives a deployment through a fuzzed series of scale-ups,
// unit losses, leader changes, configuration changes and database/Redis
// outages, reading the current plan back from the peer bag each time as
// the charm does, and checks every plan.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{5, 1, 1, 0, 3, 0, 0, 0, 1, 2, 3, 2, 0, 0, 0})
	f.Add([]byte{1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 0, 2, 1, 3, 1, 4, 3, 3, 1, 1, 0, 1, 6, 2, 0})
	f.Add([]byte{16, 16, 16, 0, 63, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 4, 0, 0, 0, 0, 3, 0})
	f.Add([]byte{2, 3, 1, 1, 2, 1, 0, 0, 0, 6, 2, 0, 4, 1, 1, 1, 0, 0, 1, 5, 5, 0, 0, 2, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{b: data}
		settings := r.settings()
		units := []string{"synapse/0"}
		nextUnit := 1
		leader := "synapse/0"
		cluster := true
		var current *topology.Plan
		for step := 0; step < 40 && (step == 0 || len(r.b) > 0); step++ {
			switch r.n(8) {
			case 0, 1: // juju add-unit
				if len(units) < 12 {
					units = append(units, fmt.Sprintf("synapse/%d", nextUnit))
					nextUnit++
				}
			case 2: // a unit goes (scale down, or its pod is lost for good)
				if len(units) > 1 {
					i := r.n(len(units))
					units = slices.Delete(slices.Clone(units), i, i+1)
				}
			case 3: // leader change
				leader = units[r.n(len(units))]
			case 4: // juju config
				settings = r.settings()
			case 5: // PostgreSQL or Redis comes or goes
				cluster = !cluster
			case 6: // nothing: the same hook again
			case 7: // scale to a fuzzed set of units, keeping some
				keep := units[:0:0]
				for _, u := range units {
					if r.n(2) == 0 {
						keep = append(keep, u)
					}
				}
				for n := r.n(4); n > 0 || len(keep) == 0; n-- {
					keep = append(keep, fmt.Sprintf("synapse/%d", nextUnit))
					nextUnit++
				}
				units = keep
			}
			if !slices.Contains(units, leader) {
				leader = units[r.n(len(units))]
			}
			v := topology.View{Units: r.permuted(units), Leader: leader, Current: current, Cluster: cluster, Settings: settings}
			p := topology.Compute(v)
			checkComputed(t, v, p, r)
			if t.Failed() {
				t.FailNow()
			}
			back, err := topology.Decode(p.Encode())
			if err != nil {
				t.Fatal(err)
			}
			current = back
		}
	})
}

// FuzzComputeFromPlan plans from any plan Decode accepts (written by an
// older revision, a hand edit, a crashed leader) and a fuzzed view.
func FuzzComputeFromPlan(f *testing.F) {
	for i, p := range fuzzPlans() {
		f.Add(p, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})
	}
	for i, p := range badPlans {
		f.Add(p, []byte{byte(i), 9, 4, 1, 0, 3, 2, 1, 1})
	}
	f.Fuzz(func(t *testing.T, plan string, data []byte) {
		current, err := topology.Decode(plan)
		if err != nil {
			return
		}
		r := &fuzzBytes{b: data}
		// The units: some of the plan's, some new ones.
		var units []string
		for _, proc := range current.Processes {
			if !slices.Contains(units, proc.Unit) && r.n(3) != 0 {
				units = append(units, proc.Unit)
			}
		}
		for n := r.n(4); n > 0 || len(units) == 0; n-- {
			units = append(units, fmt.Sprintf("synapse/%d", 100+len(units)))
		}
		v := topology.View{
			Units:    units,
			Leader:   units[r.n(len(units))],
			Current:  current,
			Cluster:  r.n(4) != 0,
			Settings: r.settings(),
		}
		p := topology.Compute(v)
		checkComputed(t, v, p, r)
		if p.Generation < current.Generation && current.Generation < math.MaxInt {
			t.Errorf("generation went back from %d to %d", current.Generation, p.Generation)
		}
		// Then a scale-up with the same configuration: no planned restart.
		v.Current, v.Units = &p, append(slices.Clone(v.Units), "synapse/200")
		checkComputed(t, v, topology.Compute(v), r)
	})
}
