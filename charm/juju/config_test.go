package juju_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

func TestConfigGetTyped(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetConfig(map[string]any{
		"server_name":            "example.com",
		"report_stats":           false,
		"workers_per_unit":       2,
		"federation_ratio":       0.5,
		"public_baseurl":         nil, // no value, no default
		"enable_password_config": true,
	})
	cfg, err := juju.New(m).ConfigGet(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"server_name":            "example.com",
		"report_stats":           false,
		"workers_per_unit":       2,
		"federation_ratio":       0.5,
		"enable_password_config": true,
	}, cfg)
}

func TestConfigGetNumbers(t *testing.T) {
	rec := newRecorder()
	rec.out["config-get"] = `{"i":3,"big":12345678901234,"f":1.5,"e":1e3,"neg":-4}`
	cfg, err := juju.New(rec).ConfigGet(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"i": 3, "big": 12345678901234, "f": 1.5, "e": 1000.0, "neg": -4}, cfg)
}

func TestIsLeader(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	tools := juju.New(m)
	leader, err := tools.IsLeader(context.Background())
	require.NoError(t, err)
	assert.False(t, leader)
	m.SetLeader(true)
	leader, err = tools.IsLeader(context.Background())
	require.NoError(t, err)
	assert.True(t, leader)

	rec := newRecorder()
	rec.out["is-leader"] = "maybe"
	_, err = juju.New(rec).IsLeader(context.Background())
	assert.Error(t, err)
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/1")
	tools := juju.New(m)

	st, msg, err := tools.StatusGet(ctx, false)
	require.NoError(t, err)
	assert.Equal(t, juju.Unknown, st)
	assert.Empty(t, msg)

	require.NoError(t, tools.StatusSet(ctx, &juju.StatusOptions{Status: juju.Waiting, Message: "waiting: main synapse/0 has not applied plan 7"}))
	require.NoError(t, tools.StatusSet(ctx, &juju.StatusOptions{Status: juju.Active, Message: "-dash first"}))
	assert.Equal(t, jujutest.Status{Status: juju.Active, Message: "-dash first"}, m.UnitStatus())
	assert.Len(t, m.StatusHistory(), 2)

	st, msg, err = tools.StatusGet(ctx, false)
	require.NoError(t, err)
	assert.Equal(t, juju.Active, st)
	assert.Equal(t, "-dash first", msg)

	var te *juju.ToolError
	err = tools.StatusSet(ctx, &juju.StatusOptions{Application: true, Status: juju.Active})
	require.ErrorAs(t, err, &te, "only the leader sets application status")
	err = tools.StatusSet(ctx, &juju.StatusOptions{Status: juju.Error})
	require.ErrorAs(t, err, &te, "error is not settable")
	assert.Equal(t, 2, te.ExitCode)
	_, _, err = tools.StatusGet(ctx, true)
	assert.Error(t, err)

	m.SetLeader(true)
	require.NoError(t, tools.StatusSet(ctx, &juju.StatusOptions{Application: true, Status: juju.Blocked, Message: "scaling beyond one unit needs a postgresql integration"}))
	assert.Equal(t, jujutest.Status{Status: juju.Blocked, Message: "scaling beyond one unit needs a postgresql integration"}, m.AppStatus())
	st, msg, err = tools.StatusGet(ctx, true)
	require.NoError(t, err)
	assert.Equal(t, juju.Blocked, st)
	assert.Equal(t, "scaling beyond one unit needs a postgresql integration", msg)
}

func TestVersionAndLog(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/0")
	tools := juju.New(m)
	require.NoError(t, tools.ApplicationVersionSet(ctx, "1.160.0"))
	assert.Equal(t, "1.160.0", m.ApplicationVersion())
	require.NoError(t, tools.Log(ctx, "debug", "reconcile started"))
	require.NoError(t, tools.Log(ctx, "", "--not a flag"))
	assert.Equal(t, []jujutest.LogEntry{{Level: "DEBUG", Message: "reconcile started"}, {Level: "INFO", Message: "--not a flag"}}, m.Logs())
	assert.Error(t, tools.Log(ctx, "LOUD", "x"))
}

func TestActions(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/0")
	tools := juju.New(m)

	_, err := tools.ActionGet(ctx)
	var te *juju.ToolError
	require.ErrorAs(t, err, &te, "no action running")
	assert.Contains(t, te.Stderr, "not running an action")

	m.SetActionParams(map[string]any{"username": "alice", "admin": true, "limits": map[string]any{"rooms": 3}})
	params, err := tools.ActionGet(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"username": "alice", "admin": true, "limits": map[string]any{"rooms": 3}}, params)

	require.NoError(t, tools.ActionLog(ctx, "registering alice"))
	require.NoError(t, tools.ActionSet(ctx, map[string]string{"user-id": "@alice:example.com", "login.device": "x"}))
	assert.Equal(t, map[string]string{"user-id": "@alice:example.com", "login.device": "x"}, m.ActionResults())
	assert.Equal(t, []string{"registering alice"}, m.ActionLogs())

	assert.Error(t, tools.ActionSet(ctx, map[string]string{"User_ID": "x"}), "Juju's key rule")
	assert.Error(t, tools.ActionSet(ctx, map[string]string{"stdout": "x"}), "reserved key")

	require.NoError(t, tools.ActionFail(ctx, "user exists"))
	failed, msg := m.ActionFailed()
	assert.True(t, failed)
	assert.Equal(t, "user exists", msg)
}

