package jujutest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// SetNetwork sets network-get's answer for binding; binding "" sets the
// answer for every binding without its own.
func (m *Memory) SetNetwork(binding string, n *juju.Network) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.networks[binding] = cloneNetwork(n)
}

// cloneNetwork deep-copies n through JSON (it is small and plain).
func cloneNetwork(n *juju.Network) *juju.Network {
	b, err := json.Marshal(n)
	if err != nil {
		panic(err)
	}
	var c juju.Network
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// network returns the answer for binding: its own, the default, or the
// pod-like 10.1.0.(10+n).
func (m *Memory) network(binding string) *juju.Network {
	if n, ok := m.networks[binding]; ok {
		return n
	}
	if n, ok := m.networks[""]; ok {
		return n
	}
	ip := fmt.Sprintf("10.1.%d.%d", (10+m.unitNumber)/250, (10+m.unitNumber)%250)
	return &juju.Network{
		BindAddresses: []juju.BindAddress{{
			InterfaceName: "eth0",
			Addresses:     []juju.InterfaceAddress{{Value: ip, CIDR: "10.1.0.0/16"}},
		}},
		EgressSubnets:    []string{ip + "/32"},
		IngressAddresses: []string{ip},
	}
}

func (m *Memory) networkGet(c *call, _ []byte) ([]byte, error) {
	if len(c.args) != 1 || c.args[0] == "" {
		return nil, usage("no binding name specified")
	}
	if c.has("r") {
		if _, err := m.relationFlag(c); err != nil {
			return nil, err
		}
	}
	n := m.network(c.args[0])
	var keys []string
	values := map[string]any{}
	if c.bool("egress-subnets") {
		keys = append(keys, "egress-subnets")
		values["egress-subnets"] = n.EgressSubnets
	}
	if c.bool("ingress-address") {
		keys = append(keys, "ingress-address")
		values["ingress-address"] = n.IngressAddress()
	}
	if c.bool("bind-address") || c.bool("primary-address") {
		keys = append(keys, "bind-address")
		values["bind-address"] = n.BindAddress()
	}
	switch len(keys) {
	case 0:
		return jsonOut(n)
	case 1:
		return jsonOut(values[keys[0]])
	}
	return jsonOut(values)
}

// SetGoalState fixes goal-state's answer. Without it, goal-state describes
// this unit and its peers as active, and each relation's remote
// application as joined with its units active.
func (m *Memory) SetGoalState(gs *juju.GoalState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.goal = gs
}

func (m *Memory) goalState(c *call, _ []byte) ([]byte, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	if m.goal != nil {
		return jsonOut(m.goal)
	}
	active := juju.GoalUnit{Status: "active"}
	gs := juju.GoalState{
		Units:     map[string]juju.GoalUnit{m.unit: active},
		Relations: map[string]map[string]juju.GoalUnit{},
	}
	for _, r := range m.relations {
		rel := gs.Relations[r.endpoint]
		if rel == nil {
			rel = map[string]juju.GoalUnit{}
			gs.Relations[r.endpoint] = rel
		}
		rel[r.remoteApp] = juju.GoalUnit{Status: "joined"}
		for _, u := range r.units {
			rel[u] = active
			if r.peer(m.app) {
				gs.Units[u] = active
			}
		}
	}
	return jsonOut(gs)
}

// OpenedPorts returns the opened ports, e.g. ["8008/tcp"], sorted.
func (m *Memory) OpenedPorts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.ports))
}

// portKey normalises open-port's argument: "8008" -> "8008/tcp".
func portKey(c *call) (string, error) {
	if len(c.args) != 1 {
		return "", usage("no port or range specified")
	}
	spec := c.args[0]
	if spec == "icmp" {
		return spec, nil
	}
	var from, to int
	proto := "tcp"
	rng, p, hasProto := cutLast(spec, '/')
	if hasProto {
		proto = p
	}
	if proto != "tcp" && proto != "udp" {
		return "", usage("invalid protocol %q, expected \"tcp\", \"udp\", or \"icmp\"", proto)
	}
	if n, err := fmt.Sscanf(rng, "%d-%d", &from, &to); err == nil && n == 2 && fmt.Sprintf("%d-%d", from, to) == rng {
		if from < 1 || to > 65535 || from > to {
			return "", usage("invalid port range %q", spec)
		}
		return fmt.Sprintf("%d-%d/%s", from, to, proto), nil
	}
	if n, err := fmt.Sscanf(rng, "%d", &from); err != nil || n != 1 || fmt.Sprint(from) != rng || from < 1 || from > 65535 {
		return "", usage("invalid port %q", spec)
	}
	return fmt.Sprintf("%d/%s", from, proto), nil
}

// cutLast cuts s around the last sep.
func cutLast(s string, sep byte) (before, after string, found bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (m *Memory) openPort(c *call, _ []byte) ([]byte, error) {
	key, err := portKey(c)
	if err != nil {
		return nil, err
	}
	m.ports[key] = true
	return nil, nil
}

func (m *Memory) closePort(c *call, _ []byte) ([]byte, error) {
	key, err := portKey(c)
	if err != nil {
		return nil, err
	}
	delete(m.ports, key)
	return nil, nil
}

func (m *Memory) openedPorts(c *call, _ []byte) ([]byte, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	ports := slices.Sorted(maps.Keys(m.ports))
	if c.bool("endpoints") {
		for i, p := range ports {
			ports[i] = p + " (*)"
		}
	}
	if ports == nil {
		ports = []string{}
	}
	return jsonOut(ports)
}
