package topology_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// defaults is the minimal preset: the layout of the revisions before
// presets, plus the media worker.
var defaults = topology.Settings{Preset: config.PresetMinimal, MaxProcessesPerUnit: 4}

func counts(kv ...any) map[workload.Role]int {
	out := map[workload.Role]int{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(workload.Role)] = kv[i+1].(int)
	}
	return out
}

func units(ns ...int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("synapse/%d", n)
	}
	return out
}

func layout(p topology.Plan) map[string]string {
	out := map[string]string{}
	for _, proc := range p.Processes {
		out[proc.Name] = proc.Unit
	}
	return out
}

func TestOneUnitIsAMonolith(t *testing.T) {
	p := topology.Compute(topology.View{Units: units(0), Leader: "synapse/0", Cluster: false, Settings: defaults})
	require.NoError(t, p.Validate())
	assert.Equal(t, "synapse/0", p.Main)
	assert.Equal(t, map[string]string{"main": "synapse/0"}, layout(p))
	assert.Equal(t, 1, p.Generation)
}

// TestOneUnitClusterThenScaleUpRestartsNothing: with PostgreSQL and Redis
// on one unit, the duties already run as workers on the main unit, so
// scaling up only adds generic workers: no shared-config change, no
// restart of anything that runs.
func TestOneUnitClusterThenScaleUpRestartsNothing(t *testing.T) {
	v := topology.View{Units: units(0), Leader: "synapse/0", Cluster: true, Settings: defaults}
	v.Settings.RestartToken = "1.160.0"
	one := topology.Compute(v)
	require.NoError(t, one.Validate())
	assert.Equal(t, map[string]string{
		"main": "synapse/0", "federation-sender-1": "synapse/0", "pusher-1": "synapse/0", "media-1": "synapse/0",
	}, layout(one))
	assert.Equal(t, []string{"background-1", "user-directory-1"}, one.Deferred, "no room left: these stay duties of main")

	v.Current, v.Units = &one, units(0, 1, 2)
	three := topology.Compute(v)
	want := layout(one)
	want["generic-1"], want["generic-2"] = "synapse/1", "synapse/2"
	assert.Equal(t, want, layout(three), "scaling adds generic workers only")
	assert.Equal(t, one.Deferred, three.Deferred, "a deferred duty is not moved by scaling")

	v.Current = &three
	v.Settings.MaxProcessesPerUnit = 5
	changed := topology.Compute(v)
	assert.Contains(t, layout(changed), "user-directory-1", "a configuration change places it")
	assert.Empty(t, changed.Deferred)
	assert.Equal(t, "synapse/0", layout(changed)["federation-sender-1"],
		"placing the main's duties restarts the main and them, not the sender: it stays")

	// An upgrade restarts every process: duties stuck on the main's unit
	// move then, at no extra restart.
	v.Current, v.Settings.RestartToken = &changed, "1.161.0"
	upgraded := topology.Compute(v)
	assert.NotEqual(t, "synapse/0", layout(upgraded)["federation-sender-1"], "and moves duties off the main's unit")
	assert.Equal(t, "synapse/0", layout(upgraded)["media-1"], "media is local: the media worker stays with it")
}

func TestWithoutDatabaseAndRedisTheMainRunsAlone(t *testing.T) {
	p := topology.Compute(topology.View{Units: units(0, 1, 2), Leader: "synapse/1", Cluster: false, Settings: defaults})
	assert.Equal(t, map[string]string{"main": "synapse/1"}, layout(p))
}

func TestScaleUpAddsOnlyGenericWorkersOnNewUnits(t *testing.T) {
	v := topology.View{Units: units(0, 1), Leader: "synapse/0", Cluster: true, Settings: defaults}
	two := topology.Compute(v)
	require.NoError(t, two.Validate())
	assert.Equal(t, map[string]string{
		"main": "synapse/0", "generic-1": "synapse/1",
		"federation-sender-1": "synapse/1", "pusher-1": "synapse/1", "background-1": "synapse/1",
		"user-directory-1": "synapse/0", "media-1": "synapse/0",
	}, layout(two), "singletons fill the worker unit up to its capacity, then the main unit; local media stays on the main's unit")

	v.Current, v.Units = &two, units(0, 1, 2)
	three := topology.Compute(v)
	require.NoError(t, three.Validate())
	assert.Equal(t, two.Generation+1, three.Generation)
	want := layout(two)
	want["generic-2"] = "synapse/2"
	assert.Equal(t, want, layout(three), "adding a unit moves nothing")

	v.Current = &three
	again := topology.Compute(v)
	assert.Equal(t, three, again, "re-planning the same view changes nothing")
}

