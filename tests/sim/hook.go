package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// hookSpec is one thing to run on a unit: a hook, an action or an exec.
type hookSpec struct {
	kind       string // "hook", "action", "exec"
	name       string // hook name, action name, or "" for exec
	relID      int    // -1 when not a relation hook
	remoteUnit string
	remoteApp  string
	departing  string
	container  string
	checkName  string
	noticeKey  string
	noticeID   string
	secretID   string
	secretRev  int
	storage    string
	action     *actionRun
	command    []string // exec only
	stdin      []byte   // exec only

	// before runs (under the model lock) just before the process starts,
	// after runs once it exited 0 and its changes are committed.
	before func()
	after  func()
}

func (h *hookSpec) String() string {
	switch h.kind {
	case "action":
		return "action " + h.name
	case "exec":
		return "exec " + strings.Join(h.command, " ")
	}
	s := h.name
	if h.remoteUnit != "" {
		s += " " + h.remoteUnit
	} else if h.remoteApp != "" && strings.HasSuffix(h.name, "-relation-changed") {
		s += " " + h.remoteApp
	}
	return s
}

// actionRun is one action's parameters and results.
type actionRun struct {
	id      string
	uuid    string
	params  map[string]any
	results map[string]any
	failed  bool
	message string
	logs    []string
}

// hookContext is the unit agent's context for one run: the identity the
// hook tools act as, and the writes they buffer until the run exits 0.
type hookContext struct {
	id   string
	unit *unit
	spec *hookSpec

	relUnit map[int]map[string]string // relation id -> key -> value ("" deletes)
	relApp  map[int]map[string]string
	state   map[string]*string // nil value deletes
	ports   []portChange
	secrets []jujuc.SecretOp
	writes  []*BagWrite
}

type portChange struct {
	open bool
	port openPort
}

func newHookContext(u *unit, spec *hookSpec) *hookContext {
	return &hookContext{
		id:      fmt.Sprintf("%s-%s-%d", u.name, contextName(spec), time.Now().UnixNano()%1e9),
		unit:    u,
		spec:    spec,
		relUnit: map[int]map[string]string{},
		relApp:  map[int]map[string]string{},
		state:   map[string]*string{},
	}
}

func contextName(spec *hookSpec) string {
	switch spec.kind {
	case "action":
		return "run-action-" + spec.name
	case "exec":
		return "run-commands"
	}
	return spec.name
}

// procResult is how a run ended.
type procResult struct {
	code           int
	stdout, stderr string
	output         string // stdout and stderr interleaved
	err            error  // the process could not run, timed out or was cancelled
}

func (p procResult) ok() bool { return p.code == 0 && p.err == nil }

