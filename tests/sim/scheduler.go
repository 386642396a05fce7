package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The scheduler plays each unit's agent: from the unit's progress and the
// model it derives the next hook, as Juju's uniter resolver does on
// Kubernetes:
//
//   - a dying unit: <storage>-storage-detaching, then it leaves its
//     relations, other relations first and peers last (relation-departed
//     for each remote unit, then relation-broken, never on a peer
//     relation), then stop, then remove;
//   - a live unit: the steps of its mode's order (mode.go): install,
//     stop/upgrade-charm of a recreated pod, relation-created,
//     leader-elected or leader-settings-changed (Juju 3 only), config-changed
//     and start, <container>-pebble-*, secret-changed,
//     <storage>-storage-attached, config-changed after a change, relation
//     hooks, update-status;
//   - relation hooks, relation by relation: changed right after joined,
//     departed, broken, changed for the remote application when its bag
//     changed (unit empty; on a peer relation every unit gets it, the
//     writing leader included, as Juju 3.6 does), joined, changed for each
//     remote unit whose bag changed.
//
// Hooks run one at a time per model, round-robin over the units. Remote
// applications' hooks run before our units' whenever one is queued.

// HookError reports hooks that kept failing after every retry.
type HookError struct {
	// Failures lists "<unit>: <hook> (exit N after K attempts)" with the
	// last output.
	Failures []string
}

func (e *HookError) Error() string {
	return "hooks failed: " + strings.Join(e.Failures, "; ")
}

// ErrNotIdle is wrapped by WaitIdle's error when the model kept running
// hooks past Options.MaxHooks.
var ErrNotIdle = errors.New("model did not settle")

// WaitIdle runs queued hooks until none remain. A failing hook is retried
// with backoff, like Juju, up to Options.MaxRetries times; after that the
// unit stays in error (its other hooks wait, as in Juju) and WaitIdle
// returns a *HookError once nothing else can run. Resolve clears the error.
func (m *Model) WaitIdle(ctx context.Context) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	var last []string
	for ran := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return errors.New("model closed")
		}
		if len(m.providerQueue) > 0 {
			ev := m.providerQueue[0]
			m.providerQueue = m.providerQueue[1:]
			skip := ev.rel.dying && ev.kind != "broken"
			m.mu.Unlock()
			if skip {
				continue
			}
			if err := m.runProviderEvent(ctx, ev); err != nil {
				return err
			}
			continue
		}
		u, spec, attempt, wait := m.nextLocked()
		if u == nil {
			var failures []string
			for _, v := range m.sortedUnits() {
				if f := v.failure; f != nil && f.exhausted {
					failures = append(failures, fmt.Sprintf("%s: %s (failed %d times): %s",
						v.name, f.spec, f.attempts, tail(f.output, 2000)))
				}
			}
			m.mu.Unlock()
			if wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return ctx.Err()
				}
				continue
			}
			if len(failures) > 0 {
				return &HookError{Failures: failures}
			}
			return nil
		}
		m.mu.Unlock()
		ran++
		if ran > m.opts.MaxHooks {
			return fmt.Errorf("%w after %d hooks; the last ones: %s", ErrNotIdle, m.opts.MaxHooks, strings.Join(last, ", "))
		}
		last = append(last, u.name+" "+spec.String())
		if len(last) > 12 {
			last = last[1:]
		}
		res := m.runSpec(ctx, u, spec, attempt)
		if res.err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		m.mu.Lock()
		if res.ok() {
			if f := u.failure; f != nil {
				u.failure = nil
				if u.workloadStatus.Status == "error" {
					u.setWorkloadStatus(f.saved)
				}
			}
			after := m.afterHookLocked(u, spec)
			m.mu.Unlock()
			if after != nil {
				after(ctx)
			}
			continue
		}
		m.failHookLocked(u, spec, res.code, res.output, res.err)
		m.mu.Unlock()
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// failHookLocked puts the unit in error and schedules a retry.
func (m *Model) failHookLocked(u *unit, spec *hookSpec, code int, output string, err error) {
	f := u.failure
	if f == nil || f.spec != spec {
		f = &hookFailure{spec: spec, saved: u.workloadStatus}
		u.failure = f
	}
	f.attempts++
	f.output = output
	if err != nil {
		f.output += "\n" + err.Error()
	}
	delay := m.opts.RetryDelay << (f.attempts - 1)
	f.nextAt = time.Now().Add(delay)
	if f.attempts > m.opts.MaxRetries {
		f.exhausted = true
	}
	u.setWorkloadStatus(Status{Status: "error", Message: fmt.Sprintf("hook failed: %q", spec.name), Since: time.Now().UTC()})
	u.agentStatus = Status{Status: "idle", Since: time.Now().UTC()}
	m.rec.addStatus(StatusRecord{Unit: u.name, Hook: spec.name, Status: "error", Message: u.workloadStatus.Message})
}