func TestLeaderChangeMovesNothing(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: defaults}
	p := topology.Compute(v)
	v.Current, v.Leader = &p, "synapse/2"
	q := topology.Compute(v)
	assert.Equal(t, p, q)
}

func TestMainUnitLeavesNewMainElected(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: defaults}
	p := topology.Compute(v)
	v.Current, v.Units, v.Leader = &p, units(1, 2), "synapse/2"
	q := topology.Compute(v)
	require.NoError(t, q.Validate())
	assert.Equal(t, "synapse/2", q.Main, "the leader takes over the main")
	got := layout(q)
	for name, unit := range got {
		assert.NotEqual(t, "synapse/0", unit, "%s still on the departed unit", name)
	}
	for _, name := range []string{"federation-sender-1", "pusher-1", "background-1", "user-directory-1"} {
		assert.Contains(t, got, name, "slot %s kept its name", name)
	}
	assert.Equal(t, "synapse/1", got["federation-sender-1"], "slots on surviving units stay")
	assert.Equal(t, "synapse/1", got["generic-1"])
	assert.NotContains(t, got, "generic-2", "the new main unit runs no generic worker")
}

func TestWorkerUnitLeavesOnlyItsSlotsMove(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2, 3), Leader: "synapse/0", Cluster: true, Settings: topology.Settings{Preset: config.PresetMinimal, Counts: counts(workload.RoleFederationSend, 2), MaxProcessesPerUnit: 4}}
	p := topology.Compute(v)
	v.Current, v.Units = &p, units(0, 2, 3)
	q := topology.Compute(v)
	require.NoError(t, q.Validate())
	before, after := layout(p), layout(q)
	for name, unit := range before {
		if unit != "synapse/1" && name != "generic-1" {
			assert.Equal(t, unit, after[name], "%s moved although its unit stayed", name)
		}
	}
	for name, unit := range before {
		if unit == "synapse/1" && name != "generic-1" {
			assert.Contains(t, after, name, "%s was re-placed", name)
		}
	}
}

func TestCountsFromConfig(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: defaults}
	p := topology.Compute(v)
	v.Current = &p
	v.Settings.Counts = counts(workload.RoleFederationSend, 2)
	q := topology.Compute(v)
	assert.Equal(t, []string{"federation-sender-1", "federation-sender-2"}, q.Holders(workload.RoleFederationSend))
	assert.Equal(t, layout(p)["federation-sender-1"], layout(q)["federation-sender-1"])
	v.Current = &q
	v.Settings.Counts = counts(workload.RoleFederationSend, 0)
	r := topology.Compute(v)
	assert.Empty(t, r.Holders(workload.RoleFederationSend), "zero senders keeps sending on the main")
	v.Settings.KeepSingletonsOnMain = true
	s := topology.Compute(v)
	assert.Empty(t, s.Holders(workload.RoleBackground))
	assert.Empty(t, s.Holders(workload.RoleUserDirectory))
	assert.Equal(t, []string{"media-1"}, s.Holders(workload.RoleMedia), "the media worker is not a duty the main can keep in a cluster")
	assert.Equal(t, "synapse/0", layout(s)["media-1"], "local media: on the main's unit")
	v.Settings.Media = true
	assert.Equal(t, []string{"media-1"}, topology.Compute(v).Holders(workload.RoleMedia))
}

