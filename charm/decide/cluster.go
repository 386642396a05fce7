package decide

import (
	"errors"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// plan returns the cluster plan. The leader computes it from the live
// units and the configuration and publishes it when it changed; every
// unit renders only from the published plan.
func (x *decider) plan(in inputs, preferredMain string) (topology.Plan, bool) {
	s, d, ev := x.s, x.d, x.ev()
	cluster, s3Media := in.db != nil && in.redis != nil, in.media != nil
	var current *topology.Plan
	repaired := false
	if raw := x.app[PlanKey]; raw != "" {
		p, err := topology.Decode(raw)
		var newer *topology.NewerError
		switch {
		case errors.As(err, &newer):
			// A downgrade: only the revision that wrote it can read it.
			d.blocked(RankPlan, "the cluster plan in the peer relation is unusable: %v: juju refresh %s --revision <the revision that wrote it>", err, ev.App)
			return topology.Plan{}, false
		case err != nil && !s.Leader:
			d.waiting(RankPlan, "the cluster plan in the peer relation is unreadable (%s); the leader rebuilds it on its next hook", Truncate(err.Error(), 120))
			return topology.Plan{}, false
		case err != nil:
			current, repaired = x.recoverPlan(), true
			d.Logs = append(d.Logs, LogLine{Level: "WARNING", Message: "the cluster plan in the peer relation was unreadable (" + Truncate(err.Error(), 200) + "); rebuilt from the plans the units applied"})
		default:
			current = p
		}
	}
	if !s.Leader {
		if current == nil {
			d.waiting(RankPlan, "waiting for the leader to publish the cluster plan")
			return topology.Plan{}, false
		}
		return *current, true
	}
	// Computed here, past the leader check: the token renders
	// homeserver.yaml a second time, which other units need not pay.
	restartToken := x.restartToken(in)
	if restartToken == "" && current != nil {
		restartToken = current.RestartToken
	}
	next := topology.Compute(topology.View{
		Units:         s.Peer.LiveUnits(ev.Unit),
		Leader:        ev.Unit,
		Current:       current,
		PreferredMain: preferredMain,
		Cluster:       cluster,
		Settings: topology.Settings{
			Preset:               s.Config.WorkersPreset,
			Counts:               roleCounts(s.Config.WorkerCounts),
			KeepSingletonsOnMain: s.Config.KeepSingletonsOnMain,
			MaxProcessesPerUnit:  s.Config.MaxProcessesPerUnit,
			Media:                s3Media,
			Ignore:               s.Config.WorkersIgnoreList,
			RestartToken:         restartToken,
		},
	})
	if current == nil || repaired || next.Generation != current.Generation {
		x.setPeerApp(map[string]string{PlanKey: next.Encode()})
		d.logf("published plan %d: main %s, %d processes", next.Generation, next.Main, len(next.Processes))
	}
	return next, true
}

// roleCounts types the operator's per-role counts; nil when none.
func roleCounts(counts map[string]int) map[workload.Role]int {
	var out map[workload.Role]int
	for role, n := range counts {
		if out == nil {
			out = map[workload.Role]int{}
		}
		out[workload.Role(role)] = n
	}
	return out
}

// recoverPlan rebuilds the last good plan from the copies the units keep of
// the plan they applied: the newest copy, with a generation above every
// unit's, so that every unit applies it again (restarting nothing when it
// matches what runs). Nil when no unit kept one.
func (x *decider) recoverPlan() *topology.Plan {
	var best *topology.Plan
	top := 0
	bags := []map[string]string{x.s.Peer.Own}
	for _, b := range x.s.Peer.Units {
		bags = append(bags, b)
	}
	for _, b := range bags {
		r, _ := relations.ParseUnitReport(b)
		top = max(top, r.AppliedGeneration)
		if r.AppliedPlan == "" {
			continue
		}
		p, err := topology.Decode(r.AppliedPlan)
		if err != nil {
			continue
		}
		top = max(top, p.Generation)
		if best == nil || p.Generation > best.Generation {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	best.Generation = top + 1
	return best
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
		bag, live := x.s.Peer.Units[p.Unit]
		if p.Unit == x.ev().Unit || !live {
			// A unit no longer in the relation (or that goal-state says
			// left) is being torn down and will run no hook to report:
			// waiting for it would hold federation sending forever.
			continue
		}
		r, _ := relations.ParseUnitReport(bag)
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
