package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Refresh replaces the application's charm with the binary at charm (like
// "juju refresh --path", or "--switch" to another charm) and runs what
// Juju 3.6 does on Kubernetes, where the refresh updates the StatefulSet
// and Kubernetes recreates the pods one at a time, highest ordinal first:
// on each unit, stop (the old charm, as its pod terminates); then the new
// pod: every container restarted (storage kept), upgrade-charm,
// config-changed, start, leader-settings-changed on a follower, and
// <container>-pebble-ready for each container that comes up. The next pod
// goes only once this unit is idle (Kubernetes waits for its readiness).
// Hooks run here, as in WaitIdle.
func (m *Model) Refresh(ctx context.Context, charm string) error {
	abs, err := filepath.Abs(charm)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	m.mu.Lock()
	var names []string
	for _, u := range m.sortedUnits() {
		if u.life == alive {
			names = append([]string{u.name}, names...)
		}
	}
	m.opts.Charm = abs
	m.mu.Unlock()
	m.logf("refresh %s --path %s", m.opts.App, abs)
	for _, name := range names {
		if err := m.refreshUnit(ctx, name); err != nil {
			return fmt.Errorf("refresh %s: %w", name, err)
		}
	}
	return nil
}

// DeletePod deletes a unit's pod (like "kubectl delete pod"); Kubernetes
// recreates it with the same storage. The old pod's agent runs stop as it
// terminates; the new pod's charm directory is new, so its agent runs
// upgrade-charm, then config-changed and start (the start a sidecar agent
// runs on every new pod: 3.6's uniter.go sets rebootDetected), then
// <container>-pebble-ready for each container up (leader-settings-changed
// on a follower on Juju 3). Hooks run here, as in WaitIdle.
func (m *Model) DeletePod(ctx context.Context, name string) error {
	m.logf("delete pod of %s", name)
	if err := m.refreshUnit(ctx, name); err != nil {
		return fmt.Errorf("delete pod of %s: %w", name, err)
	}
	return nil
}

func (m *Model) refreshUnit(ctx context.Context, name string) error {
	m.mu.Lock()
	u := m.units[name]
	if u == nil || u.life != alive {
		m.mu.Unlock()
		return nil
	}
	u.refreshStop = true
	m.mu.Unlock()
	if err := m.WaitIdle(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}

	if err := m.recreatePod(ctx, u); err != nil {
		return err
	}
	// Kubernetes recreates the next pod once this one is ready.
	return m.WaitIdle(ctx)
}

// recreatePod gives the unit a new pod: the new charm, every container
// restarted, and the hooks a new pod's agent runs queued.
func (m *Model) recreatePod(ctx context.Context, u *unit) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	name := u.name
	// A new pod has a new charm container: its charm directory (an
	// emptyDir under Juju) starts empty, and with it what the charm kept
	// there between hooks.
	if err := os.RemoveAll(u.charmDir); err != nil {
		return fmt.Errorf("new pod of %s: %w", name, err)
	}
	if err := m.prepareUnitDir(u); err != nil {
		return err
	}
	var up []string
	for _, c := range m.meta.Containers {
		ready, err := m.opts.Workload.RestartContainer(ctx, name, c.Name)
		if err != nil {
			return fmt.Errorf("restart %s: %w", c.Name, err)
		}
		if ready {
			up = append(up, c.Name)
		}
	}
	m.mu.Lock()
	u.upgradePending = true
	// A new pod's agent starts the unit again: config-changed, start.
	u.started = false
	u.configSeen = 0
	u.refreshSettings = m.leader != name && m.leaderSettingsLocked()
	u.phase = phaseRecreated
	u.workload = nil
	for _, c := range up {
		u.workload = append(u.workload, workloadEvent{hook: "pebble-ready", container: c})
	}
	m.mu.Unlock()
	m.logf("refresh %s: pod recreated (containers up: %v)", name, up)
	return nil
}

// refreshHookLocked returns the hooks a refresh queues before the others:
// stop on the old pod, then upgrade-charm on the new one.
func (m *Model) refreshHookLocked(u *unit) *hookSpec {
	if u.refreshStop {
		return &hookSpec{kind: "hook", name: "stop", relID: -1, after: func() { u.refreshStop = false }}
	}
	if u.upgradePending {
		return &hookSpec{kind: "hook", name: "upgrade-charm", relID: -1, after: func() { u.upgradePending = false }}
	}
	return nil
}