// Resolve clears a unit's hook error so the failed hook runs again on the
// next WaitIdle (like "juju resolved"). With noRetry the failed hook is
// skipped instead (like "juju resolved --no-retry").
func (m *Model) Resolve(unitName string, noRetry bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unitName]
	if u == nil {
		return fmt.Errorf("resolve: unit %q not found", unitName)
	}
	f := u.failure
	if f == nil {
		return fmt.Errorf("resolve: unit %q is not in error", unitName)
	}
	if noRetry {
		u.failure = nil
		u.setWorkloadStatus(f.saved)
		if f.spec.after != nil {
			f.spec.after()
		}
		return nil
	}
	f.exhausted = false
	f.attempts = 0
	f.nextAt = time.Time{}
	return nil
}

// nextLocked picks the next unit and hook, round-robin. If nothing can run
// now but a retry is due later, it returns how long to wait.
func (m *Model) nextLocked() (*unit, *hookSpec, int, time.Duration) {
	units := m.sortedUnits()
	if len(units) == 0 {
		return nil, nil, 0, 0
	}
	var wait time.Duration
	now := time.Now()
	for i := 0; i < len(units); i++ {
		u := units[(m.rr+1+i)%len(units)]
		if f := u.failure; f != nil {
			if f.exhausted {
				continue
			}
			if d := f.nextAt.Sub(now); d > 0 {
				if wait == 0 || d < wait {
					wait = d
				}
				continue
			}
			m.rr = (m.rr + 1 + i) % len(units)
			return u, f.spec, f.attempts + 1, 0
		}
		if spec := m.nextHookLocked(u); spec != nil {
			m.rr = (m.rr + 1 + i) % len(units)
			return u, spec, 1, 0
		}
	}
	return nil, nil, 0, wait
}

// nextHookLocked derives a unit's next hook, or nil.
func (m *Model) nextHookLocked(u *unit) *hookSpec {
	if u.stopped {
		if u.life == dying {
			return &hookSpec{kind: "hook", name: "remove", relID: -1, after: func() { u.stopped = true }}
		}
		return nil
	}
	if u.life == dying {
		if len(u.attachedStorage) > 0 {
			st := u.attachedStorage[0]
			return &hookSpec{kind: "hook", name: st + "-storage-detaching", relID: -1, storage: st,
				after: func() { u.attachedStorage = removeString(u.attachedStorage, st) }}
		}
		if spec := m.nextRelationHookLocked(u); spec != nil {
			return spec
		}
		return &hookSpec{kind: "hook", name: "stop", relID: -1, after: func() { u.stopped = true }}
	}
	for _, st := range m.order(u) {
		if spec := m.stepHookLocked(u, st); spec != nil {
			return spec
		}
	}
	return nil
}

