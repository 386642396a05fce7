package decide_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
)

// Seen on a real Juju 4.0 controller: a departing unit stays leader through
// its teardown hooks, and its own relation-departed names itself.
func TestDepartingLeaderNeverTakesTheMain(t *testing.T) {
	leader, worker := ttTwoUnits(t, nil)
	require.Equal(t, "synapse/0", ttPlan(t, leader.Peer.App).Main)
	for _, kind := range []string{"relation-departed", "stop", "remove"} {
		t.Run(kind, func(t *testing.T) {
			w := ttClone(worker)
			w.Leader = true
			w.Event.Kind = kind
			if kind == "relation-departed" {
				w.Event.DepartingUnit = "synapse/1"
				delete(w.Peer.Units, "synapse/0") // relation-list lists the others
			}
			d := decide.Decide(w)
			assert.Empty(t, d.Writes, "no plan, no report from a leaving unit")
			assert.Nil(t, d.Synapse, "starts nothing")
			assert.Nil(t, d.Nginx)
			st := ttStatus(d)
			assert.Equal(t, decide.Maintenance, st.Level)
			assert.True(t, ttHas(st.Message, "the other units serve") || ttHas(st.Message, "the units that stay serve"), st.Message)
		})
	}
	t.Run("goal-state says dying", func(t *testing.T) {
		w := ttClone(worker)
		w.Leader = true
		w.Goal = map[string]string{"synapse/0": "active", "synapse/1": "dying"}
		d := decide.Decide(w)
		assert.Empty(t, d.Writes)
		assert.Nil(t, d.Synapse)
	})
}

// A survivor may never receive relation-departed for a peer that left;
// goal-state already says it is gone.
func TestLeaderDropsAPeerGoalStateSaysLeft(t *testing.T) {
	leader, _ := ttTwoUnits(t, nil)
	before := ttPlan(t, leader.Peer.App)
	require.NotEmpty(t, before.OnUnit("synapse/1"))
	for _, goal := range []map[string]string{
		{"synapse/0": "active"},
		{"synapse/0": "active", "synapse/1": "dying"},
	} {
		l := ttClone(leader)
		l.Event.Kind = "update-status"
		l.Goal = goal
		d := decide.Decide(l)
		after := ttPlan(t, ttApply(t, l, d).Peer.App)
		assert.Equal(t, "synapse/0", after.Main)
		assert.Empty(t, after.OnUnit("synapse/1"), "no plan names the departed unit")
		assert.Greater(t, after.Generation, before.Generation)
	}
	t.Run("a live peer stays", func(t *testing.T) {
		l := ttClone(leader)
		l.Goal = map[string]string{"synapse/0": "active", "synapse/1": "active"}
		d := decide.Decide(l)
		assert.NotContains(t, d.Write(ttPeerID, true), decide.PlanKey)
	})
}
