package jujutest

import (
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// Status is a workload status and its message.
type Status struct {
	// Status is the status name, e.g. juju.Active.
	Status juju.StatusName
	// Message is the message shown beside it.
	Message string
}

// StatusEntry is one status-set call, in StatusHistory.
type StatusEntry struct {
	// Application is true for the application's status.
	Application bool
	// Status is the status name.
	Status juju.StatusName
	// Message is the message.
	Message string
}

// LogEntry is one juju-log call.
type LogEntry struct {
	// Level is the level, upper case, e.g. "INFO".
	Level string
	// Message is the logged message.
	Message string
}

// UnitStatus returns this unit's workload status.
func (m *Memory) UnitStatus() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unitStatus
}

// AppStatus returns the application's workload status.
func (m *Memory) AppStatus() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appStatus
}

// StatusHistory returns every status set, oldest first.
func (m *Memory) StatusHistory() []StatusEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]StatusEntry(nil), m.statusHistory...)
}

// ApplicationVersion returns what application-version-set set.
func (m *Memory) ApplicationVersion() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

// Logs returns every juju-log call, oldest first.
func (m *Memory) Logs() []LogEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]LogEntry(nil), m.logs...)
}

// settableStatus are the statuses status-set accepts.
var settableStatus = []juju.StatusName{juju.Maintenance, juju.Blocked, juju.Waiting, juju.Active}

func (m *Memory) statusSet(c *call, _ []byte) ([]byte, error) {
	if len(c.args) < 1 {
		return nil, usage("invalid args, require <status> [message]")
	}
	if len(c.args) > 2 {
		return nil, usage("unrecognized args: %q", c.args[2:])
	}
	st := juju.StatusName(c.args[0])
	valid := false
	for _, s := range settableStatus {
		valid = valid || s == st
	}
	if !valid {
		return nil, usage("invalid status %q, expected one of [maintenance blocked waiting active]", st)
	}
	msg := ""
	if len(c.args) == 2 {
		msg = c.args[1]
	}
	app := c.bool("application")
	if app {
		if !m.leader {
			return nil, errNotLeader
		}
		m.appStatus = Status{st, msg}
	} else {
		m.unitStatus = Status{st, msg}
	}
	m.statusHistory = append(m.statusHistory, StatusEntry{Application: app, Status: st, Message: msg})
	return nil, nil
}

// statusDetails renders one status as status-get does.
func statusDetails(s Status, includeData bool) map[string]any {
	d := map[string]any{"status": string(s.Status)}
	if includeData {
		d["message"] = s.Message
		d["status-data"] = map[string]any{}
	}
	return d
}

func (m *Memory) statusGet(c *call, _ []byte) ([]byte, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	data := c.bool("include-data")
	if !c.bool("application") {
		return jsonOut(statusDetails(m.unitStatus, data))
	}
	if !m.leader {
		return nil, errNotLeader
	}
	d := statusDetails(m.appStatus, data)
	d["units"] = map[string]any{m.unit: statusDetails(m.unitStatus, data)}
	return jsonOut(map[string]any{"application-status": d})
}

func (m *Memory) applicationVersionSet(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usage("expected one version, got %q", c.args)
	}
	m.version = c.args[0]
	return nil, nil
}

func (m *Memory) jujuLog(c *call, _ []byte) ([]byte, error) {
	if len(c.args) == 0 {
		return nil, usage("no message specified")
	}
	level := strings.ToUpper(c.value("log-level"))
	switch {
	case c.bool("debug"):
		level = "DEBUG"
	case level == "":
		level = "INFO"
	}
	switch level {
	case "TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
	default:
		return nil, usage("invalid log level %q", level)
	}
	m.logs = append(m.logs, LogEntry{Level: level, Message: strings.Join(c.args, " ")})
	return nil, nil
}