// runSpec runs one hook, action or exec on u and commits its changes if it
// exits 0.
func (m *Model) runSpec(ctx context.Context, u *unit, spec *hookSpec, attempt int) procResult {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return procResult{code: -1, err: errors.New("model closed")}
	}
	hc := newHookContext(u, spec)
	m.contexts[hc.id] = hc
	if spec.before != nil {
		spec.before()
	}
	env := m.hookEnv(hc)
	m.seq++
	seq := m.seq
	if spec.kind == "hook" || spec.kind == "action" {
		u.agentStatus = Status{Status: "executing", Message: "running " + spec.name + " hook", Since: time.Now().UTC()}
		if spec.kind == "action" {
			u.agentStatus.Message = "running action " + spec.name
		}
		if spec.name == "install" && u.workloadStatus.Status == "waiting" {
			u.setWorkloadStatus(Status{Status: "maintenance", Message: "installing charm software", Since: time.Now().UTC()})
		}
	}
	charmDir, containersDir := u.charmDir, u.containersDir
	m.mu.Unlock()

	start := time.Now()
	var argv []string
	if spec.kind == "exec" {
		argv = spec.command
	} else {
		argv = []string{charmDir + "/dispatch"}
	}
	res := m.runProcess(ctx, argv, charmDir, containersDir, env, spec.stdin)
	code, output, runErr := res.code, res.output, res.err
	dur := time.Since(start)

	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.contexts, hc.id)
	if code == 0 && runErr == nil {
		m.commitLocked(hc)
		if spec.after != nil {
			spec.after()
		}
	}
	if spec.action != nil && (code != 0 || runErr != nil) {
		spec.action.failed = true
		if spec.action.message == "" {
			spec.action.message = fmt.Sprintf("exit status %d", code)
		}
	}
	if u.agentStatus.Status == "executing" {
		u.agentStatus = Status{Status: "idle", Since: time.Now().UTC()}
	}
	rec := HookRecord{
		Seq: seq, Unit: u.name, Hook: spec.name, Kind: spec.kind, RelationID: spec.relID,
		RemoteUnit: spec.remoteUnit, RemoteApp: spec.remoteApp, DepartingUnit: spec.departing,
		Container: spec.container, SecretID: spec.secretID, Attempt: attempt,
		ExitCode: code, Start: start, Duration: dur, Output: output, Env: env,
	}
	m.rec.addHook(rec)
	result := "ok"
	switch {
	case runErr != nil:
		result = runErr.Error()
	case code != 0:
		result = fmt.Sprintf("exit %d", code)
	}
	m.logf("%s: %s (%s, %v)", u.name, spec, result, dur.Round(time.Millisecond))
	if strings.TrimSpace(output) != "" {
		for _, line := range strings.Split(strings.TrimRight(output, "\n"), "\n") {
			m.logf("%s: %s: %s", u.name, spec.name, line)
		}
	}
	return res
}

// maxOutput bounds the output kept per run.
const maxOutput = 256 << 10

