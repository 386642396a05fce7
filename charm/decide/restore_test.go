package decide_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// rsStopped is a settled unit whose Synapse a killed restore-backup
// stopped, with the restore journaled in phase.
func rsStopped(t *testing.T, phase workload.RestorePhase) decide.Snapshot {
	t.Helper()
	s := ttClone(ttReady(t))
	s.Synapse.State.Active = map[string]bool{}
	s.RestorePending = phase
	s.Event.Kind = "update-status"
	return s
}

// rsWarned reports whether the decision logs a warning naming the phase.
func rsWarned(d decide.Decision, phase workload.RestorePhase, verb string) bool {
	for _, l := range d.Logs {
		if l.Level == "WARNING" && ttHas(l.Message, "restore-backup was interrupted in phase "+string(phase), verb) {
			return true
		}
	}
	return false
}

// TestInterruptedRestoreIsRecoveredBeforeSynapseStarts: every phase of the
// journal has one recovery, decided on any hook: until the previous data
// is all aside the restore is rolled back, from then on completed. The
// hook recovers before it applies the synapse container, which then
// starts Synapse again.
func TestInterruptedRestoreIsRecoveredBeforeSynapseStarts(t *testing.T) {
	for _, tc := range []struct {
		phase workload.RestorePhase
		want  workload.RestoreRecovery
		verb  string
	}{
		{workload.RestoreLeftover, workload.RestoreRollBack, "rolling it back"},
		{workload.RestoreStaged, workload.RestoreRollBack, "rolling it back"},
		{workload.RestoreMovingOld, workload.RestoreRollBack, "rolling it back"},
		{workload.RestoreMovingNew, workload.RestoreComplete, "completing"},
		{workload.RestoreMerging, workload.RestoreComplete, "completing"},
		{workload.RestoreSwapped, workload.RestoreComplete, "completing"},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			for _, kind := range []string{"update-status", "config-changed", "pebble-ready", "synapse-peers-relation-changed"} {
				s := rsStopped(t, tc.phase)
				s.Event.Kind = kind
				d := decide.Decide(s)
				assert.Equal(t, tc.want, d.RecoverRestore, kind)
				assert.True(t, rsWarned(d, tc.phase, tc.verb), "%s: %+v", kind, d.Logs)
				require.NotNil(t, d.Synapse, kind)
				assert.Contains(t, d.Synapse.Changes.Start, workload.MainService, "%s: started after the recovery", kind)
				assert.Equal(t, decide.Active, ttStatus(d).Level, ttStatus(d).Message)
			}
		})
	}
}

func TestNoRestorePendingRecoversNothing(t *testing.T) {
	d := decide.Decide(ttReady(t))
	assert.Empty(t, d.RecoverRestore)
	for _, l := range d.Logs {
		assert.NotContains(t, l.Message, "restore")
	}
}

// TestInterruptedRestoreIsRecoveredWhateverElseBlocks: an invalid
// configuration or a changed server_name stops the hook before any
// container is planned; the restore is still put right, so the data is
// whole whenever Synapse next starts.
func TestInterruptedRestoreIsRecoveredWhateverElseBlocks(t *testing.T) {
	s := rsStopped(t, workload.RestoreMovingOld)
	s.ConfigErr = errors.New("server_name is required")
	d := decide.Decide(s)
	assert.Equal(t, workload.RestoreRollBack, d.RecoverRestore)
	assert.Nil(t, d.Synapse, "nothing is started")
	assert.Equal(t, decide.Blocked, ttStatus(d).Level)

	s = rsStopped(t, workload.RestoreMovingNew)
	s.Config = ttConfig(t, map[string]any{"server_name": "other.example"})
	d = decide.Decide(s)
	assert.Equal(t, workload.RestoreComplete, d.RecoverRestore)
	assert.Nil(t, d.Synapse)
}

// TestUnknownRestorePhaseKeepsSynapseStopped: a journal this charm cannot
// read or does not know (written by a newer revision) is not guessed at:
// Synapse is left as it is (stopped: it must not create an empty
// database) and the unit blocks naming the journal.
func TestUnknownRestorePhaseKeepsSynapseStopped(t *testing.T) {
	for _, phase := range []workload.RestorePhase{"unreadable journal /data/.synapse-restore-journal", "verifying"} {
		t.Run(string(phase), func(t *testing.T) {
			d := decide.Decide(rsStopped(t, phase))
			assert.Empty(t, d.RecoverRestore)
			assert.Nil(t, d.Synapse, "synapse is not started")
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level)
			assert.True(t, ttHas(st.Message, "interrupted restore-backup", string(phase), "/data"), st.Message)
		})
	}
}