func TestCapacityIsRespected(t *testing.T) {
	v := topology.View{Units: units(0, 1), Leader: "synapse/0", Cluster: true, Settings: topology.Settings{Counts: counts(workload.RoleFederationSend, 3, workload.RolePusher, 3, workload.RoleEventPersister, 2), MaxProcessesPerUnit: 2}}
	p := topology.Compute(v)
	require.NoError(t, p.Validate())
	count := map[string]int{}
	for _, proc := range p.Processes {
		count[proc.Unit]++
	}
	for u, n := range count {
		assert.LessOrEqual(t, n, 2, "unit %s over capacity", u)
	}
}

// TestPlansStayValidAndStable drives random scale, leader and config
// changes and checks the invariants after every step.
func TestPlansStayValidAndStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 200; run++ {
		next := 1
		live := units(0)
		leader := live[0]
		settings := topology.Settings{Preset: config.Presets[rng.IntN(len(config.Presets))], MaxProcessesPerUnit: 1 + rng.IntN(5)}
		var current *topology.Plan
		for step := 0; step < 30; step++ {
			switch op := rng.IntN(6); {
			case op <= 1 && len(live) < 8:
				live = append(live, fmt.Sprintf("synapse/%d", next))
				next++
			case op == 2 && len(live) > 1:
				i := rng.IntN(len(live))
				live = append(live[:i:i], live[i+1:]...)
			case op == 3:
				leader = live[rng.IntN(len(live))]
			case op == 4:
				settings.Counts = counts(workload.RoleFederationSend, rng.IntN(4), workload.RolePusher, rng.IntN(3), workload.RoleEventPersister, rng.IntN(3))
				settings.KeepSingletonsOnMain = rng.IntN(2) == 0
				settings.Preset = config.Presets[rng.IntN(len(config.Presets))]
			}
			if !contains(live, leader) {
				leader = live[rng.IntN(len(live))]
			}
			v := topology.View{Units: live, Leader: leader, Current: current, Cluster: true, Settings: settings}
			p := topology.Compute(v)
			require.NoError(t, p.Validate(), "run %d step %d", run, step)
			for _, proc := range p.Processes {
				require.Contains(t, live, proc.Unit, "process %s on a unit that left", proc.Name)
			}
			if current != nil && current.Settings == p.Settings && len(current.Processes) > 1 {
				// Scaling and leader changes alone add no duty slot: only
				// slots of a unit that left may be re-placed.
				departed := map[string]bool{}
				for _, proc := range current.Processes {
					if !contains(live, proc.Unit) {
						departed[proc.Name] = true
					}
				}
				for _, proc := range p.Processes {
					if spec, _ := workload.Spec(proc.Role); !contains(names(current.Processes), proc.Name) && spec.Restart != workload.RestartRouting {
						require.True(t, departed[proc.Name], "duty slot %s appeared without a configuration change", proc.Name)
					}
				}
			}
			if current != nil {
				if contains(live, current.Main) {
					require.Equal(t, current.Main, p.Main, "main moved while its unit lives")
				}
				prev := layout(*current)
				sameSettings := true
				for name, unit := range layout(p) {
					if old, ok := prev[name]; ok && contains(live, old) && name != "main" && old != p.Main && sameSettings {
						require.Equal(t, old, unit, "slot %s moved off a live unit", name)
					}
				}
			}
			// Stable: planning again from the result changes nothing.
			v.Current = &p
			require.Equal(t, p, topology.Compute(v))
			decoded, err := topology.Decode(p.Encode())
			require.NoError(t, err)
			require.Equal(t, p, *decoded)
			current = &p
		}
	}
}

func TestDecodeRefusesNewerOrMalformedPlans(t *testing.T) {
	_, err := topology.Decode(`{"version":2,"generation":3,"main":"synapse/0","processes":[],"streams":{}}`)
	assert.ErrorContains(t, err, "newer")
	_, err = topology.Decode(`{garbage`)
	assert.ErrorContains(t, err, "malformed")
	_, err = topology.Decode(`{"version":1,"generation":1,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0},{"name":"generic-1","role":"generic","unit":"synapse/1","index":0}]}`)
	assert.ErrorContains(t, err, "port index 0")
	_, err = topology.Decode(`{"version":1,"generation":1,"main":"synapse/0","processes":[]}`)
	assert.ErrorContains(t, err, "0 main")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func names(ps []topology.Process) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}
