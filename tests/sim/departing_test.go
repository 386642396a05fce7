package sim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoseDeparted: with Options.LoseDeparted the unit that stays never
// runs relation-departed and relation-list keeps the removed peer, while
// goal-state lists it dying, then not at all once it is gone.
func TestLoseDeparted(t *testing.T) {
	m := newModel(t, quietCharm, Options{LoseDeparted: true})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.Scale(testCtx(t), 1))
	assert.Equal(t, "dying", goalStateUnits(t, m, "synapse/0")["synapse/1"], "goal-state while it leaves")
	waitIdle(t, m)
	hooks := hookNames(m, mark)
	assert.Empty(t, hooksOnly(unitHooks(hooks, "synapse/0")), "the unit that stays hears nothing")
	assert.Contains(t, unitHooks(hooks, "synapse/1"), "synapse-peers-relation-departed synapse/0", "the departing unit's own teardown is delivered")
	assert.Equal(t, "[\"synapse/1\"]\n", mustTool(t, m, "synapse/0", "relation-list", "-r", "synapse-peers:0", "--format=json"))
	assert.NotContains(t, goalStateUnits(t, m, "synapse/0"), "synapse/1", "goal-state once it is gone")
	m.UpdateStatus()
	waitIdle(t, m)
	assert.Equal(t, []string{"update-status"}, hooksOnly(unitHooks(hookNames(m, mark), "synapse/0")))
}

// hooksOnly drops the exec runs (no hook name) from unitHooks' list.
func hooksOnly(list []string) []string {
	var out []string
	for _, h := range list {
		if h != "" {
			out = append(out, h)
		}
	}
	return out
}

// TestRemovedUnitLeavesGoalState: by default too, a removed unit is
// dying in goal-state until it is gone, then absent.
func TestRemovedUnitLeavesGoalState(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	require.NoError(t, m.Scale(testCtx(t), 1))
	assert.Equal(t, "dying", goalStateUnits(t, m, "synapse/0")["synapse/1"])
	waitIdle(t, m)
	assert.Equal(t, map[string]string{"synapse/0": "active"}, goalStateUnits(t, m, "synapse/0"))
}

// goalStateUnits is goal-state's units, run on unit: name -> status.
func goalStateUnits(t *testing.T, m *Model, unit string) map[string]string {
	t.Helper()
	var gs struct {
		Units map[string]struct{ Status string } `json:"units"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustTool(t, m, unit, "goal-state", "--format=json")), &gs))
	out := map[string]string{}
	for u, s := range gs.Units {
		out[u] = s.Status
	}
	return out
}
