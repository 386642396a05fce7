package jujutest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// Memory is an in-memory juju.Runner: one unit's view of a model, driven
// through the hook tools' command lines. Create it with NewMemory.
type Memory struct {
	mu sync.Mutex

	unit, app  string
	unitNumber int
	leader     bool
	config     map[string]any

	relations    map[int]*relation
	nextRelation int

	networks map[string]*juju.Network

	secrets *jujuc.Secrets

	unitStatus, appStatus Status
	statusHistory         []StatusEntry
	version               string
	logs                  []LogEntry

	action *actionState

	ports map[string]bool
	state map[string]string
	goal  *juju.GoalState

	calls    map[string]int
	total    int
	argv     [][]string
	failNext map[string][]string
}

// NewMemory returns the view of unit (e.g. "synapse/0"): not the leader, no
// config, no relations, unknown status, and an address of 10.1.0.(10+n) on
// every binding. It panics if unit is not "<app>/<n>".
func NewMemory(unit string) *Memory {
	app, n, ok := strings.Cut(unit, "/")
	num := 0
	if ok {
		_, err := fmt.Sscanf(n, "%d", &num)
		ok = err == nil && app != "" && fmt.Sprint(num) == n
	}
	if !ok {
		panic(fmt.Sprintf("jujutest: %q is not a unit name (<app>/<n>)", unit))
	}
	return &Memory{
		unit:       unit,
		app:        app,
		unitNumber: num,
		config:     map[string]any{},
		relations:  map[int]*relation{},
		networks:   map[string]*juju.Network{},
		unitStatus: Status{Status: juju.Unknown},
		appStatus:  Status{Status: juju.Unknown},
		ports:      map[string]bool{},
		state:      map[string]string{},
		calls:      map[string]int{},
		failNext:   map[string][]string{},
		secrets:    jujuc.NewSecrets(newSecretIDs()),
	}
}

// tool is one modelled hook tool: its flags and what it does.
type tool struct {
	flags []jujuc.Flag
	run   func(m *Memory, c *call, stdin []byte) ([]byte, error)
}

// toolTable holds the modelled hook tools by name. leader-get and leader-set are
// absent on purpose: Juju 4 removed them.
var toolTable map[string]tool

func init() {
	toolTable = map[string]tool{
		"config-get":              {flags("format=", "all|a"), (*Memory).configGet},
		"is-leader":               {flags("format="), (*Memory).isLeader},
		"network-get":             {flags("format=", "r|relation=", "bind-address", "ingress-address", "egress-subnets", "primary-address"), (*Memory).networkGet},
		"status-set":              {flags("application"), (*Memory).statusSet},
		"status-get":              {flags("format=", "include-data", "application"), (*Memory).statusGet},
		"application-version-set": {flags(), (*Memory).applicationVersionSet},
		"juju-log":                {flags("format=", "log-level|l=", "debug"), (*Memory).jujuLog},
		"action-get":              {flags("format="), (*Memory).actionGet},
		"action-set":              {flags(), (*Memory).actionSet},
		"action-fail":             {flags(), (*Memory).actionFail},
		"action-log":              {flags(), (*Memory).actionLog},
		"goal-state":              {flags("format="), (*Memory).goalState},
		"open-port":               {flags("format=", "endpoints="), (*Memory).openPort},
		"close-port":              {flags("format=", "endpoints="), (*Memory).closePort},
		"opened-ports":            {flags("format=", "endpoints"), (*Memory).openedPorts},
		"state-get":               {flags("format=", "strict"), (*Memory).stateGet},
		"state-set":               {flags("file="), (*Memory).stateSet},
		"state-delete":            {flags(), (*Memory).stateDelete},
	}
}

// usageError is a command-line error: the real tools exit 2 for these.
type usageError struct{ error }

