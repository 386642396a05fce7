package sim

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Recorder keeps everything the charm did through the simulator, for tests
// that check what a charm exposes (argv, log lines, databags, status
// messages) and how much work it does (hooks and hook-tool calls per unit).
// All methods return copies and are safe for concurrent use.
type Recorder struct {
	mu        sync.Mutex
	hooks     []HookRecord
	toolCalls []ToolCall
	logs      []LogLine
	bagWrites []*BagWrite
	statuses  []StatusRecord
	hookCount map[string]int
	toolCount map[string]map[string]int
}

// HookRecord is one run of the charm: a hook, an action or an exec.
type HookRecord struct {
	// Seq numbers runs across the model, from 1.
	Seq int
	// Unit is the unit that ran it, e.g. "synapse/0".
	Unit string
	// Hook is the hook name ("install", "database-relation-changed"), or
	// the action name for an action, or "" for an exec.
	Hook string
	// Kind is "hook", "action" or "exec".
	Kind string
	// RelationID is the relation of a relation hook, else -1.
	RelationID int
	// RemoteUnit, RemoteApp and DepartingUnit are the relation hook's
	// JUJU_REMOTE_UNIT, JUJU_REMOTE_APP and JUJU_DEPARTING_UNIT.
	RemoteUnit, RemoteApp, DepartingUnit string
	// Container is JUJU_WORKLOAD_NAME of a workload hook.
	Container string
	// SecretID is JUJU_SECRET_ID of a secret hook.
	SecretID string
	// Attempt is 1 for the first run, 2 for the first retry, and so on.
	Attempt int
	// ExitCode is the process's exit code (-1 if it could not run or was
	// killed).
	ExitCode int
	// Start and Duration time the run.
	Start    time.Time
	Duration time.Duration
	// Output is the process's stdout and stderr, interleaved (Juju puts
	// both into the unit's log).
	Output string
	// Env is the environment the process ran with.
	Env []string
}

// String is "<unit> <hook>" plus the remote unit or app of a relation hook
// and the container of a workload hook, e.g.
// "synapse/1 synapse-peers-relation-joined synapse/0".
func (h HookRecord) String() string {
	s := h.Unit + " " + h.Hook
	if h.Kind == "action" {
		s = h.Unit + " action:" + h.Hook
	}
	switch {
	case h.RemoteUnit != "":
		s += " " + h.RemoteUnit
	case h.RemoteApp != "" && strings.HasSuffix(h.Hook, "-relation-changed"):
		s += " " + h.RemoteApp
	}
	return s
}

// ToolCall is one hook-tool invocation.
type ToolCall struct {
	// Unit and Hook are where it ran (Hook as in HookRecord).
	Unit, Hook string
	// Tool is the tool name, e.g. "relation-set".
	Tool string
	// Args is the argv after the tool name, exactly as given.
	Args []string
	// Stdin is what the tool sent on standard input (only read for
	// "--file -").
	Stdin string
	// ExitCode is the tool's exit code.
	ExitCode int
	// Stderr is what the tool printed on standard error.
	Stderr string
}

// LogLine is one juju-log (or action-log) message.
type LogLine struct {
	Unit, Hook string
	// Level is the log level, e.g. "INFO".
	Level string
	// Message is the message as Juju logs it (relation hooks prefix the
	// relation, "database:3: ").
	Message string
}

// BagWrite is one key written with relation-set (or by a simulated remote
// application).
type BagWrite struct {
	Unit, Hook string
	// RelationID is the relation.
	RelationID int
	// Bag names the bag written: a unit ("synapse/0") or an application
	// ("synapse").
	Bag string
	// Key and Value are what was set; Value "" deletes.
	Key, Value string
	// Committed reports whether the write reached the model (the hook
	// exited 0).
	Committed bool
}

// StatusRecord is one status-set (or a status the agent set).
type StatusRecord struct {
	Unit, Hook string
	// Application is true for an application status.
	Application bool
	// Status and Message are as set.
	Status, Message string
}

func newRecorder() *Recorder {
	return &Recorder{hookCount: map[string]int{}, toolCount: map[string]map[string]int{}}
}

func (r *Recorder) addHook(h HookRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, h)
	r.hookCount[h.Unit]++
}

