package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// Model is a simulated Juju model holding one charm's application (the
// charm under test, run as a real dispatch binary) and any number of
// simulated remote applications. It plays the Juju unit agent for every
// unit: it fires hooks in Juju's order, serves the hook tools over a unix
// socket, buffers their writes and commits them only when a hook exits 0.
//
// Operations (Deploy, Integrate, ConfigSet, ...) only change the model and
// queue hooks; WaitIdle runs the queued hooks, one at a time, until none
// remain. Methods are safe for concurrent use, but hooks only run inside
// WaitIdle, RunAction and Exec.
type Model struct {
	opts Options
	meta *CharmMeta

	dir        string
	ownsDir    bool
	sockDir    string
	socketPath string
	toolsDir   string
	hostsPath  string
	logFile    *os.File
	addrs      *addressBlock
	server     *toolServer

	runMu sync.Mutex // held while hooks run: one at a time per model

	mu              sync.Mutex
	closed          bool
	deployed        bool
	units           map[string]*unit
	leader          string
	config          map[string]any // explicitly set values
	configVersion   int
	relations       map[int]*relation
	nextRelationID  int
	remoteApps      map[string]*remoteApp
	secrets         *jujuc.Secrets
	appStatus       Status
	appHistory      []Status
	workloadVersion string
	contexts        map[string]*hookContext
	providerQueue   []providerEvent
	extraHosts      map[string]string
	rr              int // round-robin position of the scheduler
	seq             int
	actionSeq       int
	noticeSeq       int
	rec             *Recorder
}

// life is a unit's lifecycle.
type life int

const (
	alive life = iota
	dying
)

// unit is one unit of the charm under test, with its agent's state.
type unit struct {
	name          string
	number        int
	address       string
	dir           string
	charmDir      string
	containersDir string
	storageDirs   map[string]string
	life          life

	workloadStatus Status
	history        []Status
	agentStatus    Status
	state          map[string]string
	ports          []openPort

	// The agent's progress, which decides the next hook.
	phase           phase // picks the hook order until it has started
	pendingStorage  []string
	attachedStorage []string
	installed       bool
	started         bool
	stopped         bool
	leaderElected   bool // leader-elected pending
	leaderSettings  bool // leader-settings-changed pending
	configSeen      int
	refreshStop     bool // a refresh terminates the pod: stop pending
	upgradePending  bool // the new pod's upgrade-charm pending
	refreshSettings bool // leader-settings-changed after the new pod's start
	workload        []workloadEvent
	updateStatus    bool
	secretChanged   []string
	rel             map[int]*unitRelation
	failure         *hookFailure
}

// unitRelation is one unit's progress in one relation.
type unitRelation struct {
	inScope      bool            // relation-created has started: bags usable
	created      bool            // relation-created succeeded
	joined       map[string]bool // remote units this unit has seen join
	needsChanged map[string]bool // joined, changed still to run
	seen         map[string]int  // bag version each remote unit was last seen at
	seenApp      int             // version of the remote application bag last seen
	broken       bool
}

// workloadEvent is a pending <container>-pebble-* hook.
type workloadEvent struct {
	hook      string // "pebble-ready", "pebble-check-failed", "pebble-check-recovered", "pebble-custom-notice"
	container string
	check     string
	noticeKey string
	noticeID  string
}

// hookFailure is a hook that failed and waits for a retry.
type hookFailure struct {
	spec      *hookSpec
	attempts  int
	nextAt    time.Time
	exhausted bool
	output    string
	saved     Status // workload status before the error
}

// openPort is one opened port range.
type openPort struct {
	Endpoint string
	Protocol string
	From, To int
}

func (p openPort) String() string {
	if p.Protocol == "icmp" {
		return "icmp"
	}
	if p.From == p.To {
		return fmt.Sprintf("%d/%s", p.From, p.Protocol)
	}
	return fmt.Sprintf("%d-%d/%s", p.From, p.To, p.Protocol)
}

// Status is a workload, agent or application status.
type Status struct {
	// Status is e.g. "active", "blocked", "waiting", "maintenance",
	// "unknown", "error" (workload); "idle", "executing", "allocating"
	// (agent).
	Status string `json:"status"`
	// Message is the status message.
	Message string `json:"message"`
	// Since is when it was set.
	Since time.Time `json:"since"`
}

// New creates a model: it reserves the loopback block, builds (or reuses)
// the hook tools, starts the hook-tool server and reads the charm's
// metadata. No unit exists until Deploy.
func New(ctx context.Context, opts Options) (*Model, error) {
	o := opts.withDefaults()
	if o.Charm == "" {
		return nil, errors.New("sim: Options.Charm is required")
	}
	charm, err := filepath.Abs(o.Charm)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(charm); err != nil {
		return nil, fmt.Errorf("sim: charm binary: %w", err)
	}
	o.Charm = charm
	meta, err := LoadCharmMeta(o.CharmRoot)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	m := &Model{
		opts:       o,
		meta:       meta,
		units:      map[string]*unit{},
		config:     map[string]any{},
		relations:  map[int]*relation{},
		remoteApps: map[string]*remoteApp{},
		secrets:    jujuc.NewSecrets(newSecretID),
		contexts:   map[string]*hookContext{},
		extraHosts: map[string]string{},
		rec:        newRecorder(),
		appStatus:  Status{Status: "unknown", Since: time.Now().UTC()},
		rr:         -1,
	}
	ok := false
	defer func() {
		if !ok {
			m.cleanup()
		}
	}()
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "jujusim-")
		if err != nil {
			return nil, err
		}
		m.dir, m.ownsDir = d, true
	} else {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, err
		}
		m.dir = o.Dir
	}
	// The agent socket lives in its own short directory: a unix socket
	// path must stay under 108 bytes.
	if m.sockDir, err = os.MkdirTemp("", "jujuc-"); err != nil {
		return nil, err
	}
	m.socketPath = filepath.Join(m.sockDir, "agent.socket")
	if m.addrs, err = reserveAddressBlock(); err != nil {
		return nil, err
	}
	m.hostsPath = filepath.Join(m.dir, "hosts")
	if err := m.writeHostsLocked(); err != nil {
		return nil, err
	}
	if m.logFile, err = os.OpenFile(filepath.Join(m.dir, "debug.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	if m.toolsDir, err = installHookTools(ctx, o.HookTool, filepath.Join(m.dir, "tools")); err != nil {
		return nil, err
	}
	if m.server, err = startToolServer(m, m.socketPath); err != nil {
		return nil, err
	}
	ok = true
	return m, nil
}

