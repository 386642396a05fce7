package jujutest

import (
	"errors"
	"maps"
	"regexp"
	"strings"
)

// actionState is the running action.
type actionState struct {
	params  map[string]any
	results map[string]string
	failed  bool
	message string
	logs    []string
}

// errNoAction is the action tools' answer outside an action.
var errNoAction = errors.New("not running an action")

// actionKeyRule is Juju's rule for each dotted part of an action-set key.
var actionKeyRule = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// SetActionParams starts an action with the given parameters (nested maps
// for nested parameters). Until it is called the action tools fail with "not
// running an action", as in a hook. It clears any previous action's results.
func (m *Memory) SetActionParams(params map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	m.action = &actionState{params: maps.Clone(params), results: map[string]string{}}
}

// ActionResults returns the action's results as action-set received them,
// by dotted key.
func (m *Memory) ActionResults() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.action == nil {
		return map[string]string{}
	}
	return maps.Clone(m.action.results)
}

// ActionFailed reports whether action-fail was called, and its message.
func (m *Memory) ActionFailed() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.action == nil {
		return false, ""
	}
	return m.action.failed, m.action.message
}

// ActionLogs returns the action-log messages, oldest first.
func (m *Memory) ActionLogs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.action == nil {
		return nil
	}
	return append([]string(nil), m.action.logs...)
}

func (m *Memory) actionGet(c *call, _ []byte) ([]byte, error) {
	if m.action == nil {
		return nil, errNoAction
	}
	switch len(c.args) {
	case 0:
		return jsonOut(m.action.params)
	case 1:
		var v any = m.action.params
		for _, k := range strings.Split(c.args[0], ".") {
			mv, ok := v.(map[string]any)
			if !ok {
				return jsonOut(nil)
			}
			v = mv[k]
		}
		return jsonOut(v)
	}
	return nil, usage("unrecognized args: %q", c.args[1:])
}

func (m *Memory) actionSet(c *call, _ []byte) ([]byte, error) {
	if len(c.args) == 0 {
		return nil, usage("no key=value pairs specified")
	}
	results := make(map[string]string, len(c.args))
	for _, a := range c.args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, usage("argument %q must be of the form key...=value", a)
		}
		for _, part := range strings.Split(k, ".") {
			if !actionKeyRule.MatchString(part) {
				return nil, usage("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods", part)
			}
			switch part {
			case "stdout", "stdout-encoding", "stderr", "stderr-encoding":
				return nil, usage("cannot set reserved action key %q", part)
			}
		}
		results[k] = v
	}
	if m.action == nil {
		return nil, errNoAction
	}
	maps.Copy(m.action.results, results)
	return nil, nil
}

func (m *Memory) actionFail(c *call, _ []byte) ([]byte, error) {
	if len(c.args) > 1 {
		return nil, usage("unrecognized args: %q", c.args[1:])
	}
	if m.action == nil {
		return nil, errNoAction
	}
	m.action.failed = true
	m.action.message = "action failed without reason given, check action for errors"
	if len(c.args) == 1 {
		m.action.message = c.args[0]
	}
	return nil, nil
}

func (m *Memory) actionLog(c *call, _ []byte) ([]byte, error) {
	if len(c.args) == 0 {
		return nil, usage("no message specified")
	}
	if m.action == nil {
		return nil, errNoAction
	}
	m.action.logs = append(m.action.logs, strings.Join(c.args, " "))
	return nil, nil
}