// stepHookLocked is the hook one step offers a live unit now, or nil.
func (m *Model) stepHookLocked(u *unit, st step) *hookSpec {
	configChanged := func() *hookSpec {
		v := m.configVersion
		return &hookSpec{kind: "hook", name: "config-changed", relID: -1, after: func() { u.configSeen = v }}
	}
	// Nothing but install before install.
	if !u.installed && st != stepInstall {
		return nil
	}
	switch st {
	case stepInstall:
		if u.installed {
			return nil
		}
		return &hookSpec{kind: "hook", name: "install", relID: -1, after: func() {
			u.installed = true
			if u.workloadStatus.Status == "maintenance" && u.workloadStatus.Message == "installing charm software" {
				u.setWorkloadStatus(Status{Status: "unknown", Since: time.Now().UTC()})
			}
		}}
	case stepRefresh:
		return m.refreshHookLocked(u)
	case stepCreated:
		for _, r := range m.sortedRelations() {
			ur := u.rel[r.id]
			if ur == nil || ur.created || r.dying {
				continue
			}
			r := r
			return &hookSpec{kind: "hook", name: r.endpoint + "-relation-created", relID: r.id, remoteApp: r.remoteApp,
				before: func() { m.enterScopeLocked(r, u, ur) },
				after:  func() { ur.created = true }}
		}
	case stepLeadership:
		if u.leaderElected {
			return &hookSpec{kind: "hook", name: "leader-elected", relID: -1, after: func() { u.leaderElected = false }}
		}
		if u.leaderSettings {
			return &hookSpec{kind: "hook", name: "leader-settings-changed", relID: -1, after: func() { u.leaderSettings = false }}
		}
	case stepStart:
		if u.started {
			return nil
		}
		if u.configSeen < m.configVersion {
			return configChanged()
		}
		return &hookSpec{kind: "hook", name: "start", relID: -1, after: func() {
			u.started = true
			u.leaderSettings = u.leaderSettings || u.refreshSettings
			u.refreshSettings = false
		}}
	case stepWorkload:
		if len(u.workload) > 0 {
			ev := u.workload[0]
			return &hookSpec{kind: "hook", name: ev.container + "-" + ev.hook, relID: -1, container: ev.container,
				checkName: ev.check, noticeKey: ev.noticeKey, noticeID: ev.noticeID,
				after: func() { u.workload = removeWorkloadEvent(u.workload, ev) }}
		}
	case stepSecrets:
		if len(u.secretChanged) > 0 {
			id := u.secretChanged[0]
			return &hookSpec{kind: "hook", name: "secret-changed", relID: -1, secretID: id,
				after: func() { u.secretChanged = removeString(u.secretChanged, id) }}
		}
	case stepStorage:
		// The storage comes with the pod; Juju's storage resolver runs
		// storage-attached whenever no other hook is in progress (on
		// Kubernetes never between config-changed and start).
		if len(u.pendingStorage) > 0 {
			st := u.pendingStorage[0]
			return &hookSpec{kind: "hook", name: st + "-storage-attached", relID: -1, storage: st,
				after: func() {
					u.pendingStorage = removeString(u.pendingStorage, st)
					u.attachedStorage = append(u.attachedStorage, st)
				}}
		}
	case stepConfig:
		if u.started && u.configSeen < m.configVersion {
			return configChanged()
		}
	case stepAppChanged:
		for _, r := range m.hookRelations() {
			if ur := u.rel[r.id]; ur != nil && ur.inScope && !ur.broken {
				if spec := m.appChangedLocked(u, r, ur); spec != nil {
					return spec
				}
			}
		}
	case stepRelations:
		return m.nextRelationHookLocked(u)
	case stepUpdateStatus:
		if u.updateStatus {
			return &hookSpec{kind: "hook", name: "update-status", relID: -1, after: func() { u.updateStatus = false }}
		}
	}
	return nil
}

func removeWorkloadEvent(list []workloadEvent, ev workloadEvent) []workloadEvent {
	var out []workloadEvent
	for _, x := range list {
		if x != ev {
			out = append(out, x)
		}
	}
	return out
}

