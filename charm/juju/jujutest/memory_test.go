package jujutest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

// run calls one tool on m directly, as juju.Tools would.
func run(t *testing.T, m *jujutest.Memory, tool string, stdin string, args ...string) (string, *juju.ToolError) {
	t.Helper()
	var in []byte
	if stdin != "" {
		in = []byte(stdin)
	}
	out, err := m.Run(context.Background(), tool, args, in)
	if err != nil {
		te, ok := err.(*juju.ToolError)
		require.True(t, ok, "want *juju.ToolError, got %T %v", err, err)
		return "", te
	}
	return string(out), nil
}

func TestCallsArgvReset(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	tools := juju.New(m)
	ctx := context.Background()
	_, _ = tools.IsLeader(ctx)
	_, _ = tools.IsLeader(ctx)
	_, _ = tools.ConfigGet(ctx)
	assert.Equal(t, map[string]int{"is-leader": 2, "config-get": 1}, m.Calls())
	assert.Equal(t, 3, m.TotalCalls())
	assert.Equal(t, [][]string{
		{"is-leader", "--format=json"},
		{"is-leader", "--format=json"},
		{"config-get", "--format=json"},
	}, m.Argv())

	argv := m.Argv()
	argv[0][0] = "changed"
	assert.Equal(t, "is-leader", m.Argv()[0][0], "Argv returns copies")

	m.ResetCalls()
	assert.Empty(t, m.Calls())
	assert.Zero(t, m.TotalCalls())
	assert.Empty(t, m.Argv())
}

func TestFailNext(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	peers := m.AddRelation("synapse-peers", "synapse")
	tools := juju.New(m)
	ctx := context.Background()

	m.FailNext("relation-set", "ERROR connection refused\n")
	m.FailNext("relation-set", "ERROR again\n")
	set := func() error {
		return tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: peers, App: true, Data: map[string]string{"k": "v"}})
	}
	var te *juju.ToolError
	require.ErrorAs(t, set(), &te)
	assert.Equal(t, "ERROR connection refused\n", te.Stderr)
	assert.Empty(t, m.RelationData(peers, "synapse", true), "a failed call has no effect")
	require.ErrorAs(t, set(), &te)
	assert.Equal(t, "ERROR again\n", te.Stderr)
	require.NoError(t, set(), "failures are one-shot")
	assert.Equal(t, map[string]string{"k": "v"}, m.RelationData(peers, "synapse", true))
	assert.Equal(t, 3, m.Calls()["relation-set"], "failed calls count")

	_, err := tools.IsLeader(ctx)
	assert.NoError(t, err, "other tools are unaffected")
}

func TestCommandLineErrors(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	_, te := run(t, m, "leader-get", "", "--format=json")
	require.NotNil(t, te, "leader-get is gone in Juju 4")
	assert.Equal(t, 127, te.ExitCode)

	_, te = run(t, m, "is-leader", "", "--bogus")
	require.NotNil(t, te)
	assert.Equal(t, 2, te.ExitCode)
	assert.Contains(t, te.Stderr, "flag provided but not defined")

	_, te = run(t, m, "config-get", "", "--format=yaml")
	require.NotNil(t, te)
	assert.Equal(t, 2, te.ExitCode)

	_, te = run(t, m, "relation-get", "", "--format=json", "-")
	require.NotNil(t, te)
	assert.Contains(t, te.Stderr, "no relation id specified")
}

func TestConfigGetKeyAndAll(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetConfig(map[string]any{"server_name": "example.com", "public_baseurl": nil})
	out, _ := run(t, m, "config-get", "", "--format=json", "server_name")
	assert.Equal(t, "\"example.com\"\n", out)
	out, _ = run(t, m, "config-get", "", "--format=json", "missing")
	assert.Equal(t, "null\n", out)
	out, _ = run(t, m, "config-get", "", "--format=json", "--all")
	assert.JSONEq(t, `{"server_name":"example.com","public_baseurl":null}`, out)
	out, _ = run(t, m, "config-get", "", "--format=json")
	assert.JSONEq(t, `{"server_name":"example.com"}`, out)
}