// lockedBuffer collects a process's output; writes from stdout and stderr
// may race.
type lockedBuffer struct {
	mu  *sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < maxOutput {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runProcess runs argv in dir with exactly env, in its own process group
// (killed whole on timeout or cancellation), seeing the unit's containers
// at /charm/containers (see inModelNetwork).
func (m *Model) runProcess(ctx context.Context, argv []string, dir, containersDir string, env []string, stdin []byte) procResult {
	if len(argv) == 0 {
		return procResult{code: -1, err: errors.New("empty command")}
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		// Look the command up on the hook's PATH, as a shell in the hook
		// would.
		for _, kv := range env {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				for _, d := range strings.Split(p, ":") {
					c := d + "/" + path
					if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
						path = c
						break
					}
				}
			}
		}
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	if wrapper, args := m.inModelNetwork(containersDir, path, argv[1:]); wrapper != "" {
		cmd = exec.Command(wrapper, args...)
	}
	cmd.Dir = dir
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var mu sync.Mutex
	combined := &lockedBuffer{mu: &mu}
	stdout := &lockedBuffer{mu: &sync.Mutex{}}
	stderr := &lockedBuffer{mu: &sync.Mutex{}}
	cmd.Stdout = io.MultiWriter(stdout, combined)
	cmd.Stderr = io.MultiWriter(stderr, combined)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return procResult{code: -1, err: fmt.Errorf("start %s: %w", argv[0], err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(m.opts.HookTimeout)
	defer timer.Stop()
	result := func(code int, err error) procResult {
		return procResult{code: code, stdout: stdout.String(), stderr: stderr.String(), output: combined.String(), err: err}
	}
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return result(-1, fmt.Errorf("%s timed out after %v", argv[0], m.opts.HookTimeout))
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return result(-1, ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return result(ee.ExitCode(), nil)
		}
		return result(-1, err)
	}
	return result(0, nil)
}

// standardPath is the PATH after the tools directory.
const standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// hookEnv is the environment Juju gives a hook (juju-hook-tools.md §2),
// plus SYNAPSE_CHARM_CONTAINERS_DIR and Options.ExtraEnv.
func (m *Model) hookEnv(hc *hookContext) []string {
	u, spec := hc.unit, hc.spec
	env := []string{
		"JUJU_CHARM_DIR=" + u.charmDir,
		"CHARM_DIR=" + u.charmDir,
		"JUJU_CONTEXT_ID=" + hc.id,
		"JUJU_AGENT_SOCKET_ADDRESS=" + m.socketPath,
		"JUJU_AGENT_SOCKET_NETWORK=unix",
		"JUJU_UNIT_NAME=" + u.name,
		"JUJU_MODEL_UUID=" + m.opts.ModelUUID,
		"JUJU_MODEL_NAME=" + m.opts.ModelName,
		"JUJU_API_ADDRESSES=192.0.2.1:17070",
		"JUJU_VERSION=" + m.opts.JujuVersion,
		"JUJU_SLA=unsupported",
		"JUJU_MACHINE_ID=",
		"JUJU_PRINCIPAL_UNIT=",
		"JUJU_AVAILABILITY_ZONE=",
		"CLOUD_API_VERSION=",
		"JUJU_CHARM_HTTP_PROXY=", "JUJU_CHARM_HTTPS_PROXY=", "JUJU_CHARM_FTP_PROXY=", "JUJU_CHARM_NO_PROXY=",
		"http_proxy=", "https_proxy=", "ftp_proxy=", "no_proxy=",
		"KUBERNETES_SERVICE_HOST=10.152.183.1",
		"KUBERNETES_SERVICE_PORT=443",
		"APT_LISTCHANGES_FRONTEND=none",
		"DEBIAN_FRONTEND=noninteractive",
		"LANG=C.UTF-8",
		"TERM=tmux-256color",
		"PATH=" + m.toolsDir + ":" + standardPath,
		"SYNAPSE_CHARM_CONTAINERS_DIR=" + u.containersDir,
	}
	if spec.kind == "hook" {
		env = append(env, "JUJU_HOOK_NAME="+spec.name)
	} else {
		env = append(env, "JUJU_HOOK_NAME=")
	}
	if spec.relID >= 0 {
		if r := m.relations[spec.relID]; r != nil {
			env = append(env,
				"JUJU_RELATION="+r.endpoint,
				"JUJU_RELATION_ID="+r.fakeID(),
				"JUJU_REMOTE_UNIT="+spec.remoteUnit,
				"JUJU_REMOTE_APP="+spec.remoteApp)
			if spec.departing != "" {
				env = append(env, "JUJU_DEPARTING_UNIT="+spec.departing)
			}
		}
	}
	if spec.container != "" {
		env = append(env, "JUJU_WORKLOAD_NAME="+spec.container)
		if spec.checkName != "" {
			env = append(env, "JUJU_PEBBLE_CHECK_NAME="+spec.checkName)
		}
		if spec.noticeKey != "" {
			env = append(env, "JUJU_NOTICE_ID="+spec.noticeID, "JUJU_NOTICE_TYPE=custom", "JUJU_NOTICE_KEY="+spec.noticeKey)
		}
	}
	if spec.secretID != "" {
		env = append(env, "JUJU_SECRET_ID=secret:"+spec.secretID)
		label := ""
		if s := m.secrets.Get(spec.secretID); s != nil {
			if c := s.Consumers[u.name]; c != nil {
				label = c.Label
			} else if jujuc.Owns(s, u.name, m.opts.App) {
				label = s.Label
			}
		}
		env = append(env, "JUJU_SECRET_LABEL="+label)
		if spec.secretRev > 0 {
			env = append(env, "JUJU_SECRET_REVISION="+strconv.Itoa(spec.secretRev))
		}
	}
	if spec.storage != "" {
		kind := "filesystem"
		for _, st := range m.meta.Storage {
			if st.Name == spec.storage && st.Type != "" {
				kind = st.Type
			}
		}
		// Where the charm sees the storage: on Kubernetes, a mount in the
		// charm container; here, the unit's host directory for it.
		env = append(env,
			"JUJU_STORAGE_ID="+spec.storage+"/"+strconv.Itoa(u.number),
			"JUJU_STORAGE_LOCATION="+u.storageDirs[spec.storage],
			"JUJU_STORAGE_KIND="+kind)
	}
	if spec.action != nil {
		env = append(env,
			"JUJU_ACTION_NAME="+spec.name,
			"JUJU_ACTION_UUID="+spec.action.uuid,
			"JUJU_ACTION_TAG=action-"+spec.action.id)
	}
	keys := make([]string, 0, len(m.opts.ExtraEnv))
	for k := range m.opts.ExtraEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+m.opts.ExtraEnv[k])
	}
	// Juju appends JUJU_DISPATCH_PATH last.
	switch spec.kind {
	case "hook":
		env = append(env, "JUJU_DISPATCH_PATH=hooks/"+spec.name)
	case "action":
		env = append(env, "JUJU_DISPATCH_PATH=actions/"+spec.name)
	}
	return env
}

