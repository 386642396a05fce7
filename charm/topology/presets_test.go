package topology_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// logLayout writes one line per unit, for the README's topology section.
func logLayout(t *testing.T, title string, p topology.Plan, live []string) {
	t.Helper()
	t.Logf("%s:", title)
	for _, u := range live {
		var names []string
		for _, proc := range p.OnUnit(u) {
			names = append(names, proc.Name)
		}
		t.Logf("  %s: %s", u, strings.Join(names, " "))
	}
	if len(p.Deferred) > 0 {
		t.Logf("  deferred (the main keeps the duty): %s", strings.Join(p.Deferred, " "))
	}
}

func perUnit(p topology.Plan) map[string]int {
	n := map[string]int{}
	for _, proc := range p.Processes {
		n[proc.Unit]++
	}
	return n
}

func roles(names []string) []workload.Role {
	var out []workload.Role
	for _, n := range names {
		out = append(out, workload.Role(n[:strings.LastIndexByte(n, '-')]))
	}
	return out
}

func TestEveryConfigPresetHasData(t *testing.T) {
	var names []string
	for name := range topology.Presets {
		names = append(names, name)
	}
	sort.Strings(names)
	want := slices.Clone(config.Presets)
	sort.Strings(want)
	assert.Equal(t, want, names)
	for name, preset := range topology.Presets {
		for role, steps := range preset {
			spec, ok := workload.Spec(role)
			require.True(t, ok, "%s: unknown role %s", name, role)
			assert.False(t, spec.Scalable, "%s: %s is one per unit, not counted", name, role)
			assert.True(t, slices.IsSortedFunc(steps, func(a, b topology.Step) int { return a.FromUnits - b.FromUnits }), "%s: %s steps out of order", name, role)
		}
	}
	assert.Empty(t, topology.Presets[config.PresetOneOfEach][workload.RoleThreadSubs], "its endpoints are off in the charm's Synapse")
}

// TestPresetLayouts plans each preset at 1, 2, 3, 4 and 8 units as a
// planned restart at that size leaves it (4 processes per unit, media
// local), and logs the layouts.
func TestPresetLayouts(t *testing.T) {
	for _, preset := range config.Presets {
		for _, n := range []int{1, 2, 3, 4, 8} {
			t.Run(fmt.Sprintf("%s/%d", preset, n), func(t *testing.T) {
				live := make([]string, n)
				for i := range live {
					live[i] = fmt.Sprintf("synapse/%d", i)
				}
				s := topology.Settings{Preset: preset, MaxProcessesPerUnit: 4}
				p := topology.Compute(topology.View{Units: live, Leader: live[0], Cluster: true, Settings: s})
				require.NoError(t, p.Validate())
				logLayout(t, fmt.Sprintf("%s at %d units", preset, n), p, live)
				for u, k := range perUnit(p) {
					assert.LessOrEqual(t, k, 4, "%s over capacity", u)
				}
				wanted := topology.Wanted(s, n)
				got := slices.Clone(p.Deferred)
				for _, proc := range p.Processes {
					if proc.Role != workload.RoleGeneric && proc.Role != workload.RoleMain {
						got = append(got, proc.Name)
					}
				}
				assert.ElementsMatch(t, wanted, got, "every slot the preset asks for is placed or deferred")
				assert.Equal(t, "synapse/0", layout(p)["media-1"], "local media: the media worker runs on the main's unit")
				assert.Len(t, p.Holders(workload.RoleGeneric), n-1, "one generic worker per other unit")
			})
		}
	}
	bal := func(n int) []workload.Role {
		return roles(topology.Wanted(topology.Settings{Preset: config.PresetBalanced}, n))
	}
	assert.NotContains(t, bal(2), workload.RoleEventPersister)
	assert.Contains(t, bal(3), workload.RoleEventPersister, "balanced moves event persistence off the main at 3 units")
	assert.Contains(t, bal(4), workload.RoleSync)
}