func TestRelationSetForms(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	r := m.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")

	_, te := run(t, m, "relation-set", "", "-r", r, "a=1", "b=2")
	require.Nil(t, te)
	_, te = run(t, m, "relation-set", "c: three\nd: \"4\"\n", "-r", r, "--file", "-", "d=override")
	require.Nil(t, te, "YAML on stdin, as Juju reads it")
	path := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`{"e":"5","a":""}`), 0o600))
	_, te = run(t, m, "relation-set", "", "-r", r, "--file", path)
	require.Nil(t, te)
	assert.Equal(t, map[string]string{"b": "2", "c": "three", "d": "override", "e": "5"}, m.RelationData(r, "synapse/0", false))

	_, te = run(t, m, "relation-set", "[not a map", "-r", r, "--file", "-")
	assert.NotNil(t, te)

	out, _ := run(t, m, "relation-get", "", "--format=json", "-r", r, "c", "synapse/0")
	assert.Equal(t, "\"three\"\n", out)
	out, _ = run(t, m, "relation-get", "", "--format=json", "-r", r, "zz", "synapse/0")
	assert.Equal(t, "null\n", out)
}

func TestRelationMembership(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	peers := m.AddRelation("synapse-peers", "synapse", "synapse/0", "synapse/1")
	assert.Equal(t, []string{"synapse/1"}, m.RelationUnits(peers))
	m.AddRelationUnit(peers, "synapse/2")
	m.SetRelationData(peers, "synapse/1", false, map[string]string{"address": "a1"})
	m.RemoveRelationUnit(peers, "synapse/1")
	assert.Equal(t, []string{"synapse/2"}, m.RelationUnits(peers))
	out, te := run(t, m, "relation-get", "", "--format=json", "-r", peers, "-", "synapse/1")
	require.Nil(t, te, "a departed unit's bag stays readable")
	assert.JSONEq(t, `{"address":"a1"}`, out)

	db := m.AddRelation("database", "postgresql-k8s")
	assert.Equal(t, "database:1", db)
	assert.Equal(t, []string{db}, m.RelationIDs("database"))
	m.RemoveRelation(db)
	assert.Empty(t, m.RelationIDs("database"))
	_, te = run(t, m, "relation-list", "", "--format=json", "-r", db)
	assert.NotNil(t, te)

	assert.Panics(t, func() { m.SetRelationData("database:7", "x", true, nil) })
	assert.Panics(t, func() { jujutest.NewMemory("synapse") })
}

func TestSecretToolDetails(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	out, te := run(t, m, "secret-add", "", "--label", "k", "token=abc", "blob#base64=aGVsbG8=")
	require.Nil(t, te)
	id := out[:len(out)-1]

	out, _ = run(t, m, "secret-get", "", "--format=json", id, "blob")
	assert.Equal(t, "\"hello\"\n", out)
	out, _ = run(t, m, "secret-ids", "", "--format=json")
	assert.JSONEq(t, fmt.Sprintf(`[%q]`, juju.SecretShortID(id)), out, "secret-ids prints bare IDs")

	_, te = run(t, m, "secret-add", "", "a_b=1")
	require.NotNil(t, te, "Juju's key rule")
	_, te = run(t, m, "secret-add", "", "--owner", "model", "abc=1")
	require.NotNil(t, te)
	_, te = run(t, m, "secret-add", "")
	require.NotNil(t, te)
	_, te = run(t, m, "secret-get", "", "--format=json", "--peek", "--refresh", id)
	require.NotNil(t, te)

	_, te = run(t, m, "secret-set", "", id, "token=def")
	require.Nil(t, te)
	_, te = run(t, m, "secret-set", "", id, "token=def")
	require.Nil(t, te)
	s, ok := m.SecretByLabel("k")
	require.True(t, ok)
	assert.Len(t, s.Revisions, 2, "unchanged content makes no revision")

	_, te = run(t, m, "secret-remove", "", id, "--revision", "1")
	require.Nil(t, te)
	s, _ = m.SecretByLabel("k")
	assert.Nil(t, s.Revisions[0])

	r := m.AddRelation("media", "s3-integrator", "s3-integrator/0")
	_, te = run(t, m, "secret-grant", "", id, "-r", r, "--unit", "other/0")
	require.NotNil(t, te, "unit must belong to the related application")
	_, te = run(t, m, "secret-grant", "", id, "-r", r, "--unit", "s3-integrator/0")
	require.Nil(t, te)
	_, te = run(t, m, "secret-revoke", "", id, "-r", r)
	require.Nil(t, te)
	s, _ = m.SecretByLabel("k")
	assert.Empty(t, s.Grants)
}

