package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	jujucharm "github.com/juju/charm/v12"
	"gopkg.in/yaml.v3"
)

// Action tools (jujuc action-*.go) and running actions and commands.

var (
	errNotAction  = errors.New("not running an action")
	actionKeyRule = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)
	reservedKeys  = []string{"stdout", "stdout-encoding", "stderr", "stderr-encoding"}
)

func addActionTools(t map[string]toolDef) {
	t["action-get"] = toolDef{usage: "[<key>[.<key>.<key>...]]", purpose: "Get action parameters.", flags: outFlags("smart", allFormats), run: actionGet}
	t["action-set"] = toolDef{usage: "<key>=<value> [<key>=<value> ...]", purpose: "Set action results.", run: actionSet}
	t["action-fail"] = toolDef{usage: `["<failure message>"]`, purpose: "Set action fail status with message.", run: actionFail}
	t["action-log"] = toolDef{usage: "<message>", purpose: "Record a progress message for the current action.", run: actionLog}
}

func actionGet(tc *toolCall, fs *flagSet, args []string) error {
	var keys []string
	if len(args) > 0 {
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
		keys = strings.Split(args[0], ".")
	}
	a := tc.hc.spec.action
	if a == nil {
		return errNotAction
	}
	if len(keys) == 0 {
		params := a.params
		if params == nil {
			params = map[string]any{}
		}
		return writeOutput(tc, fs, params)
	}
	var cur any = a.params
	for _, k := range keys {
		mp, ok := cur.(map[string]any)
		if !ok {
			cur = nil
			break
		}
		cur = mp[k]
	}
	return writeOutput(tc, fs, cur)
}

func actionSet(tc *toolCall, fs *flagSet, args []string) error {
	var sets [][]string
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			return usagef("argument %q must be of the form key...=value", arg)
		}
		keys := strings.Split(k, ".")
		for _, key := range keys {
			if !actionKeyRule.MatchString(key) {
				return usagef("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods", key)
			}
			if contains(reservedKeys, key) {
				return usagef(`cannot set reserved action key "%s"`, key)
			}
		}
		sets = append(sets, append(keys, v))
	}
	a := tc.hc.spec.action
	if a == nil {
		return errNotAction
	}
	for _, s := range sets {
		keys, value := s[:len(s)-1], s[len(s)-1]
		cur := a.results
		for _, k := range keys[:len(keys)-1] {
			next, ok := cur[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[k] = next
			}
			cur = next
		}
		cur[keys[len(keys)-1]] = value
	}
	return nil
}

func actionFail(tc *toolCall, fs *flagSet, args []string) error {
	msg := "action failed without reason given, check action for errors"
	if len(args) > 0 {
		msg = args[0]
		if err := checkEmpty(args[1:]); err != nil {
			return err
		}
	}
	a := tc.hc.spec.action
	if a == nil {
		return errNotAction
	}
	a.message = msg
	a.failed = true
	return nil
}

func actionLog(tc *toolCall, fs *flagSet, args []string) error {
	if len(args) == 0 {
		return usagef("no message specified")
	}
	a := tc.hc.spec.action
	if a == nil {
		return errNotAction
	}
	msg := strings.Join(args, " ")
	a.logs = append(a.logs, msg)
	tc.m.rec.addLog(LogLine{Unit: tc.u.name, Hook: tc.hc.spec.name, Level: "ACTION", Message: msg})
	return nil
}

// ActionResult is the outcome of RunAction, as "juju run" reports it.
type ActionResult struct {
	// ID is the action id ("juju show-operation" id).
	ID string `json:"id"`
	// Status is "completed" or "failed".
	Status string `json:"status"`
	// Message is the action-fail message (or the exit status).
	Message string `json:"message,omitempty"`
	// Results are the action-set results, nested by dotted keys.
	Results map[string]any `json:"results"`
	// Log are the action-log messages.
	Log []string `json:"log,omitempty"`
	// Output is the dispatch process's stdout and stderr.
	Output string `json:"output,omitempty"`
	// ExitCode is the dispatch process's exit code.
	ExitCode int `json:"return-code"`
}