func TestState(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/0")
	tools := juju.New(m)

	st, err := tools.StateGet(ctx)
	require.NoError(t, err, "Juju prints null for empty state")
	assert.Equal(t, map[string]string{}, st)

	require.NoError(t, tools.StateSet(ctx, map[string]string{"server-name": "example.com", "gen": "7"}))
	require.NoError(t, tools.StateSet(ctx, map[string]string{"gen": "8"}))
	st, err = tools.StateGet(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"server-name": "example.com", "gen": "8"}, st)

	require.NoError(t, tools.StateDelete(ctx, "gen"))
	assert.Equal(t, map[string]string{"server-name": "example.com"}, m.State())

	big := make([]byte, 64*1024+1)
	for i := range big {
		big[i] = 'x'
	}
	assert.Error(t, tools.StateSet(ctx, map[string]string{"big": string(big)}), "Juju's value quota")
}

func TestPorts(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/0")
	tools := juju.New(m)
	require.NoError(t, tools.OpenPort(ctx, 8080, "tcp"))
	require.NoError(t, tools.OpenPort(ctx, 8008, ""))
	require.NoError(t, tools.OpenPort(ctx, 8080, "tcp"))
	assert.Equal(t, []string{"8008/tcp", "8080/tcp"}, m.OpenedPorts())
	ports, err := tools.OpenedPorts(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"8008/tcp", "8080/tcp"}, ports)
	require.NoError(t, tools.ClosePort(ctx, 8008, "tcp"))
	assert.Equal(t, []string{"8080/tcp"}, m.OpenedPorts())
	assert.Error(t, tools.OpenPort(ctx, 70000, "tcp"))
	assert.Error(t, tools.OpenPort(ctx, 80, "sctp"))
}

func TestNetworkGet(t *testing.T) {
	ctx := context.Background()
	m := jujutest.NewMemory("synapse/2")
	tools := juju.New(m)
	n, err := tools.NetworkGet(ctx, "synapse-peers")
	require.NoError(t, err)
	assert.Equal(t, "10.1.0.12", n.BindAddress())
	assert.Equal(t, "10.1.0.12", n.IngressAddress())

	m.SetNetwork("synapse-peers", &juju.Network{
		BindAddresses:    []juju.BindAddress{{InterfaceName: "eth0", Addresses: []juju.InterfaceAddress{{Value: "10.1.2.3", CIDR: "10.1.0.0/16"}}}},
		IngressAddresses: []string{"192.0.2.7"},
	})
	n, err = tools.NetworkGet(ctx, "synapse-peers")
	require.NoError(t, err)
	assert.Equal(t, "10.1.2.3", n.BindAddress())
	assert.Equal(t, "192.0.2.7", n.IngressAddress())
}

func TestNetworkGetReadsJujuJSON(t *testing.T) {
	rec := newRecorder()
	// As Juju 3.6 prints it.
	rec.out["network-get"] = `{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":"10.1.49.72","cidr":"10.1.0.0/16"}]}],"egress-subnets":["10.152.183.97/32"],"ingress-addresses":["10.152.183.97"]}`
	n, err := juju.New(rec).NetworkGet(context.Background(), "synapse-peers")
	require.NoError(t, err)
	assert.Equal(t, "10.1.49.72", n.BindAddress())
	assert.Equal(t, "10.152.183.97", n.IngressAddress())
	assert.Equal(t, []string{"10.152.183.97/32"}, n.EgressSubnets)

	assert.Equal(t, "10.0.0.1", (&juju.Network{BindAddresses: []juju.BindAddress{{Addresses: []juju.InterfaceAddress{{Address: "10.0.0.1"}}}}}).IngressAddress(), "legacy address field, no ingress")
	assert.Equal(t, "", (&juju.Network{}).BindAddress())
}

func TestGoalState(t *testing.T) {
	ctx := context.Background()
	m, _, _ := newPeersAndDatabase("synapse/0", true)
	gs, err := juju.New(m).GoalState(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]juju.GoalUnit{
		"synapse/0": {Status: "active"}, "synapse/1": {Status: "active"}, "synapse/2": {Status: "active"},
	}, gs.Units)
	assert.Equal(t, juju.GoalUnit{Status: "joined"}, gs.Relations["database"]["postgresql-k8s"])
	assert.Contains(t, gs.Relations["database"], "postgresql-k8s/1")

	rec := newRecorder()
	rec.out["goal-state"] = `{"units":{"synapse/0":{"status":"active","since":"2026-01-02 03:04:05Z"}},"relations":{}}`
	gs, err = juju.New(rec).GoalState(ctx)
	require.NoError(t, err)
	assert.Equal(t, "2026-01-02 03:04:05Z", gs.Units["synapse/0"].Since)
	assert.NotNil(t, gs.Relations)
}
