package sim

import (
	"time"
)

// Options configure a simulated model.
type Options struct {
	// Charm is the path of the charm binary, run as the charm's dispatch.
	// Required.
	Charm string
	// CharmRoot is the directory holding the charm's metadata.yaml,
	// charmcraft.yaml, config.yaml and actions.yaml (any of them may be
	// missing). Their contents decide the containers, storage, endpoints,
	// config options and actions; see LoadCharmMeta. Empty means none.
	CharmRoot string
	// App is the application name. Default "synapse".
	App string
	// ModelName is the model name (the Kubernetes namespace). Default "sim".
	ModelName string
	// ModelUUID is the model UUID. Default: random.
	ModelUUID string
	// Dir is the simulator's working directory (unit roots, charm
	// directories, the hosts file). Default: a new directory under /tmp,
	// removed by Close. Keep it short: Pebble sockets live under it and a
	// unix socket path may not exceed 107 bytes.
	Dir string
	// Workload starts and stops each unit's containers. Default NoWorkload{}.
	Workload Workload
	// Juju selects the Juju played: Juju36 (the default) or Juju40; see
	// mode.go for what differs.
	Juju Juju
	// JujuVersion is JUJU_VERSION. Default "3.6.25" (Juju36) or "4.0.15"
	// (Juju40). A 4.x version also drops the legacy leader-settings-changed
	// hook.
	JujuVersion string
	// TeardownKeepsLeader is what both modes do, as Juju 3.6's and 4.x's
	// source and a real 4.0 controller show: a departing leader keeps its
	// lease (is-leader true) through <storage>-storage-detaching,
	// -relation-departed (JUJU_DEPARTING_UNIT naming itself), stop and
	// remove, since the lease is revoked only when the unit is dead
	// (apiserver/common/unit.go RevokeLeadershipFunc); leadership passes
	// (leader-elected on the lowest live unit) once it is removed. Kept for
	// the callers that set it; it changes nothing.
	TeardownKeepsLeader bool
	// LoseDeparted is a fault seen on Juju 4.0: the units that stay never
	// receive -relation-departed for a removed peer, and their
	// relation-list keeps naming it, while goal-state no longer lists it
	// once it is gone (dying until then).
	LoseDeparted bool
	// HookTimeout bounds one hook or action. Default 5 minutes.
	HookTimeout time.Duration
	// MaxHooks bounds the hooks one WaitIdle may run before it fails, to
	// catch hook loops. Default 500.
	MaxHooks int
	// MaxRetries is how many times a failed hook is retried (as Juju does,
	// with backoff) before WaitIdle gives up and reports it. Default 3.
	MaxRetries int
	// RetryDelay is the first retry delay; it doubles on each retry.
	// Default 100ms.
	RetryDelay time.Duration
	// HookTool is a prebuilt hooktool binary. Default: built once per
	// process with "go build" from this module.
	HookTool string
	// ExtraEnv is added to every hook's environment (for example GOCOVERDIR
	// for a coverage build of the charm). It is not something Juju sets.
	ExtraEnv map[string]string
	// Logf, if set, receives one line per hook run and per operation.
	Logf func(format string, args ...any)
}

const (
	defaultApp       = "synapse"
	defaultModelName = "sim"
)

func (o *Options) withDefaults() Options {
	out := *o
	if out.App == "" {
		out.App = defaultApp
	}
	if out.ModelName == "" {
		out.ModelName = defaultModelName
	}
	if out.ModelUUID == "" {
		out.ModelUUID = newUUID()
	}
	if out.Workload == nil {
		out.Workload = NoWorkload{}
	}
	if out.JujuVersion == "" {
		out.JujuVersion = modes[out.Juju].version
	}
	if out.HookTimeout == 0 {
		out.HookTimeout = 5 * time.Minute
	}
	if out.MaxHooks == 0 {
		out.MaxHooks = 500
	}
	if out.MaxRetries == 0 {
		out.MaxRetries = 3
	}
	if out.RetryDelay == 0 {
		out.RetryDelay = 100 * time.Millisecond
	}
	return out
}
