package juju_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

// newPeersAndDatabase is a model with a peer relation of three units and a
// database relation, seen from unit.
func newPeersAndDatabase(unit string, leader bool) (m *jujutest.Memory, peers, db string) {
	m = jujutest.NewMemory(unit)
	m.SetLeader(leader)
	peers = m.AddRelation("synapse-peers", "synapse", "synapse/0", "synapse/1", "synapse/2")
	db = m.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0", "postgresql-k8s/1")
	m.SetRelationData(db, "postgresql-k8s", true, map[string]string{"endpoints": "pg:5432", "secret-user": "secret:d1"})
	m.SetRelationData(db, "postgresql-k8s/0", false, map[string]string{"ingress-address": "10.0.0.5"})
	m.SetRelationData(peers, "synapse", true, map[string]string{"main-unit": "synapse/0"})
	return m, peers, db
}

func TestRelationReads(t *testing.T) {
	ctx := context.Background()
	m, peers, db := newPeersAndDatabase("synapse/1", false)
	tools := juju.New(m)

	ids, err := tools.RelationIDs(ctx, "database")
	require.NoError(t, err)
	assert.Equal(t, []string{db}, ids)
	ids, err = tools.RelationIDs(ctx, "redis")
	require.NoError(t, err)
	assert.Equal(t, []string{}, ids)

	units, err := tools.RelationList(ctx, peers)
	require.NoError(t, err)
	assert.Equal(t, []string{"synapse/0", "synapse/2"}, units, "a unit is not its own peer")

	app, err := tools.RelationRemoteApp(ctx, db)
	require.NoError(t, err)
	assert.Equal(t, "postgresql-k8s", app)

	tests := []struct {
		name string
		opts juju.RelationGetOptions
		want map[string]string
	}{
		{"remote app bag", juju.RelationGetOptions{RelationID: db, Unit: "postgresql-k8s", App: true},
			map[string]string{"endpoints": "pg:5432", "secret-user": "secret:d1"}},
		{"remote app bag named by a unit", juju.RelationGetOptions{RelationID: db, Unit: "postgresql-k8s/1", App: true},
			map[string]string{"endpoints": "pg:5432", "secret-user": "secret:d1"}},
		{"remote unit bag", juju.RelationGetOptions{RelationID: db, Unit: "postgresql-k8s/0"},
			map[string]string{"ingress-address": "10.0.0.5"}},
		{"bag nobody wrote", juju.RelationGetOptions{RelationID: db, Unit: "postgresql-k8s/1"},
			map[string]string{}},
		{"own unit bag", juju.RelationGetOptions{RelationID: db, Unit: "synapse/1"},
			map[string]string{}},
		{"peer app bag as non-leader", juju.RelationGetOptions{RelationID: peers, Unit: "synapse", App: true},
			map[string]string{"main-unit": "synapse/0"}},
		{"bare relation number", juju.RelationGetOptions{RelationID: "0", Unit: "synapse", App: true},
			map[string]string{"main-unit": "synapse/0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tools.RelationGet(ctx, &tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRelationRefusals(t *testing.T) {
	ctx := context.Background()
	m, peers, db := newPeersAndDatabase("synapse/1", false)
	tools := juju.New(m)

	tests := []struct {
		name   string
		call   func() error
		stderr string
	}{
		{"app bag write by non-leader", func() error {
			return tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: peers, App: true, Data: map[string]string{"k": "v"}})
		}, "cannot write relation settings"},
		{"own app bag read by non-leader, non-peer", func() error {
			_, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: db, Unit: "synapse", App: true})
			return err
		}, "permission denied"},
		{"unknown relation id", func() error {
			_, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: "database:9", Unit: "postgresql-k8s/0"})
			return err
		}, "relation not found"},
		{"unknown relation number behind another endpoint", func() error {
			// Juju 3.6 ignores the endpoint part of -r ("redis:1" is
			// relation 1); only the number must name a relation.
			_, err := tools.RelationList(ctx, "redis:9")
			return err
		}, "relation not found"},
		{"application name without --app", func() error {
			_, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: db, Unit: "postgresql-k8s"})
			return err
		}, "expected unit name"},
		{"unit of an unrelated application", func() error {
			_, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: db, Unit: "redis-k8s/0"})
			return err
		}, "permission denied"},
		{"no default remote unit outside a relation hook", func() error {
			_, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: db})
			return err
		}, "no unit or application specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var te *juju.ToolError
			require.ErrorAs(t, err, &te)
			assert.Contains(t, te.Stderr, tt.stderr)
		})
	}
}

func TestRelationWrites(t *testing.T) {
	ctx := context.Background()
	m, peers, db := newPeersAndDatabase("synapse/0", true)
	m.SetRelationData(peers, "synapse/0", false, map[string]string{"old": "x", "keep": "y"})
	tools := juju.New(m)

	require.NoError(t, tools.RelationSet(ctx, &juju.RelationSetOptions{
		RelationID: peers,
		Data:       map[string]string{"address": "synapse-0.synapse-endpoints", "old": ""},
	}))
	assert.Equal(t, map[string]string{"address": "synapse-0.synapse-endpoints", "keep": "y"},
		m.RelationData(peers, "synapse/0", false), "empty value deletes, others stay")

	require.NoError(t, tools.RelationSet(ctx, &juju.RelationSetOptions{
		RelationID: db, App: true,
		Data: map[string]string{"database": "synapse", "extra-user-roles": "SUPERUSER"},
	}))
	assert.Equal(t, map[string]string{"database": "synapse", "extra-user-roles": "SUPERUSER"},
		m.RelationData(db, "synapse", true))

	own, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: db, Unit: "synapse", App: true})
	require.NoError(t, err, "the leader reads its own app bag")
	assert.Equal(t, "synapse", own["database"])

	// Values with quotes, newlines and YAML-looking text survive the JSON stdin.
	odd := map[string]string{"plan": "{\"units\": [\"a\", \"b\"]}\nline2: yes", "n": "007", "t": "true"}
	require.NoError(t, tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: peers, App: true, Data: odd}))
	got, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: peers, Unit: "synapse", App: true})
	require.NoError(t, err)
	for k, v := range odd {
		assert.Equal(t, v, got[k], k)
	}
	for _, argv := range m.Argv() {
		for _, a := range argv {
			assert.NotContains(t, a, "SUPERUSER", "relation data must travel on stdin")
		}
	}
}

// TestRelationGetReadsOddJSON: relation-get output is read robustly.
func TestRelationGetReadsOddJSON(t *testing.T) {
	tests := []struct {
		out  string
		want map[string]string
	}{
		{`{"a":"b"}`, map[string]string{"a": "b"}},
		{"null\n", map[string]string{}},
		{"", map[string]string{}},
		{"{}\n", map[string]string{}},
		{`{"a":"b","n":5,"f":true,"o":{"x":1},"z":null}`, map[string]string{"a": "b", "n": "5", "f": "true", "o": `{"x":1}`, "z": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.out, func(t *testing.T) {
			rec := newRecorder()
			rec.out["relation-get"] = tt.out
			got, err := juju.New(rec).RelationGet(context.Background(), &juju.RelationGetOptions{RelationID: "x:1", Unit: "a/0"})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	rec := newRecorder()
	rec.out["relation-get"] = `["not", "a", "map"]`
	_, err := juju.New(rec).RelationGet(context.Background(), &juju.RelationGetOptions{RelationID: "x:1", Unit: "a/0"})
	assert.Error(t, err)
}