// commitLocked applies a run's buffered changes to the model, as the agent
// flushes a hook context that exited 0.
func (m *Model) commitLocked(hc *hookContext) {
	u := hc.unit
	for _, id := range sortedKeys(hc.relUnit) {
		r := m.relations[id]
		if r == nil {
			continue
		}
		if r.unitBag(u.name).apply(hc.relUnit[id]) && !r.peer {
			m.queueProviderLocked(r, "changed")
		}
	}
	for _, id := range sortedKeys(hc.relApp) {
		r := m.relations[id]
		if r == nil {
			continue
		}
		if r.appBag.apply(hc.relApp[id]) && !r.peer {
			m.queueProviderLocked(r, "changed")
		}
	}
	m.rec.commitBagWrites(hc.writes)
	for k, v := range hc.state {
		if v == nil {
			delete(u.state, k)
		} else {
			u.state[k] = *v
		}
	}
	for _, pc := range hc.ports {
		u.ports = applyPortChange(u.ports, pc)
	}
	for _, op := range hc.secrets {
		if m.secrets.Apply(op) {
			m.queueSecretChangedLocked(m.secrets.Get(op.ID))
		}
	}
}

func sortedKeys[V any](mp map[int]V) []int {
	keys := make([]int, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func applyPortChange(ports []openPort, pc portChange) []openPort {
	var out []openPort
	for _, p := range ports {
		if p == pc.port {
			continue
		}
		out = append(out, p)
	}
	if pc.open {
		out = append(out, pc.port)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Protocol != out[j].Protocol {
			return out[i].Protocol < out[j].Protocol
		}
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].Endpoint < out[j].Endpoint
	})
	return out
}

// pendingBag returns the bag as this context sees it: committed data
// with the context's own writes applied.
func (hc *hookContext) pendingBag(committed *bag, changes map[string]string) map[string]string {
	out := committed.copy()
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// pendingState is the charm state with this context's writes applied.
func (hc *hookContext) pendingState() map[string]string {
	out := maps.Clone(hc.unit.state)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range hc.state {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

// inModelNetwork wraps a command so that it sees what a process in the
// unit's charm container sees: in a mount namespace of its own, the
// model's hosts file is bound on /etc/hosts (Kubernetes gives every pod
// the cluster's DNS; the charm's actions reach the main by its stable
// name), and the unit's containers directory on /charm/containers, where
// Juju puts each workload container's Pebble socket, so the charm runs
// with its production path. It needs root and util-linux's unshare;
// without them the command runs as it is ("" wrapper), and only a test
// charm that reads SYNAPSE_CHARM_CONTAINERS_DIR finds its Pebble.
func (m *Model) inModelNetwork(containersDir, path string, args []string) (string, []string) {
	if m.hostsPath == "" || os.Geteuid() != 0 {
		return "", nil
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return "", nil
	}
	// The mount point must exist on the host; the bind stays private to
	// the namespace.
	if err := os.MkdirAll(charmContainersDir, 0o755); err != nil {
		return "", nil
	}
	const script = `mount --bind "$0" /etc/hosts && mount --bind "$1" ` + charmContainersDir + ` && shift && exec "$@"`
	return unshare, append([]string{"--mount", "--propagation", "private", "/bin/sh", "-c", script, m.hostsPath, containersDir, path}, args...)
}

// charmContainersDir is where Juju exposes the workload containers'
// Pebble sockets to the charm (juju-hook-tools.md).
const charmContainersDir = "/charm/containers"
