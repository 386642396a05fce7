package jujutest

import (
	"fmt"
	"maps"
)

// Juju's charm state quotas (core/quota).
const (
	maxStateKeySize   = 256
	maxStateValueSize = 64 * 1024
)

// State returns a copy of this unit's charm state.
func (m *Memory) State() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.state)
}

// SetState replaces this unit's charm state.
func (m *Memory) SetState(state map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = maps.Clone(state)
	if m.state == nil {
		m.state = map[string]string{}
	}
}

func (m *Memory) stateGet(c *call, _ []byte) ([]byte, error) {
	switch len(c.args) {
	case 0:
		if len(m.state) == 0 {
			// Juju prints null, not {}, for empty state (juju/juju#22523).
			return []byte("null\n"), nil
		}
		return jsonOut(m.state)
	case 1:
		v, ok := m.state[c.args[0]]
		if !ok && c.bool("strict") {
			return nil, fmt.Errorf("%q not found", c.args[0])
		}
		return jsonOut(v)
	}
	return nil, usage("unrecognized args: %q", c.args[1:])
}

func (m *Memory) stateSet(c *call, stdin []byte) ([]byte, error) {
	settings, err := settingsFromCall(c, stdin)
	if err != nil {
		return nil, err
	}
	for k, v := range settings {
		if len(k) > maxStateKeySize {
			return nil, fmt.Errorf("max allowed key size (%d bytes) exceeded", maxStateKeySize)
		}
		if len(v) > maxStateValueSize {
			return nil, fmt.Errorf("max allowed value size (%d bytes) exceeded for key %q", maxStateValueSize, k)
		}
	}
	maps.Copy(m.state, settings)
	return nil, nil
}

func (m *Memory) stateDelete(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usage("expected one key, got %q", c.args)
	}
	delete(m.state, c.args[0])
	return nil, nil
}
