package workload

import (
	"reflect"
	"sort"
	"time"
)

// PebbleState is what Pebble reports about a container that Diff needs.
type PebbleState struct {
	// Plan is the container's current Pebble plan.
	Plan Layer
	// Active says which services run now.
	Active map[string]bool
	// CanStopChecks is true on Pebble 1.19 and later, which know a
	// check's startup field and stop-checks.
	CanStopChecks bool
	// BootID identifies this boot of Pebble: what the charm remembers of
	// the container holds until it changes.
	BootID string
	// PlanYAML is the plan as Pebble gave it, to remember.
	PlanYAML string
	// Current is each service's current status ("active", "backoff", ...).
	Current map[string]string
}

// Changes is what must happen in a container to reach a desired state,
// besides pushing the files that differ.
type Changes struct {
	// Layer is added (combined) when set: the desired services and checks,
	// plus the stale ones turned off.
	Layer *Layer
	// StopChecks are checks no longer wanted that still run.
	StopChecks []string
	// Stop, Restart and Start are run in that order.
	Stop, Restart, Start []string
	// Redefined are the enabled services whose definition (and so the
	// files they read) differs from the plan's, or that are new to it.
	Redefined []string
	// Reload maps each running service that keeps running to the files
	// whose change it applies on SIGHUP.
	Reload map[string][]string
}

// Restarts reports whether a service starts or restarts.
func (c Changes) Restarts() bool { return len(c.Restart)+len(c.Start) > 0 }

// Diff computes the fewest changes from the state to want: the layer is
// added only when a service or check differs from Pebble's plan, a running
// service restarts only when its own definition changed (its environment
// carries the hash of the files it reads), and services that are no longer
// desired are disabled and stopped.
//
// It does not rely on Pebble's replan: replan also restarts every service
// whose definition changed while it was stopped, which would bring a
// removed (disabled) service back to life.
func Diff(st PebbleState, want Container) Changes {
	var ch Changes
	current := st.Plan
	layer := Layer{Summary: want.Layer.Summary, Services: map[string]Service{}, Checks: map[string]Check{}, LogTargets: map[string]LogTarget{}}
	for name, check := range want.Layer.Checks {
		layer.Checks[name] = check
	}
	var staleChecks []string
	for name, check := range current.Checks {
		if _, ok := layer.Checks[name]; !ok && check.Startup != "disabled" {
			staleChecks = append(staleChecks, name)
		}
	}
	if !st.CanStopChecks {
		// An older Pebble (Juju before 3.6.11) refuses the startup field:
		// leave its stale checks running, as they did before.
		staleChecks = nil
	}
	sort.Strings(staleChecks)
	for _, name := range staleChecks {
		// A removed worker's checks, or a dependency no longer used: keep
		// the definition (Pebble cannot delete it) but stop running it.
		check := current.Checks[name]
		check.Override, check.Startup = "replace", "disabled"
		layer.Checks[name] = check
	}
	ch.StopChecks = staleChecks
	for name, lt := range want.Layer.LogTargets {
		layer.LogTargets[name] = lt
	}
	for name, lt := range current.LogTargets {
		if _, ok := layer.LogTargets[name]; ok || (len(lt.Services) == 1 && lt.Services[0] == "-all") {
			continue
		}
		// A Loki unit that left: Pebble cannot delete a target, so it
		// forwards nothing any more.
		lt.Override, lt.Services = "replace", []string{"-all"}
		layer.LogTargets[name] = lt
	}
	for name, svc := range want.Layer.Services {
		layer.Services[name] = svc
	}
	for name, svc := range current.Services {
		if _, ok := layer.Services[name]; ok || svc.Startup == "disabled" {
			continue
		}
		// No longer ours to run: keep the definition, disable and stop it.
		svc.Override = "replace"
		svc.Startup = "disabled"
		layer.Services[name] = svc
	}
	if !planContains(current, layer) {
		ch.Layer = &layer
	}
	for name, svc := range layer.Services {
		have, ok := current.Services[name]
		changed := !ok || !sameService(have, svc)
		switch {
		case svc.Startup == "disabled":
			// Removed services, and services held back, stop.
			if st.Active[name] {
				ch.Stop = append(ch.Stop, name)
			}
		case svc.Startup != "enabled":
		case changed && st.Active[name]:
			ch.Redefined = append(ch.Redefined, name)
			ch.Restart = append(ch.Restart, name)
		case changed:
			ch.Redefined = append(ch.Redefined, name)
			ch.Start = append(ch.Start, name)
		case !st.Active[name]:
			ch.Start = append(ch.Start, name)
		}
	}
	sort.Strings(ch.Stop)
	sort.Strings(ch.Restart)
	sort.Strings(ch.Start)
	sort.Strings(ch.Redefined)
	for name, files := range want.Reload {
		if st.Active[name] && !contains(ch.Restart, name) && !contains(ch.Start, name) {
			if ch.Reload == nil {
				ch.Reload = map[string][]string{}
			}
			ch.Reload[name] = files
		}
	}
	return ch
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// planContains reports whether every service and check of layer is already
// in the plan with the same definition.
func planContains(plan, layer Layer) bool {
	for name, want := range layer.Services {
		have, ok := plan.Services[name]
		if !ok || !sameService(have, want) {
			return false
		}
	}
	for name, want := range layer.Checks {
		have, ok := plan.Checks[name]
		if !ok || !reflect.DeepEqual(normalCheck(have), normalCheck(want)) {
			return false
		}
	}
	for name, want := range layer.LogTargets {
		have, ok := plan.LogTargets[name]
		have.Override, want.Override = "", ""
		if len(have.Labels) == 0 && len(want.Labels) == 0 {
			have.Labels, want.Labels = nil, nil
		}
		if !ok || !reflect.DeepEqual(have, want) {
			return false
		}
	}
	return true
}

func sameService(a, b Service) bool {
	a.Override, b.Override = "", ""
	if len(a.Environment) == 0 && len(b.Environment) == 0 {
		a.Environment, b.Environment = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func normalCheck(c Check) Check {
	c.Override = ""
	if c.Startup == "enabled" {
		c.Startup = ""
	}
	for _, d := range []*string{&c.Period, &c.Timeout} {
		if parsed, err := time.ParseDuration(*d); err == nil {
			*d = parsed.String()
		}
	}
	return c
}

// Readiness describes whether a container's ready checks pass.
type Readiness struct {
	// NotReady names the checks that do not pass yet.
	NotReady []string
	// Failed names services that Pebble reports in error or backoff.
	Failed []string
	// Unreachable names the outside services whose dependency check is
	// down (workload.Container.DependencyChecks), sorted.
	Unreachable []string
}