// TestScaleUpPlacesOnlyReadersAndGenerics grows a balanced cluster from
// one unit to eight: each step adds generic workers and reader slots
// (routing only) and defers every slot whose addition restarts processes.
func TestScaleUpPlacesOnlyReadersAndGenerics(t *testing.T) {
	s := topology.Settings{Preset: config.PresetBalanced, MaxProcessesPerUnit: 4, RestartToken: "v1"}
	v := topology.View{Units: units(0), Leader: "synapse/0", Cluster: true, Settings: s}
	p := topology.Compute(v)
	for _, n := range []int{2, 3, 4, 8} {
		prev := p
		live := make([]int, n)
		for i := range live {
			live[i] = i
		}
		v.Current, v.Units = &prev, units(live...)
		p = topology.Compute(v)
		require.NoError(t, p.Validate())
		before := layout(prev)
		for _, proc := range p.Processes {
			old, had := before[proc.Name]
			spec, _ := workload.Spec(proc.Role)
			if had {
				assert.Equal(t, old, proc.Unit, "%s moved on a scale-up", proc.Name)
			} else {
				assert.Equal(t, workload.RestartRouting, spec.Restart, "%s added on a scale-up restarts processes", proc.Name)
			}
		}
		logLayout(t, fmt.Sprintf("grown to %d units", n), p, v.Units)
	}
	assert.Contains(t, p.Deferred, "event-persister-1", "adding a stream writer waits for a planned restart")
	assert.Contains(t, p.Deferred, "appservice-1")
	assert.NotEmpty(t, p.Holders(workload.RoleSync), "sync workers only change routing: placed at once")
}

// TestPlannedRestartRebalances: a grown cluster places its deferred slots
// and moves duties off the main's unit at the next restart that happens
// anyway (a new restart token), keeping every slot's name.
func TestPlannedRestartRebalances(t *testing.T) {
	s := topology.Settings{Preset: config.PresetBalanced, MaxProcessesPerUnit: 4, RestartToken: "v1"}
	v := topology.View{Units: units(0), Leader: "synapse/0", Cluster: true, Settings: s}
	one := topology.Compute(v)
	v.Current, v.Units = &one, units(0, 1, 2, 3)
	four := topology.Compute(v)
	require.NotEmpty(t, four.Deferred)
	assert.Equal(t, "synapse/0", layout(four)["federation-sender-1"], "scaling moved nothing off the main's unit")

	v.Current = &four
	v.Settings.RestartToken = "v2"
	after := topology.Compute(v)
	require.NoError(t, after.Validate())
	logLayout(t, "after the planned restart", after, v.Units)
	assert.Equal(t, "v2", after.RestartToken)
	assert.Empty(t, after.Deferred, "deferred slots are placed")
	var onMain []string
	for _, proc := range after.OnUnit("synapse/0") {
		onMain = append(onMain, proc.Name)
	}
	assert.Less(t, len(onMain), len(four.OnUnit("synapse/0")), "the main's unit is less loaded")
	assert.Contains(t, onMain, "media-1", "local media keeps its worker on the main's unit")
	assert.NotContains(t, onMain, "federation-sender-1")
	for name := range layout(four) {
		assert.Contains(t, layout(after), name, "%s kept its name", name)
	}

	v.Current = &after
	assert.Equal(t, after, topology.Compute(v), "the same token again changes nothing")
}

func TestAPlanWithoutTokenAdoptsTheFirstWithoutMoving(t *testing.T) {
	v := topology.View{Units: units(0), Leader: "synapse/0", Cluster: true, Settings: defaults}
	one := topology.Compute(v)
	v.Current, v.Units = &one, units(0, 1)
	two := topology.Compute(v)
	v.Current, v.Settings.RestartToken = &two, "v1"
	adopted := topology.Compute(v)
	assert.Equal(t, layout(two), layout(adopted))
	assert.Equal(t, "v1", adopted.RestartToken)
	assert.Equal(t, two.Generation+1, adopted.Generation, "published, so that the next token is compared with it")
}

