package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Deploy deploys the application with n units (like "juju deploy -n N").
// The peer relations exist from the start; unit 0 is the leader. Each unit
// gets install, <peer>-relation-created, leader-elected (the leader; others
// get leader-settings-changed on Juju 3), config-changed, start,
// <container>-pebble-ready for every container its Workload reports up and
// <storage>-storage-attached, in its mode's order (mode.go); then the peers
// join each other. Hooks run in WaitIdle.
func (m *Model) Deploy(ctx context.Context, n int) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	m.mu.Lock()
	if m.deployed {
		m.mu.Unlock()
		return fmt.Errorf("deploy: application %q is already deployed", m.opts.App)
	}
	if n < 1 {
		m.mu.Unlock()
		return fmt.Errorf("deploy: need at least one unit, got %d", n)
	}
	m.deployed = true
	m.configVersion++ // every unit starts with config-changed
	for _, ep := range m.meta.peerEndpoints() {
		m.addRelationLocked(&relation{endpoint: ep, iface: m.meta.Peers[ep], peer: true,
			remoteApp: m.opts.App, remoteEndpoint: ep})
	}
	m.mu.Unlock()
	m.logf("deploy %s -n %d", m.opts.App, n)
	for i := 0; i < n; i++ {
		if _, err := m.addUnit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// AddUnit adds one unit (like "juju add-unit" / scaling up by one) and
// returns its name. The new unit takes the lowest free number, as a
// StatefulSet pod takes the next ordinal.
func (m *Model) AddUnit(ctx context.Context) (string, error) {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	return m.addUnit(ctx)
}

// Scale sets the number of units (like "juju scale-application"): it adds
// units, or removes the highest-numbered ones as Kubernetes does.
func (m *Model) Scale(ctx context.Context, n int) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	m.mu.Lock()
	if !m.deployed {
		m.mu.Unlock()
		return fmt.Errorf("scale: the application is not deployed")
	}
	var live []*unit
	for _, u := range m.sortedUnits() {
		if u.life == alive {
			live = append(live, u)
		}
	}
	m.mu.Unlock()
	m.logf("scale-application %s %d", m.opts.App, n)
	if n < 0 {
		return fmt.Errorf("scale: negative scale %d", n)
	}
	for i := len(live); i < n; i++ {
		if _, err := m.addUnit(ctx); err != nil {
			return err
		}
	}
	for i := len(live) - 1; i >= n; i-- {
		if err := m.removeUnit(live[i].name); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) addUnit(ctx context.Context) (string, error) {
	m.mu.Lock()
	if !m.deployed {
		m.mu.Unlock()
		return "", fmt.Errorf("add-unit: the application is not deployed")
	}
	number := 0
	for {
		if _, taken := m.units[fmt.Sprintf("%s/%d", m.opts.App, number)]; !taken {
			break
		}
		number++
	}
	if number > 252 {
		m.mu.Unlock()
		return "", fmt.Errorf("add-unit: no more than 253 units fit in a loopback block")
	}
	name := fmt.Sprintf("%s/%d", m.opts.App, number)
	dir := filepath.Join(m.dir, "units", fmt.Sprintf("%s-%d", m.opts.App, number))
	now := time.Now().UTC()
	u := &unit{
		name: name, number: number, address: m.addrs.unitAddress(number), dir: dir,
		charmDir: filepath.Join(dir, "charm"), containersDir: filepath.Join(dir, "containers"),
		storageDirs: map[string]string{}, state: map[string]string{}, rel: map[int]*unitRelation{},
		agentStatus: Status{Status: "allocating", Since: now},
	}
	u.setWorkloadStatus(Status{Status: "waiting", Message: "installing agent", Since: now})
	for _, st := range m.meta.Storage {
		u.storageDirs[st.Name] = filepath.Join(dir, "storage", st.Name)
		u.pendingStorage = append(u.pendingStorage, st.Name)
	}
	for _, r := range m.relations {
		if !r.dying {
			u.rel[r.id] = newUnitRelation()
		}
	}
	u.phase = phaseJoining
	if m.leader == "" {
		m.leader = name
		u.leaderElected = true
		u.phase = phaseFirst
	} else {
		u.leaderSettings = m.leaderSettingsLocked()
	}
	m.units[name] = u
	if err := m.writeHostsLocked(); err != nil {
		m.mu.Unlock()
		return "", err
	}
	info := m.unitInfo(u)
	m.mu.Unlock()

	if err := m.prepareUnitDir(u); err != nil {
		return "", fmt.Errorf("add-unit %s: %w", name, err)
	}
	ready, err := m.opts.Workload.StartUnit(ctx, info)
	if err != nil {
		return "", fmt.Errorf("add-unit %s: start workload: %w", name, err)
	}
	m.mu.Lock()
	for _, c := range ready {
		u.workload = append(u.workload, workloadEvent{hook: "pebble-ready", container: c})
	}
	m.mu.Unlock()
	m.logf("add-unit %s at %s (containers up: %v)", name, u.address, ready)
	return name, nil
}

// prepareUnitDir lays out the unit's directory: the charm directory with
// dispatch and the charm's metadata files, the container socket
// directories and the storage directories.
func (m *Model) prepareUnitDir(u *unit) error {
	for _, d := range []string{u.charmDir, u.containersDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, d := range u.storageDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, c := range m.meta.Containers {
		if err := os.MkdirAll(filepath.Join(u.containersDir, c.Name), 0o755); err != nil {
			return err
		}
	}
	dispatch := filepath.Join(u.charmDir, "dispatch")
	os.Remove(dispatch)
	if err := os.Link(m.opts.Charm, dispatch); err != nil {
		if err := copyFile(dispatch, m.opts.Charm); err != nil {
			return fmt.Errorf("install dispatch: %w", err)
		}
	}
	if err := os.Chmod(dispatch, 0o755); err != nil {
		return err
	}
	if m.opts.CharmRoot != "" {
		files := []string{"metadata.yaml", "charmcraft.yaml", "config.yaml", "actions.yaml", "manifest.yaml"}
		if packed, err := packedCharmFiles(m.opts.CharmRoot); err != nil {
			return err
		} else if packed != nil {
			files = packed
		}
		for _, f := range files {
			src := filepath.Join(m.opts.CharmRoot, f)
			if _, err := os.Stat(src); err == nil {
				if err := copyFile(filepath.Join(u.charmDir, f), src); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RemoveUnit removes one unit (like "juju remove-unit"; on Kubernetes,
// scaling down removes the highest-numbered unit, see Scale). Its peers get
// relation-departed (JUJU_DEPARTING_UNIT names it; never with
// Options.LoseDeparted); the unit itself gets <storage>-storage-detaching,
// then relation-departed for each remote unit (JUJU_DEPARTING_UNIT naming
// itself) and relation-broken for each relation but the peer ones (other
// relations first, peers last), then stop and remove, and its workload
// stops. A departing leader stays leader through all of it; once it is
// removed the lowest-numbered remaining unit gets leader-elected.
func (m *Model) RemoveUnit(ctx context.Context, name string) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	return m.removeUnit(name)
}

func (m *Model) removeUnit(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[name]
	if u == nil || u.life != alive {
		return fmt.Errorf("remove-unit: unit %q not found", name)
	}
	u.life = dying
	u.leaderElected, u.leaderSettings = false, false
	for _, r := range m.relations {
		if ur := u.rel[r.id]; ur != nil && ur.inScope && !r.peer {
			m.queueProviderLocked(r, "changed")
		}
	}
	m.logf("remove-unit %s", name)
	return nil
}

// electLowestLocked hands leadership to the lowest-numbered live unit,
// which gets leader-elected ("" when none is left).
func (m *Model) electLowestLocked() {
	m.leader = ""
	for _, v := range m.sortedUnits() {
		if v.life == alive {
			m.leader = v.name
			v.leaderElected = true
			v.leaderSettings = false
			return
		}
	}
}

// dropUnitLocked removes a unit whose remove hook ran. It returns the
// workload teardown, run without the lock.
func (m *Model) dropUnitLocked(u *unit) func(context.Context) {
	// Its bags stay readable for the life of each relation, as in Juju; a
	// new unit of the same name starts with a fresh bag (enterScopeLocked).
	delete(m.units, u.name)
	if m.leader == u.name {
		// The lease is revoked once the unit is dead.
		m.electLowestLocked()
	}
	for _, s := range m.secrets.All() {
		delete(s.Consumers, u.name)
		if s.Owner.Unit == u.name {
			m.secrets.Delete(s.ID)
		}
	}
	if err := m.writeHostsLocked(); err != nil {
		m.logf("remove %s: %v", u.name, err)
	}
	name := u.name
	return func(ctx context.Context) {
		if err := m.opts.Workload.StopUnit(ctx, name); err != nil {
			m.logf("remove %s: stop workload: %v", name, err)
		}
		m.logf("unit %s removed", name)
	}
}

// SetLeader makes a unit the leader; it gets leader-elected.
func (m *Model) SetLeader(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[name]
	if u == nil || u.life != alive {
		return fmt.Errorf("set-leader: unit %q not found", name)
	}
	if m.leader == name {
		return nil
	}
	if old := m.units[m.leader]; old != nil {
		old.leaderElected = false
	}
	m.leader = name
	u.leaderElected = true
	u.leaderSettings = false
	m.logf("leader is now %s", name)
	return nil
}

// Leader is the leader unit ("" when there is none).
func (m *Model) Leader() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

// ConfigSet sets config options from strings, typed by the charm's config
// options (like "juju config synapse k=v"); every unit gets config-changed
// when a value changed. Unknown options are an error.
func (m *Model) ConfigSet(values map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	typed := map[string]any{}
	for k, v := range values {
		opt, ok := m.meta.Config[k]
		if !ok {
			return fmt.Errorf("config: unknown option %q", k)
		}
		val, err := parseConfigString(opt.Type, v)
		if err != nil {
			return fmt.Errorf("config: option %q: %w", k, err)
		}
		typed[k] = val
	}
	for k, v := range typed {
		if cur, ok := m.configValueLocked(k); !ok || cur != v {
			changed = true
		}
		m.config[k] = v
	}
	if changed {
		m.configVersion++
		m.logf("config %v", values)
	}
	return nil
}

// ConfigReset returns options to their defaults (like "juju config
// --reset"); every unit gets config-changed when a value changed.
func (m *Model) ConfigReset(keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, k := range keys {
		if _, ok := m.meta.Config[k]; !ok {
			return fmt.Errorf("config: unknown option %q", k)
		}
		if _, set := m.config[k]; set {
			delete(m.config, k)
			changed = true
		}
	}
	if changed {
		m.configVersion++
	}
	return nil
}

// ConfigChanged queues config-changed on every unit with the config
// unchanged, as Juju fires it after an agent restart; benchmarks use it for
// a no-op hook.
func (m *Model) ConfigChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.configVersion++
}

// Config returns the current config as config-get --all would: every
// option, typed, nil where there is neither a value nor a default.
func (m *Model) Config() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.configLocked(true)
}

func (m *Model) configLocked(all bool) map[string]any {
	out := map[string]any{}
	for k, opt := range m.meta.Config {
		if v, ok := m.config[k]; ok {
			out[k] = v
		} else if opt.Default != nil || all {
			out[k] = opt.Default
		}
	}
	for k, v := range m.config {
		out[k] = v
	}
	return out
}

func (m *Model) configValueLocked(k string) (any, bool) {
	if v, ok := m.config[k]; ok {
		return v, true
	}
	opt, ok := m.meta.Config[k]
	if !ok || opt.Default == nil {
		return nil, false
	}
	return opt.Default, true
}

// parseConfigString types a value given on the command line.
func parseConfigString(typ, v string) (any, error) {
	switch typ {
	case "int":
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected int, got %q", v)
		}
		return n, nil
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("expected float, got %q", v)
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("expected boolean, got %q", v)
		}
		return b, nil
	default:
		return v, nil
	}
}

// RestartContainer restarts one container of a unit (as Kubernetes does
// when a liveness probe fails): fresh filesystem except storage, a new
// Pebble; the unit gets <container>-pebble-ready once it is up.
func (m *Model) RestartContainer(ctx context.Context, unitName, container string) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	m.mu.Lock()
	u := m.units[unitName]
	if u == nil {
		m.mu.Unlock()
		return fmt.Errorf("restart-container: unit %q not found", unitName)
	}
	known := false
	for _, c := range m.meta.Containers {
		known = known || c.Name == container
	}
	m.mu.Unlock()
	if !known {
		return fmt.Errorf("restart-container: charm has no container %q", container)
	}
	ready, err := m.opts.Workload.RestartContainer(ctx, unitName, container)
	if err != nil {
		return fmt.Errorf("restart-container %s %s: %w", unitName, container, err)
	}
	m.logf("restart-container %s %s (up: %v)", unitName, container, ready)
	if ready {
		return m.PebbleReady(unitName, container)
	}
	return nil
}

// PebbleReady queues <container>-pebble-ready on a unit.
func (m *Model) PebbleReady(unitName, container string) error {
	return m.queueWorkload(unitName, workloadEvent{hook: "pebble-ready", container: container})
}

// PebbleCheckFailed queues <container>-pebble-check-failed with
// JUJU_PEBBLE_CHECK_NAME.
func (m *Model) PebbleCheckFailed(unitName, container, check string) error {
	return m.queueWorkload(unitName, workloadEvent{hook: "pebble-check-failed", container: container, check: check})
}

// PebbleCustomNotice queues <container>-pebble-custom-notice with
// JUJU_NOTICE_ID, JUJU_NOTICE_TYPE (custom) and JUJU_NOTICE_KEY.
func (m *Model) PebbleCustomNotice(unitName, container, key string) error {
	m.mu.Lock()
	m.noticeSeq++
	id := itoa(m.noticeSeq)
	m.mu.Unlock()
	return m.queueWorkload(unitName, workloadEvent{hook: "pebble-custom-notice", container: container, noticeKey: key, noticeID: id})
}

// PebbleCheckRecovered queues <container>-pebble-check-recovered with
// JUJU_PEBBLE_CHECK_NAME.
func (m *Model) PebbleCheckRecovered(unitName, container, check string) error {
	return m.queueWorkload(unitName, workloadEvent{hook: "pebble-check-recovered", container: container, check: check})
}

func (m *Model) queueWorkload(unitName string, ev workloadEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unitName]
	if u == nil {
		return fmt.Errorf("unit %q not found", unitName)
	}
	for _, x := range u.workload {
		if x == ev {
			return nil
		}
	}
	u.workload = append(u.workload, ev)
	return nil
}

// UpdateStatus queues update-status on every started unit (Juju fires it
// every 5 minutes).
func (m *Model) UpdateStatus() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.units {
		if u.started && u.life == alive {
			u.updateStatus = true
		}
	}
}

// packedCharmFiles lists the files beside dispatch in an unpacked charm
// archive (it holds manifest.yaml, which only a packed charm has), all of
// which Juju installs in the charm directory; nil for a source tree, of
// which only the metadata is installed.
func packedCharmFiles(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, "manifest.yaml")); err != nil {
		return nil, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read the charm at %s: %w", root, err)
	}
	files := []string{}
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != "dispatch" {
			files = append(files, e.Name())
		}
	}
	return files, nil
}