// Close stops every unit's workload, the hook-tool server, and removes the
// working directory if the Model created it.
func (m *Model) Close() error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	units := m.sortedUnits()
	m.mu.Unlock()
	var errs []error
	for i := len(units) - 1; i >= 0; i-- {
		if err := m.opts.Workload.StopUnit(context.Background(), units[i].name); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", units[i].name, err))
		}
	}
	if err := m.cleanup(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *Model) cleanup() error {
	var errs []error
	if m.server != nil {
		if err := m.server.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if m.logFile != nil {
		m.logFile.Close()
	}
	m.addrs.release()
	if m.sockDir != "" {
		os.RemoveAll(m.sockDir)
	}
	if m.ownsDir && m.dir != "" {
		if err := os.RemoveAll(m.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// logf writes a line to the model's debug log and to Options.Logf.
func (m *Model) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if m.logFile != nil {
		fmt.Fprintf(m.logFile, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), line)
	}
	if m.opts.Logf != nil {
		m.opts.Logf("%s", line)
	}
}

// DebugLog returns the path of the model's log: every hook run, its output
// and every juju-log line, like "juju debug-log".
func (m *Model) DebugLog() string { return filepath.Join(m.dir, "debug.log") }

// Dir is the simulator's working directory.
func (m *Model) Dir() string { return m.dir }

// App is the application name.
func (m *Model) App() string { return m.opts.App }

// Name is the model name.
func (m *Model) Name() string { return m.opts.ModelName }

// UUID is the model UUID.
func (m *Model) UUID() string { return m.opts.ModelUUID }

// Meta is the charm metadata the model uses.
func (m *Model) Meta() *CharmMeta { return m.meta }

// HostsFile is the path of the hosts file shared by every container.
func (m *Model) HostsFile() string { return m.hostsPath }

// Recorder returns the model's recorder.
func (m *Model) Recorder() *Recorder { return m.rec }

// sortedUnits returns the units by number. Caller holds m.mu (or the model
// is not yet shared).
func (m *Model) sortedUnits() []*unit {
	out := make([]*unit, 0, len(m.units))
	for _, u := range m.units {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out
}

func (m *Model) sortedRelations() []*relation {
	out := make([]*relation, 0, len(m.relations))
	for _, r := range m.relations {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// unitNumber parses the number of "app/N".
func unitNumber(name string) int {
	_, n, ok := strings.Cut(name, "/")
	if !ok {
		return -1
	}
	v, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return v
}

// unitApp returns the application of "app/N".
func unitApp(name string) string {
	app, _, _ := strings.Cut(name, "/")
	return app
}

func (u *unit) setWorkloadStatus(s Status) {
	u.workloadStatus = s
	u.history = append(u.history, s)
}

// UnitInfo describes one unit to a Workload.
type UnitInfo struct {
	// Name is the unit name, e.g. "synapse/1".
	Name string
	// Number is the unit number (the pod ordinal), e.g. 1.
	Number int
	// Address is the unit's loopback address, e.g. "127.42.7.2".
	Address string
	// Dir is the unit's private directory on the host.
	Dir string
	// ContainersDir holds one directory per container; the charm finds the
	// Pebble socket of container X at ContainersDir/X/pebble.socket.
	ContainersDir string
	// Containers are the containers to run, from the charm's metadata.
	Containers []ContainerInfo
	// HostsFile is the model's hosts file, to bind-mount at /etc/hosts.
	HostsFile string
}

// ContainerInfo is one container of a unit.
type ContainerInfo struct {
	// Name is the container name.
	Name string
	// SocketDir is the host directory for the Pebble socket
	// (UnitInfo.ContainersDir/Name).
	SocketDir string
	// Mounts are the storage mounts: HostPath is the unit's persistent
	// directory for the storage, Location the path in the container.
	Mounts []Mount
}

// Mount is a host directory mounted in a container.
type Mount struct {
	// Storage is the storage name, e.g. "data".
	Storage string
	// HostPath is the host directory.
	HostPath string
	// Location is the path in the container.
	Location string
}

func (m *Model) unitInfo(u *unit) UnitInfo {
	info := UnitInfo{
		Name: u.name, Number: u.number, Address: u.address, Dir: u.dir,
		ContainersDir: u.containersDir, HostsFile: m.hostsPath,
	}
	for _, c := range m.meta.Containers {
		ci := ContainerInfo{Name: c.Name, SocketDir: filepath.Join(u.containersDir, c.Name)}
		for _, mt := range c.Mounts {
			ci.Mounts = append(ci.Mounts, Mount{Storage: mt.Storage, HostPath: u.storageDirs[mt.Storage], Location: mt.Location})
		}
		info.Containers = append(info.Containers, ci)
	}
	return info
}

// copyFile copies a file, keeping the mode.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
