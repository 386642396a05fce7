package decide

import (
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// Outcome is what executing a decision found in the containers: whether
// their processes answer their ready checks after the changes.
type Outcome struct {
	// Synapse is the synapse container's readiness; nil when the decision
	// did not apply it.
	Synapse *workload.Readiness
	// Nginx is the nginx container's readiness; nil when not applied.
	Nginx *workload.Readiness
}

// Conclude completes a decision with what its execution found: the Ready
// of this unit's report and the status items of the workload.
func Conclude(d Decision, o Outcome) Decision {
	d.Items = append([]Item(nil), d.Items...)
	if d.Report != nil && d.ReadyFromSynapse {
		r := *d.Report
		r.Ready = o.Synapse != nil && len(o.Synapse.Failed) == 0 && len(o.Synapse.NotReady) == 0
		d.Report = &r
	}
	if r := o.Synapse; r != nil && d.ReadyFromSynapse {
		if len(r.Failed) > 0 {
			d.blocked(RankStarting, "synapse process %s keeps failing: see juju debug-log or pebble logs", strings.Join(r.Failed, ", "))
		}
		if len(r.NotReady) > 0 {
			d.waiting(RankStarting, "synapse is starting: %s not passing yet", strings.Join(r.NotReady, ", "))
		}
		if len(r.Unreachable) > 0 {
			// Synapse's /health stays 200 meanwhile; active would hide it.
			d.waiting(RankDependency, "%s does not answer from the synapse container; Synapse serves what it can until it is back", strings.Join(r.Unreachable, " and "))
		}
	}
	if r := o.Nginx; r != nil && (len(r.Failed) > 0 || len(r.NotReady) > 0) {
		d.waiting(RankRouter, "nginx is not answering its health check yet")
	}
	return d
}
