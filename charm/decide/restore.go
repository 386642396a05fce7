package decide

import (
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// restore decides what this hook does with a restore-backup found half
// done on this unit's volume (the action was killed): roll it back or
// complete it, which the hook does before it applies the synapse
// container, so Synapse never starts on a database moved aside. A phase
// this charm does not know (a journal of a newer revision) is left alone,
// and so is Synapse: the unit blocks naming the journal.
func (x *decider) restore() {
	phase := x.s.RestorePending
	if phase == "" {
		return
	}
	how, ok := phase.Recovery()
	if !ok {
		x.d.Synapse = nil
		x.d.blocked(RankSetup, "an interrupted restore-backup left %s in a state this charm does not know (%s): refresh to the revision that ran it, or put the data back by hand and remove the journal", workload.DataDir, phase)
		return
	}
	x.d.RecoverRestore = how
	x.d.Logs = append(x.d.Logs, LogLine{Level: "WARNING", Message: fmt.Sprintf("restore-backup was interrupted in phase %s: %s before starting Synapse", phase, recoveryVerb(how))})
}

func recoveryVerb(how workload.RestoreRecovery) string {
	if how == workload.RestoreComplete {
		return "completing it"
	}
	return "rolling it back"
}
