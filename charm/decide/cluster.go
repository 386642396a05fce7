package decide

import (
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// plan returns the cluster plan. The leader computes it from the live
// units and the configuration and publishes it when it changed; every
// unit renders only from the published plan.
func (x *decider) plan(cluster, s3Media bool) (topology.Plan, bool) {
	s, d, ev := x.s, x.d, x.ev()
	var current *topology.Plan
	if raw := x.app[PlanKey]; raw != "" {
		p, err := topology.Decode(raw)
		if err != nil {
			d.blocked(RankPlan, "the cluster plan in the peer relation is unusable: %v", err)
			return topology.Plan{}, false
		}
		current = p
	}
	if !s.Leader {
		if current == nil {
			d.waiting(RankPlan, "waiting for the leader to publish the cluster plan")
			return topology.Plan{}, false
		}
		return *current, true
	}
	next := topology.Compute(topology.View{
		Units:   s.Peer.LiveUnits(ev.Unit),
		Leader:  ev.Unit,
		Current: current,
		// After a switch from the Python charm, its main keeps the data.
		PreferredMain: x.pythonPreferredMain(),
		Cluster:       cluster,
		Settings: topology.Settings{
			EventPersisters:      s.Config.EventPersisters,
			FederationSenders:    s.Config.FederationSenders,
			Pushers:              s.Config.Pushers,
			KeepSingletonsOnMain: s.Config.KeepSingletonsOnMain,
			MaxProcessesPerUnit:  s.Config.MaxProcessesPerUnit,
			Media:                s3Media,
		},
	})
	if current == nil || next.Generation != current.Generation {
		x.setPeerApp(map[string]string{PlanKey: next.Encode()})
		d.logf("published plan %d: main %s, %d processes", next.Generation, next.Main, len(next.Processes))
	}
	return next, true
}

// sendersBarrier decides whether this unit may start the processes of the
// roles that stop together (federation senders: Synapse requires every
// sender of the old set to stop before any sender of the new set starts).
// It returns what this unit reports, and the unit it waits for ("" when
// free to go).
func (x *decider) sendersBarrier(plan topology.Plan) (senderState, string) {
	epoch := plan.SendersEpoch
	own := x.reportedSenders()
	if own.running >= epoch || !holdsStopTogether(plan, x.ev().Unit) {
		// Nothing of the new set to start here: applying the plan stops
		// whatever this unit ran of the old set, so it has stopped too.
		return senderState{epoch, epoch}, ""
	}
	for _, p := range plan.Processes {
		if p.Unit == x.ev().Unit {
			continue
		}
		r, _ := relations.ParseUnitReport(x.s.Peer.Units[p.Unit])
		if r.SendersStopped < epoch {
			// This unit stops its senders now and reports it; it starts
			// the new set once every unit has.
			return senderState{epoch, own.running}, p.Unit
		}
	}
	return senderState{epoch, epoch}, ""
}

// holdsStopTogether reports whether the plan gives unit a process of a
// stop-together role.
func holdsStopTogether(plan topology.Plan, unit string) bool {
	for _, p := range plan.OnUnit(unit) {
		if spec, ok := workload.Spec(p.Role); ok && spec.StopTogether {
			return true
		}
	}
	return false
}

// holdStopFirst keeps this unit's processes of the stop-together roles
// stopped (startup disabled, out of the readiness the unit reports).
func holdStopFirst(want *workload.Container, local []workload.ClusterProcess) {
	held := map[string]bool{}
	for _, p := range local {
		if spec, ok := workload.Spec(p.Role); !ok || !spec.StopTogether {
			continue
		}
		name := workload.ServiceName(p.Name)
		svc := want.Layer.Services[name]
		svc.Startup = "disabled"
		want.Layer.Services[name] = svc
		held[workload.ReadyCheckName(p.Name)] = true
	}
	var checks []string
	for _, c := range want.ReadyChecks {
		if !held[c] {
			checks = append(checks, c)
		}
	}
	want.ReadyChecks = checks
}