func TestNetworkGetFlags(t *testing.T) {
	m := jujutest.NewMemory("synapse/1")
	out, _ := run(t, m, "network-get", "", "--format=json", "--ingress-address", "synapse-peers")
	assert.Equal(t, "\"10.1.0.11\"\n", out)
	out, _ = run(t, m, "network-get", "", "--format=json", "--bind-address", "--egress-subnets", "x")
	assert.JSONEq(t, `{"bind-address":"10.1.0.11","egress-subnets":["10.1.0.11/32"]}`, out)
	m.SetNetwork("", &juju.Network{IngressAddresses: []string{"1.2.3.4"}})
	out, _ = run(t, m, "network-get", "", "--format=json", "--ingress-address", "any")
	assert.Equal(t, "\"1.2.3.4\"\n", out)
}

func TestStateGetKey(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetState(map[string]string{"a": "1"})
	out, _ := run(t, m, "state-get", "", "--format=json", "a")
	assert.Equal(t, "\"1\"\n", out)
	out, _ = run(t, m, "state-get", "", "--format=json", "b")
	assert.Equal(t, "\"\"\n", out)
	_, te := run(t, m, "state-get", "", "--format=json", "--strict", "b")
	assert.NotNil(t, te)
}

func TestOpenedPortsEndpointsAndRanges(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	for _, spec := range []string{"8000-8010/udp", "icmp", "80"} {
		_, te := run(t, m, "open-port", "", spec)
		require.Nil(t, te, spec)
	}
	out, _ := run(t, m, "opened-ports", "", "--format=json", "--endpoints")
	assert.JSONEq(t, `["80/tcp (*)","8000-8010/udp (*)","icmp (*)"]`, out)
	for _, bad := range []string{"0", "10-5", "x", "80/sctp", ""} {
		_, te := run(t, m, "open-port", "", bad)
		assert.NotNil(t, te, bad)
	}
}

func TestSetGoalState(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetGoalState(&juju.GoalState{Units: map[string]juju.GoalUnit{"synapse/0": {Status: "active"}, "synapse/1": {Status: "waiting"}}})
	gs, err := juju.New(m).GoalState(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "waiting", gs.Units["synapse/1"].Status)
}

// TestConcurrentUse runs many tool calls from many goroutines (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	peers := m.AddRelation("synapse-peers", "synapse", "synapse/1")
	tools := juju.New(m)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				key := fmt.Sprintf("k%d-%d", i, j)
				assert.NoError(t, tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: peers, App: true, Data: map[string]string{key: "v"}}))
				_, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: peers, Unit: "synapse", App: true})
				assert.NoError(t, err)
				_ = m.Calls()
				_ = m.RelationData(peers, "synapse", true)
			}
		}()
	}
	wg.Wait()
	assert.Len(t, m.RelationData(peers, "synapse", true), 16*50)
	assert.Equal(t, 16*50*2, m.TotalCalls())
}

// TestContextCancelled: a cancelled context runs nothing.
func TestContextCancelled(t *testing.T) {
	m := jujutest.NewMemory("synapse/0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := juju.New(m).IsLeader(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, m.TotalCalls())
}