func TestIgnoreListByUnit(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: defaults}
	p := topology.Compute(v)
	require.NotEmpty(t, p.OnUnit("synapse/1"))
	v.Current = &p
	v.Settings.Ignore = []string{"synapse/1"}
	q := topology.Compute(v)
	require.NoError(t, q.Validate())
	assert.Empty(t, q.OnUnit("synapse/1"), "an ignored unit runs no workers")
	for _, proc := range p.OnUnit("synapse/1") {
		if proc.Role != workload.RoleGeneric {
			assert.True(t, slices.Contains(q.Deferred, proc.Name) || layout(q)[proc.Name] != "", "%s placed elsewhere or deferred", proc.Name)
		}
	}
	v.Current = &q
	assert.Equal(t, q, topology.Compute(v), "stable")

	// The main's unit: the main stays, its worker slots leave; the media
	// worker, pinned to the local media, is deferred to the main.
	v.Settings.Ignore = []string{"synapse/0"}
	r := topology.Compute(v)
	require.NoError(t, r.Validate())
	assert.Equal(t, "synapse/0", r.Main)
	assert.Equal(t, []topology.Process{{Name: "main", Role: workload.RoleMain, Unit: "synapse/0"}}, r.OnUnit("synapse/0"))
	assert.Contains(t, r.Deferred, "media-1")
}

func TestIgnoreListBySlot(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: defaults}
	p := topology.Compute(v)
	from := layout(p)["pusher-1"]
	require.NotEmpty(t, from)
	v.Current = &p
	v.Settings.Ignore = []string{"pusher-1"}
	q := topology.Compute(v)
	require.NoError(t, q.Validate())
	to := layout(q)["pusher-1"]
	assert.NotEmpty(t, to, "drained, then placed on another unit")
	assert.NotEqual(t, from, to)
	assert.Equal(t, from, q.Drained["pusher-1"])
	v.Current = &q
	assert.Equal(t, q, topology.Compute(v), "stable while listed")

	v.Settings.Ignore = nil
	r := topology.Compute(v)
	assert.Equal(t, to, layout(r)["pusher-1"], "unlisted, it stays where it runs")
	assert.Empty(t, r.Drained)
}

func TestCountsOverridePreset(t *testing.T) {
	s := topology.Settings{Preset: config.PresetBalanced, MaxProcessesPerUnit: 8,
		Counts: counts(workload.RoleSync, 2, workload.RoleEventPersister, 0, workload.RoleTyping, 1)}
	p := topology.Compute(topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: s})
	require.NoError(t, p.Validate())
	assert.Equal(t, []string{"sync-1", "sync-2"}, p.Holders(workload.RoleSync))
	assert.Empty(t, p.Holders(workload.RoleEventPersister), "0 keeps event persistence on the main")
	assert.Equal(t, []string{"typing-1"}, p.Holders(workload.RoleTyping))
	assert.Equal(t, []string{"pusher-1"}, p.Holders(workload.RolePusher), "roles not set follow the preset")
}

func TestKeepSingletonsOnMain(t *testing.T) {
	s := topology.Settings{Preset: config.PresetOneOfEach, MaxProcessesPerUnit: 64, KeepSingletonsOnMain: true}
	p := topology.Compute(topology.View{Units: units(0, 1, 2, 3), Leader: "synapse/0", Cluster: true, Settings: s})
	require.NoError(t, p.Validate())
	for _, spec := range workload.Roles {
		holders := p.Holders(spec.Role)
		switch {
		case spec.Role == workload.RoleMedia:
			assert.Equal(t, []string{"media-1"}, holders)
		case spec.Single:
			assert.Empty(t, holders, "%s stays in the main", spec.Role)
		case !spec.Scalable && spec.Role != workload.RoleThreadSubs:
			assert.Len(t, holders, 1, "%s is not a singleton", spec.Role)
		}
	}
}

func TestMediaMovesOnlyWithS3(t *testing.T) {
	v := topology.View{Units: units(0, 1, 2), Leader: "synapse/0", Cluster: true, Settings: defaults}
	v.Settings.RestartToken = "1.160.0"
	p := topology.Compute(v)
	assert.Equal(t, "synapse/0", layout(p)["media-1"])
	v.Current, v.Settings.Media = &p, true
	q := topology.Compute(v)
	assert.Equal(t, layout(p), layout(q), "integrating S3 restarts only the media worker: no planned restart, nothing moves")
	v.Current, v.Settings.RestartToken = &q, "1.161.0"
	q = topology.Compute(v)
	assert.NotEqual(t, "synapse/0", layout(q)["media-1"], "S3 holds the media: at the next planned restart the worker leaves the main's unit")
	v.Current, v.Settings.Media = &q, false
	r := topology.Compute(v)
	assert.Equal(t, "synapse/0", layout(r)["media-1"], "back to local media: back to its store")
}