// RunAction runs an action on a unit (like "juju run synapse/0 NAME
// k=v"). Parameters missing from params get their defaults from the
// charm's actions. Its relation, state and secret changes commit only if
// it exits 0; its results are returned either way. Hooks it causes run in
// the next WaitIdle.
func (m *Model) RunAction(ctx context.Context, unitName, name string, params map[string]any) (*ActionResult, error) {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	m.mu.Lock()
	u := m.units[unitName]
	if u == nil || u.life != alive {
		m.mu.Unlock()
		return nil, fmt.Errorf("run %s: unit %q not found", name, unitName)
	}
	if !u.installed {
		m.mu.Unlock()
		return nil, fmt.Errorf("run %s: unit %q is not installed yet", name, unitName)
	}
	p := map[string]any{}
	if m.meta.Actions != nil {
		am, ok := m.meta.Actions[name]
		if !ok {
			m.mu.Unlock()
			return nil, fmt.Errorf("run: action %q not defined on unit %q", name, unitName)
		}
		if err := m.validateActionParams(name, am, params); err != nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("run %s: %w", name, err)
		}
		for k, schema := range am.Params {
			if d, ok := schema["default"]; ok {
				p[k] = d
			}
		}
	}
	maps.Copy(p, params)
	m.actionSeq++
	a := &actionRun{id: strconv.Itoa(m.actionSeq), uuid: newUUID(), params: p, results: map[string]any{}}
	m.mu.Unlock()

	spec := &hookSpec{kind: "action", name: name, relID: -1, action: a}
	pr := m.runSpec(ctx, u, spec, 1)
	if pr.err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res := &ActionResult{ID: a.id, Status: "completed", Message: a.message, Results: a.results,
		Log: a.logs, Output: pr.output, ExitCode: pr.code}
	if a.failed || !pr.ok() {
		res.Status = "failed"
		if pr.err != nil && res.Message == "" {
			res.Message = pr.err.Error()
		}
	}
	return res, nil
}

// ExecOptions is a command to run in a unit's hook context.
type ExecOptions struct {
	// Command is the argv; a bare name is looked up on the hook's PATH (the
	// hook tools first), e.g. {"relation-ids", "database", "--format=json"}.
	Command []string
	// Stdin is the command's standard input.
	Stdin []byte
	// Relation sets the relation context ("endpoint:id" or "id"), as
	// "juju exec --relation".
	Relation string
	// RemoteUnit sets JUJU_REMOTE_UNIT, as "juju exec --remote-unit".
	RemoteUnit string
	// RemoteApp sets JUJU_REMOTE_APP (default: the relation's remote
	// application).
	RemoteApp string
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	// Stdout and Stderr are the command's output streams.
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	// Code is the exit code.
	Code int `json:"return-code"`
}

// Exec runs a command in a unit's hook context, like "juju exec --unit":
// the hook tools work, and their changes commit if the command exits 0.
func (m *Model) Exec(ctx context.Context, unitName string, opts ExecOptions) (*ExecResult, error) {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	m.mu.Lock()
	u := m.units[unitName]
	if u == nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("exec: unit %q not found", unitName)
	}
	spec := &hookSpec{kind: "exec", relID: -1, command: opts.Command, stdin: opts.Stdin,
		remoteUnit: opts.RemoteUnit, remoteApp: opts.RemoteApp}
	if opts.Relation != "" {
		trim := opts.Relation
		if i := strings.LastIndex(trim, ":"); i >= 0 {
			trim = trim[i+1:]
		}
		id, err := strconv.Atoi(trim)
		r := m.relations[id]
		if err != nil || r == nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("exec: unknown relation %q", opts.Relation)
		}
		spec.relID = id
		if spec.remoteApp == "" {
			spec.remoteApp = r.remoteApp
		}
	}
	m.mu.Unlock()
	pr := m.runSpec(ctx, u, spec, 1)
	if pr.err != nil {
		return nil, fmt.Errorf("exec on %s: %w", unitName, pr.err)
	}
	return &ExecResult{Stdout: pr.stdout, Stderr: pr.stderr, Code: pr.code}, nil
}

// validateActionParams checks parameters as the controller does before it
// queues an action: against the action's JSON schema as Juju builds it
// (charm/v12's ReadActionsYaml, what 3.6 runs), closed to unknown
// parameters on Juju 4 unless the action says additionalProperties.
func (m *Model) validateActionParams(name string, am ActionMeta, params map[string]any) error {
	def := am.Schema
	if def == nil {
		def = map[string]any{"description": am.Description}
		if am.Params != nil {
			def["params"] = am.Params
		}
	}
	data, err := yaml.Marshal(map[string]any{name: def})
	if err != nil {
		return fmt.Errorf("action schema: %w", err)
	}
	actions, err := jujucharm.ReadActionsYaml(m.meta.Name, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("action schema: %w", err)
	}
	spec, ok := actions.ActionSpecs[name]
	if !ok {
		return fmt.Errorf("action schema: %q missing", name)
	}
	if _, set := def["additionalProperties"]; !set && m.mode().closedActions {
		spec.Params["additionalProperties"] = false
	}
	if params == nil {
		params = map[string]any{}
	}
	return spec.ValidateParams(params)
}