func (r *Recorder) addToolCall(c ToolCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.toolCalls = append(r.toolCalls, c)
	if r.toolCount[c.Unit] == nil {
		r.toolCount[c.Unit] = map[string]int{}
	}
	r.toolCount[c.Unit][c.Tool]++
}

func (r *Recorder) addLog(l LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, l)
}

func (r *Recorder) addBagWrite(w *BagWrite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bagWrites = append(r.bagWrites, w)
}

func (r *Recorder) commitBagWrites(ws []*BagWrite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range ws {
		w.Committed = true
	}
}

func (r *Recorder) addStatus(s StatusRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, s)
}

// Hooks returns every run so far, in order.
func (r *Recorder) Hooks() []HookRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]HookRecord(nil), r.hooks...)
}

// HooksSince returns the runs after the first n (n from a previous
// len(Hooks())).
func (r *Recorder) HooksSince(n int) []HookRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > len(r.hooks) {
		n = len(r.hooks)
	}
	return append([]HookRecord(nil), r.hooks[n:]...)
}

// HookNames returns the names of the hooks a unit ran, in order, each as
// HookRecord.String without the unit, e.g. "synapse-peers-relation-joined
// synapse/0". Retries of a failed hook appear once per attempt.
func (r *Recorder) HookNames(unit string) []string {
	var out []string
	for _, h := range r.Hooks() {
		if h.Unit == unit {
			out = append(out, strings.TrimPrefix(h.String(), unit+" "))
		}
	}
	return out
}

// ToolCalls returns every hook-tool call so far.
func (r *Recorder) ToolCalls() []ToolCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ToolCall(nil), r.toolCalls...)
}

// Logs returns every juju-log and action-log line.
func (r *Recorder) Logs() []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]LogLine(nil), r.logs...)
}

// BagWrites returns every databag write, committed or not.
func (r *Recorder) BagWrites() []BagWrite {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]BagWrite, len(r.bagWrites))
	for i, w := range r.bagWrites {
		out[i] = *w
	}
	return out
}

// Statuses returns every status set, in order.
func (r *Recorder) Statuses() []StatusRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StatusRecord(nil), r.statuses...)
}

// HookCount is the number of hooks (and actions and execs) a unit ran.
func (r *Recorder) HookCount(unit string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hookCount[unit]
}

// ToolCallCount is the number of calls of tool by unit; tool "" counts all.
func (r *Recorder) ToolCallCount(unit, tool string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tool != "" {
		return r.toolCount[unit][tool]
	}
	n := 0
	for _, c := range r.toolCount[unit] {
		n += c
	}
	return n
}

// ToolCounts returns the calls per tool of every unit.
func (r *Recorder) ToolCounts() map[string]map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]int{}
	for u, m := range r.toolCount {
		out[u] = map[string]int{}
		for t, n := range m {
			out[u][t] = n
		}
	}
	return out
}

// HookCounts returns the runs per unit.
func (r *Recorder) HookCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for u, n := range r.hookCount {
		out[u] = n
	}
	return out
}

// Strings returns every recorded argv, log message, databag key and value,
// status message and hook output (Juju puts a hook's stdout and stderr in
// the unit log), for a test that searches them all for a secret.
func (r *Recorder) Strings() []string {
	var out []string
	for _, h := range r.Hooks() {
		if h.Output != "" {
			out = append(out, h.Output)
		}
	}
	for _, c := range r.ToolCalls() {
		out = append(out, c.Tool+" "+strings.Join(c.Args, " "))
	}
	for _, l := range r.Logs() {
		out = append(out, l.Message)
	}
	for _, w := range r.BagWrites() {
		out = append(out, w.Key+"="+w.Value)
	}
	for _, s := range r.Statuses() {
		out = append(out, s.Status+": "+s.Message)
	}
	return out
}

// Summary formats the counters, one line per unit, sorted.
func (r *Recorder) Summary() string {
	hooks := r.HookCounts()
	var units []string
	for u := range hooks {
		units = append(units, u)
	}
	sort.Strings(units)
	var b strings.Builder
	for _, u := range units {
		fmt.Fprintf(&b, "%s: %d hooks, %d tool calls\n", u, hooks[u], r.ToolCallCount(u, ""))
	}
	return b.String()
}
