package decide

import (
	"sort"
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
	// Rejected is Synapse's message per process whose new configuration
	// it refused to load: then nothing of the synapse container changed.
	Rejected map[string]string
}

// Conclude completes a decision with what its execution found: the Ready
// of this unit's report and the status items of the workload.
func Conclude(d Decision, o Outcome) Decision {
	d.Items = append([]Item(nil), d.Items...)
	if len(o.Rejected) > 0 {
		// Every running process keeps the configuration it runs; the
		// unit reports nothing new, so workers do not act on it either.
		names := make([]string, 0, len(o.Rejected))
		for n := range o.Rejected {
			names = append(names, n)
		}
		sort.Strings(names)
		d.Report, d.ReadyFromSynapse = nil, false
		d.blocked(RankConfig, "Synapse rejects the new configuration of %s, so nothing was restarted: %s: correct the option or relation it names (juju config %s ...)",
			strings.Join(names, ", "), Truncate(o.Rejected[names[0]], 240), d.app)
		return d
	}
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
