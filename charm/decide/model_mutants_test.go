package decide_test

import (
	"slices"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// modelMutant is a seeded bug: a lie in the Snapshot Decide reads, or a
// change to the Decision it returns. No global is patched.
type modelMutant struct {
	name     string
	snapshot func(s *decide.Snapshot)
	decision func(s decide.Snapshot, d decide.Decision) decide.Decision
}

// modelMutants are the seeded bugs of issue 13 item 6, each with the
// invariant expected to catch it.
var modelMutants = []struct {
	mutant    modelMutant
	caughtBy  string
	maxTrials int
}{
	{modelMutant{name: "the main moves on a leader change", snapshot: modelMainFollowsLeader}, modelInvMainSticky, 3000},
	{modelMutant{name: "a slot renamed on scale-up", decision: modelRenameSlotsOnScaleUp}, modelInvSlotsStable, 3000},
	{modelMutant{name: "a stream writer added by a scale-up", decision: modelWriterOnScaleUp}, modelInvScaleQuiet, 3000},
	{modelMutant{name: "a secret regenerated when the peer bag loses its key", snapshot: modelForgetSecretByLabel}, modelInvSigningKey, 3000},
	{modelMutant{name: "a restart of every process on a no-op config change", decision: modelRestartAllOnConfig}, modelInvRestart, 3000},
	{modelMutant{name: "a worker started before the main reports its version", snapshot: modelMainAlwaysReady}, modelInvWorkerAfter, 3000},
	{modelMutant{name: "a departing unit decides as if it stayed", snapshot: modelIgnoreDeparting}, modelInvDeparting, 3000},
	{modelMutant{name: "the leader plans from relation-list, not goal-state", snapshot: modelIgnoreGoal}, modelInvLeftDropped, 3000},
	{modelMutant{name: "an image without txredisapi runs Redis replication", snapshot: modelRedisIgnoresImage}, modelInvImageHolds, 3000},
	{modelMutant{name: "the image's block is left out of the status", decision: modelImageBlockUnsaid}, modelInvImageBlocks, 3000},
	{modelMutant{name: "the block stays after a restart onto the full image", snapshot: modelKeepLackingReport}, modelInvImageLifts, 3000},
}

// modelRedisIgnoresImage: the image report is not read for Redis, as if
// txredisapi were always there.
func modelRedisIgnoresImage(s *decide.Snapshot) {
	if s.Redis != nil {
		s.Image.Report.Missing = slices.DeleteFunc(slices.Clone(s.Image.Report.Missing), func(m string) bool { return m == "txredisapi" })
	}
}

// modelImageBlockUnsaid: the hook stops at the image, but the status does
// not say why.
func modelImageBlockUnsaid(_ decide.Snapshot, d decide.Decision) decide.Decision {
	d.Items = slices.DeleteFunc(slices.Clone(d.Items), func(it decide.Item) bool { return it.Rank == decide.RankImage })
	return d
}

// modelKeepLackingReport: the full image's report does not replace a
// cached one that names a missing need: the block stays.
func modelKeepLackingReport(s *decide.Snapshot) {
	if s.Peer == nil || !s.Image.Probed || len(s.Image.Report.Missing) > 0 {
		return
	}
	cached, ok := workload.ParseImageReport(s.Peer.Own[relations.PeerKeyImage])
	if !ok || !slices.ContainsFunc(cached.Missing, func(m string) bool { return !modelNeed(m).Informs }) {
		return
	}
	s.Image.Report, s.Image.SynapseVersion, s.Image.Probed = cached, cached.SynapseVersion, false
}

// modelIgnoreDeparting: Decide never learns this unit is leaving: its own
// relation-departed loses JUJU_DEPARTING_UNIT, stop and remove read as
// update-status, goal-state lists it active.
func modelIgnoreDeparting(s *decide.Snapshot) {
	if s.Event.DepartingUnit == s.Event.Unit {
		s.Event.DepartingUnit = ""
	}
	if s.Event.Kind == "stop" || s.Event.Kind == "remove" {
		s.Event.Kind = "update-status"
	}
	if s.Goal != nil {
		s.Goal[s.Event.Unit] = "active"
	}
}

// modelIgnoreGoal: the leader does not read goal-state.
func modelIgnoreGoal(s *decide.Snapshot) { s.Goal = nil }

// modelMainFollowsLeader: a new leader forgets the main's unit is alive,
// so it plans itself as the main.
func modelMainFollowsLeader(s *decide.Snapshot) {
	if s.Event.Kind != "leader-elected" || s.Peer == nil {
		return
	}
	if p, err := topology.Decode(s.Peer.App[decide.PlanKey]); err == nil && p.Main != s.Event.Unit {
		delete(s.Peer.Units, p.Main)
	}
}

// modelRenameSlotsOnScaleUp: when the leader's plan grows, the generic
// slots are renumbered in reverse unit order.
func modelRenameSlotsOnScaleUp(s decide.Snapshot, d decide.Decision) decide.Decision {
	if !s.Leader || s.Peer == nil {
		return d
	}
	bag := d.Write(s.Peer.ID, true)
	cur, err := topology.Decode(s.Peer.App[decide.PlanKey])
	if bag[decide.PlanKey] == "" || err != nil {
		return d
	}
	next, err := topology.Decode(bag[decide.PlanKey])
	if err != nil || len(next.Processes) <= len(cur.Processes) {
		return d
	}
	var names []string
	var at []int
	for i, p := range next.Processes {
		if p.Role == workload.RoleGeneric {
			names, at = append(names, p.Name), append(at, i)
		}
	}
	slices.Reverse(names)
	for j, i := range at {
		next.Processes[i].Name = names[j]
	}
	bag[decide.PlanKey] = next.Encode()
	return d
}

// modelWriterOnScaleUp: when a scale-up adds a unit to the plan, the
// leader also gives the new unit a typing writer at once, which restarts
// every process, instead of waiting for a planned restart.
func modelWriterOnScaleUp(s decide.Snapshot, d decide.Decision) decide.Decision {
	if !s.Leader || s.Peer == nil {
		return d
	}
	bag := d.Write(s.Peer.ID, true)
	cur, err := topology.Decode(s.Peer.App[decide.PlanKey])
	if bag[decide.PlanKey] == "" || err != nil || len(cur.Processes) < 2 {
		return d
	}
	next, err := topology.Decode(bag[decide.PlanKey])
	if err != nil || next.Settings != cur.Settings || len(next.Holders(workload.RoleTyping)) > 0 {
		return d
	}
	for _, p := range next.Processes {
		if p.Role == workload.RoleGeneric && len(cur.OnUnit(p.Unit)) == 0 {
			index := 0
			for _, q := range next.OnUnit(p.Unit) {
				index = max(index, q.Index)
			}
			next.Processes = append(next.Processes, topology.Process{Name: "typing-1", Role: workload.RoleTyping, Unit: p.Unit, Index: index + 1})
			bag[decide.PlanKey] = next.Encode()
			return d
		}
	}
	return d
}

// modelForgetSecretByLabel: the observer no longer finds the secret by
// its label when the peer bag lost its ID.
func modelForgetSecretByLabel(s *decide.Snapshot) {
	if s.Leader && s.Peer != nil && s.Peer.App[decide.SecretIDKey] == "" {
		s.AppSecret.ID, s.AppSecret.Content = "", nil
	}
}

// modelRestartAllOnConfig: config-changed restarts every running
// service, changed or not.
func modelRestartAllOnConfig(s decide.Snapshot, d decide.Decision) decide.Decision {
	if s.Event.Kind != "config-changed" || d.Synapse == nil {
		return d
	}
	p := *d.Synapse
	ch := p.Changes
	for name, on := range s.Synapse.State.Active {
		svc, ok := p.Want.Layer.Services[name]
		if on && ok && svc.Startup == "enabled" && !slices.Contains(ch.Restart, name) && !slices.Contains(ch.Stop, name) {
			ch.Restart = append(slices.Clone(ch.Restart), name)
		}
	}
	p.Changes = ch
	d.Synapse = &p
	return d
}

// modelMainAlwaysReady: a unit believes the main has applied the plan on
// its own Synapse version.
func modelMainAlwaysReady(s *decide.Snapshot) {
	if s.Peer == nil {
		return
	}
	p, err := topology.Decode(s.Peer.App[decide.PlanKey])
	if err != nil {
		return
	}
	bag, ok := s.Peer.Units[p.Main]
	if !ok {
		return
	}
	r, _ := relations.ParseUnitReport(bag)
	r.AppliedGeneration, r.Ready, r.SynapseVersion = p.Generation, true, modelVersion
	s.Peer.Units[p.Main] = r.Bag()
}