// Run implements juju.Runner. A failure is a *juju.ToolError whose Stderr
// reads like Juju's ("ERROR ...\n"); exit code 2 for a bad command line, 1
// for a refused operation, 127 for a tool that does not exist.
func (m *Memory) Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[name]++
	m.total++
	argv := make([]string, 0, 1+len(args))
	m.argv = append(m.argv, append(append(argv, name), args...))

	if q := m.failNext[name]; len(q) > 0 {
		stderr := q[0]
		if len(q) == 1 {
			delete(m.failNext, name)
		} else {
			m.failNext[name] = q[1:]
		}
		return nil, &juju.ToolError{Tool: name, ExitCode: 1, Stderr: stderr}
	}
	// The tools that carry Juju's relation and secret rules are jujuc's,
	// shared with the simulator.
	jc := &jujuc.Call{Host: memHost{m}, Tool: name, Args: args, Stdin: stdin}
	if code, ok := jujuc.Serve(jc); ok {
		if code != 0 {
			return nil, &juju.ToolError{Tool: name, ExitCode: code, Stderr: jc.Stderr.String()}
		}
		return jc.Stdout.Bytes(), nil
	}
	t, ok := toolTable[name]
	if !ok {
		return nil, &juju.ToolError{Tool: name, ExitCode: 127, Stderr: name + ": command not found\n"}
	}
	fs, pos, err := jujuc.ParseFlags(t.flags, args)
	c := &call{fs: fs, args: pos}
	if err != nil {
		return nil, &juju.ToolError{Tool: name, ExitCode: 2, Stderr: "ERROR " + err.Error() + "\n"}
	}
	if c.has("format") && c.value("format") != "json" {
		return nil, &juju.ToolError{Tool: name, ExitCode: 2, Stderr: fmt.Sprintf("ERROR jujutest models --format=json only, not %q\n", c.value("format"))}
	}
	out, err := t.run(m, c, stdin)
	if err != nil {
		code := 1
		var ue usageError
		if errors.As(err, &ue) {
			code = 2
		}
		return nil, &juju.ToolError{Tool: name, ExitCode: code, Stderr: "ERROR " + err.Error() + "\n"}
	}
	return out, nil
}

// usage returns a command-line error.
func usage(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// noArgs fails if there are positional arguments.
func noArgs(c *call) error {
	if len(c.args) > 0 {
		return usage("unrecognized args: %q", c.args)
	}
	return nil
}

// jsonOut renders v as the tools' JSON formatter does: compact, newline.
func jsonOut(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// FailNext makes the next call of tool fail with exit code 1 and stderr,
// without effect. Calls queue: FailNext twice fails the next two calls.
func (m *Memory) FailNext(tool, stderr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failNext[tool] = append(m.failNext[tool], stderr)
}

// Calls returns how many times each tool ran since NewMemory or ResetCalls.
func (m *Memory) Calls() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.calls)
}

// TotalCalls returns how many tool calls there were since NewMemory or
// ResetCalls.
func (m *Memory) TotalCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Argv returns every command line run since NewMemory or ResetCalls, in
// order, each as [tool, args...]. Stdin is not included.
func (m *Memory) Argv() [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]string, len(m.argv))
	for i, a := range m.argv {
		out[i] = slices.Clone(a)
	}
	return out
}

// ResetCalls forgets the call counts and recorded command lines (not the
// model).
func (m *Memory) ResetCalls() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.calls)
	m.total = 0
	m.argv = nil
}

// Unit returns this unit's name, e.g. "synapse/0".
func (m *Memory) Unit() string { return m.unit }

// App returns this unit's application, e.g. "synapse".
func (m *Memory) App() string { return m.app }

// SetLeader makes this unit the leader or not.
func (m *Memory) SetLeader(leader bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader = leader
}

// IsLeader reports whether this unit is the leader.
func (m *Memory) IsLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

// SetConfig replaces the application config. Values are typed as Juju's:
// bool, string, int, float64. A nil value is an option with neither value
// nor default (config-get leaves it out).
func (m *Memory) SetConfig(config map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.config = maps.Clone(config)
	if m.config == nil {
		m.config = map[string]any{}
	}
}

// Config returns a copy of the application config.
func (m *Memory) Config() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.config)
}

func (m *Memory) configGet(c *call, _ []byte) ([]byte, error) {
	switch len(c.args) {
	case 0:
		out := make(map[string]any, len(m.config))
		for k, v := range m.config {
			if v != nil || c.bool("all") {
				out[k] = v
			}
		}
		return jsonOut(out)
	case 1:
		if c.bool("all") {
			return nil, usage("cannot use argument --all together with key %q", c.args[0])
		}
		return jsonOut(m.config[c.args[0]])
	}
	return nil, usage("unrecognized args: %q", c.args[1:])
}

func (m *Memory) isLeader(c *call, _ []byte) ([]byte, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	if m.leader {
		return []byte("true\n"), nil
	}
	return []byte("false\n"), nil
}
