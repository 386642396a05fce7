package topology

import (
	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// Step says that from FromUnits live units on, a role has Count slots
// (until a later step of the same role).
type Step struct {
	FromUnits int
	Count     int
}

// Preset gives each role its steps, in ascending FromUnits; a role
// without steps has no slots. Generic workers are not in a preset: every
// non-main unit runs one.
type Preset map[workload.Role][]Step

// The duties every preset moves off the main from the first unit of a
// cluster: they cost the main CPU on every event (sending federation
// transactions and pushes), run long jobs (background updates, the user
// directory) or hold the media store's traffic; moving them later would
// restart the main, so they start as workers.
var minimal = Preset{
	workload.RoleFederationSend: {{1, 1}},
	workload.RolePusher:         {{1, 1}},
	workload.RoleMedia:          {{1, 1}},
	workload.RoleBackground:     {{1, 1}},
	workload.RoleUserDirectory:  {{1, 1}},
}

// Presets are the values of workers_preset.
var Presets = map[string]Preset{
	config.PresetMinimal: minimal,
	// balanced, the default, is what a community server wants as it grows.
	// The main is one Python process: persisting events is its largest
	// cost, then /sync. Stream writers restart every process when added,
	// so they come late and few; readers (sync, initial sync, federation
	// inbound) only change routing, so they come as units do.
	config.PresetBalanced: with(minimal, Preset{
		// Appservice notification is cheap to move and bridges are common.
		workload.RoleAppservice: {{2, 1}},
		// Event persistence off the main once there are units to spare.
		workload.RoleEventPersister: {{3, 1}, {8, 2}},
		// /sync with user affinity keeps each user's caches on one process.
		workload.RoleSync: {{4, 1}, {8, 2}},
		// At 8 units: initial syncs no longer stall incremental ones,
		// inbound federation gets its own processes, and the two busiest
		// streams after events, receipts and device lists (E2EE), leave
		// the main.
		workload.RoleInitialSync:       {{8, 1}},
		workload.RoleFederationInbound: {{8, 1}},
		workload.RoleReceipts:          {{8, 1}},
		workload.RoleDeviceLists:       {{8, 1}},
	}),
	// one-of-each runs one process of every role, as
	// matrix-docker-ansible-deploy's preset of that name does. Not
	// thread-subscriptions: its endpoints are off in the charm's Synapse
	// configuration (msc4306 is not enabled).
	config.PresetOneOfEach: oneOfEach(),
}

// with returns base with more's roles added or replaced.
func with(base, more Preset) Preset {
	out := Preset{}
	for r, s := range base {
		out[r] = s
	}
	for r, s := range more {
		out[r] = s
	}
	return out
}

func oneOfEach() Preset {
	out := Preset{}
	for _, s := range workload.Roles {
		if !s.Scalable && s.Role != workload.RoleThreadSubs {
			out[s.Role] = []Step{{1, 1}}
		}
	}
	return out
}

// Count is the number of slots the preset gives role at units live units.
func (p Preset) Count(role workload.Role, units int) int {
	n := 0
	for _, s := range p[role] {
		if units >= s.FromUnits {
			n = s.Count
		}
	}
	return n
}

func init() {
	// worker_counts accepts every placed role of the table, Single ones
	// at most once.
	for _, s := range workload.Roles {
		if s.Scalable {
			continue
		}
		limit := config.MaxRoleCount
		if s.Single {
			limit = 1
		}
		config.WorkerRoles[string(s.Role)] = limit
	}
}
