package sim

import "strings"

// Juju selects which Juju the simulator plays. The two differ only where
// Juju's source or a real controller shows they differ; each difference is
// a field of mode, and each hook order a table below, so the scheduler has
// no version branches of its own.
type Juju int

const (
	// Juju36 plays Juju 3.6 (the default), as its source (3.6.25,
	// internal/worker/uniter) reads.
	Juju36 Juju = iota
	// Juju40 plays Juju 4.0, as a real 4.0.15 controller on Kubernetes
	// showed it (issue 20) and its source (internal/worker/uniter) reads.
	Juju40
)

func (j Juju) String() string {
	if j == Juju40 {
		return "4.0"
	}
	return "3.6"
}

// step is one source of a live unit's next hook; the scheduler tries a
// unit's steps in its mode's order and runs the first hook one offers.
type step int

const (
	stepInstall      step = iota // install
	stepRefresh                  // stop on a pod going away, upgrade-charm on its new pod
	stepCreated                  // <endpoint>-relation-created
	stepLeadership               // leader-elected, leader-settings-changed
	stepStart                    // config-changed then start, until the unit has started
	stepWorkload                 // <container>-pebble-*
	stepSecrets                  // secret-changed
	stepStorage                  // <storage>-storage-attached
	stepConfig                   // config-changed after a change
	stepAppChanged               // relation-changed for a remote application's bag, ahead of the rest
	stepRelations                // relation-departed, -broken, -changed (application), -joined, -changed
	stepUpdateStatus             // update-status
)

// phase is where a unit is in its life, which picks its hook order.
type phase int

const (
	phaseFirst     phase = iota // the application's first unit, deployed with the pod ready
	phaseJoining                // a unit added to a running application
	phaseRecreated              // a unit whose pod was recreated (refresh, deleted pod)
)

// mode is what one Juju does differently.
type mode struct {
	// version is the default JUJU_VERSION.
	version string
	// leaderSettings: followers run the legacy leader-settings-changed
	// (Juju 3; 4.x's leadership resolver has no such hook).
	leaderSettings bool
	// bindHostname: network-get's bind-addresses[].addresses[] carry the
	// address as hostname too (4.x).
	bindHostname bool
	// closedActions: an action's parameters are checked with
	// additionalProperties false unless its schema says otherwise (4.x's
	// domain/deployment/charm/actions.go; charm/v12, which 3.6 uses,
	// leaves the JSON Schema default, true).
	closedActions bool
	// orders lists, per phase, the steps in the order the unit agent tries
	// them while the unit has not started; once started every phase uses
	// phaseJoining's order.
	orders map[phase][]step
}

// modes holds each Juju's behaviour. Both uniters share one resolver
// (created relations, leadership, workload, secrets, actions, storage, then
// config-changed and start, then relations): where a hook lands depends on
// when the pod's containers and storage are ready. The 3.6 table is the
// order this simulator always used (containers up after start); the 4.0
// table is what the 4.0.15 controller showed: the first unit sees its
// containers and storage before config-changed, a joining unit sees the
// peers' application bag before its containers, and its peers' joined
// after its storage.
var modes = map[Juju]mode{
	Juju36: {
		version:        "3.6.25",
		leaderSettings: true,
		orders: map[phase][]step{
			phaseFirst:     order36,
			phaseJoining:   order36,
			phaseRecreated: order36,
		},
	},
	Juju40: {
		version:       "4.0.15",
		bindHostname:  true,
		closedActions: true,
		orders: map[phase][]step{
			phaseFirst: {stepInstall, stepRefresh, stepCreated, stepLeadership, stepWorkload, stepSecrets,
				stepStorage, stepStart, stepConfig, stepRelations, stepUpdateStatus},
			phaseJoining:   order40Joining,
			phaseRecreated: order40Joining,
		},
	},
}

var (
	order36 = []step{stepInstall, stepRefresh, stepCreated, stepLeadership, stepStart, stepWorkload,
		stepSecrets, stepStorage, stepConfig, stepRelations, stepUpdateStatus}
	order40Joining = []step{stepInstall, stepRefresh, stepCreated, stepLeadership, stepStart, stepAppChanged,
		stepWorkload, stepSecrets, stepStorage, stepConfig, stepRelations, stepUpdateStatus}
)

// mode returns the model's Juju behaviour.
func (m *Model) mode() mode {
	return modes[m.opts.Juju]
}

// order is the step order for a unit now.
func (m *Model) order(u *unit) []step {
	md := m.mode()
	if u.started {
		return md.orders[phaseJoining]
	}
	return md.orders[u.phase]
}

// leaderSettingsLocked reports whether followers run
// leader-settings-changed: a Juju 3 mode and a 3.x JUJU_VERSION.
func (m *Model) leaderSettingsLocked() bool {
	return m.mode().leaderSettings && !strings.HasPrefix(m.opts.JujuVersion, "4.")
}