func removeString(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// hookRelations are the relations in the order the uniter's relation
// resolver visits them: peer relations last, so that the other relations'
// hooks can rely on the peers still being there (internal/worker/uniter/
// relation/resolver.go in 3.6 and 4.x).
func (m *Model) hookRelations() []*relation {
	var out, peers []*relation
	for _, r := range m.sortedRelations() {
		if r.peer {
			peers = append(peers, r)
		} else {
			out = append(out, r)
		}
	}
	return append(out, peers...)
}

// nextRelationHookLocked derives the next relation hook of a unit.
func (m *Model) nextRelationHookLocked(u *unit) *hookSpec {
	for _, r := range m.hookRelations() {
		ur := u.rel[r.id]
		if ur == nil || ur.broken {
			continue
		}
		if !ur.inScope {
			if r.dying || u.life == dying {
				// Never entered: nothing to leave.
				ur.broken = true
				m.finishRelationLocked(r)
			}
			continue
		}
		if spec := m.relationHookLocked(u, r, ur); spec != nil {
			return spec
		}
	}
	return nil
}

// relationHookLocked is nextHookForRelation of Juju's relation resolver:
// relation-changed right after a joined, departed for units gone, broken
// once a dying relation (or the relation of a dying unit) has no members
// left (never on a peer relation), relation-changed for the remote
// application's bag, then joined for new units and changed for the bags
// that moved.
func (m *Model) relationHookLocked(u *unit, r *relation, ur *unitRelation) *hookSpec {
	members := m.members(r, u)
	isMember := map[string]bool{}
	for _, n := range members {
		isMember[n] = true
	}
	changed := func(n string) *hookSpec {
		ver := 0
		if b := r.remoteUnitBag(n); b != nil {
			ver = b.version
		}
		return &hookSpec{kind: "hook", name: r.endpoint + "-relation-changed", relID: r.id,
			remoteUnit: n, remoteApp: r.remoteApp,
			after: func() { delete(ur.needsChanged, n); ur.seen[n] = ver }}
	}
	for _, n := range members {
		if ur.needsChanged[n] {
			return changed(n)
		}
	}
	// Departed: units this unit saw join that are no longer members.
	for _, n := range sortedUnitNames(ur.joined) {
		if isMember[n] || m.departedLostLocked(u, r, n) {
			continue
		}
		n := n
		departing := n
		if u.life == dying {
			departing = u.name
		}
		return &hookSpec{kind: "hook", name: r.endpoint + "-relation-departed", relID: r.id,
			remoteUnit: n, remoteApp: r.remoteApp, departing: departing,
			before: func() {
				delete(ur.joined, n)
				delete(ur.needsChanged, n)
			}}
	}
	if (r.dying || u.life == dying) && len(ur.joined) == 0 {
		leave := func() {
			ur.broken = true
			ur.inScope = false
			if !r.peer {
				m.queueProviderLocked(r, "changed")
			}
			m.finishRelationLocked(r)
		}
		if r.peer {
			// "you cannot depart peer relations": no relation-broken.
			leave()
			return nil
		}
		return &hookSpec{kind: "hook", name: r.endpoint + "-relation-broken", relID: r.id, remoteApp: r.remoteApp,
			after: leave}
	}
	if spec := m.appChangedLocked(u, r, ur); spec != nil {
		return spec
	}
	for _, n := range members {
		if ur.joined[n] {
			continue
		}
		n := n
		return &hookSpec{kind: "hook", name: r.endpoint + "-relation-joined", relID: r.id,
			remoteUnit: n, remoteApp: r.remoteApp,
			before: func() { ur.joined[n] = true; ur.needsChanged[n] = true }}
	}
	for _, n := range members {
		if b := r.remoteUnitBag(n); b != nil && b.version > ur.seen[n] {
			return changed(n)
		}
	}
	return nil
}

// appChangedLocked is relation-changed for the remote application's bag
// (unit empty) when it moved. On a peer relation every unit gets it, the
// writing leader included, as Juju 3.6 does.
func (m *Model) appChangedLocked(u *unit, r *relation, ur *unitRelation) *hookSpec {
	if r.dying || u.life != alive || r.remoteAppBag.version <= ur.seenApp {
		return nil
	}
	ver := r.remoteAppBag.version
	return &hookSpec{kind: "hook", name: r.endpoint + "-relation-changed", relID: r.id,
		remoteApp: r.remoteApp, after: func() { ur.seenApp = ver }}
}

// departedLostLocked reports whether Options.LoseDeparted keeps u, a unit
// that stays, from ever hearing that peer n left.
func (m *Model) departedLostLocked(u *unit, r *relation, n string) bool {
	if !m.opts.LoseDeparted || !r.peer || u.life != alive {
		return false
	}
	v := m.units[n]
	return v == nil || v.life != alive
}

// enterScopeLocked puts a unit in a relation's scope. Like Juju, the agent
// seeds the unit's bag with its ingress address (private-address,
// ingress-address, egress-subnets): on Kubernetes the application's service
// address.
func (m *Model) enterScopeLocked(r *relation, u *unit, ur *unitRelation) {
	if ur.inScope {
		return
	}
	ur.inScope = true
	// A fresh bag: a departed unit of the same name may have left one.
	b := newBag()
	if old := r.unitBags[u.name]; old != nil {
		b.version = old.version + 1
	}
	for k, v := range addressSettings(m.addrs.serviceAddress()) {
		b.data[k] = v
	}
	r.unitBags[u.name] = b
	m.queueProviderLocked(r, "changed")
}

// addressSettings are the keys Juju writes into a unit's bag when it enters
// a relation's scope.
func addressSettings(addr string) map[string]string {
	return map[string]string{"egress-subnets": addr + "/32", "ingress-address": addr, "private-address": addr}
}

// sortedUnitNames returns the keys of a unit-name set in unit order.
func sortedUnitNames(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sortUnitNames(out)
	return out
}

func sortUnitNames(names []string) {
	less := func(a, b string) bool {
		if unitApp(a) != unitApp(b) {
			return unitApp(a) < unitApp(b)
		}
		return unitNumber(a) < unitNumber(b)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && less(names[j], names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

// afterHookLocked handles what follows a successful hook. It returns work
// to do without the model lock (stopping a removed unit's workload).
func (m *Model) afterHookLocked(u *unit, spec *hookSpec) func(context.Context) {
	if spec.name == "remove" && u.life == dying {
		return m.dropUnitLocked(u)
	}
	return nil
}
