package workload_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func cluster() *workload.Cluster {
	return &workload.Cluster{Processes: []workload.ClusterProcess{
		{Name: "main", Role: workload.RoleMain, Host: "synapse-0.synapse-endpoints.m.svc.cluster.local"},
		{Name: "generic-1", Role: workload.RoleGeneric, Host: "synapse-1.synapse-endpoints.m.svc.cluster.local", Index: 1},
		{Name: "federation-sender-1", Role: workload.RoleFederationSend, Host: "synapse-1.synapse-endpoints.m.svc.cluster.local", Index: 2},
		{Name: "event-persister-1", Role: workload.RoleEventPersister, Host: "synapse-2.synapse-endpoints.m.svc.cluster.local", Index: 1},
		{Name: "background-1", Role: workload.RoleBackground, Host: "synapse-2.synapse-endpoints.m.svc.cluster.local", Index: 2},
	}}
}

func TestSharedWorkerConfigFollowsSynapseRules(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	doc := renderDoc(t, workload.Homeserver{Config: cfg, PublicBaseURL: "https://x/", BindAddress: "10.0.0.1",
		Redis: &relations.Redis{Host: "redis", Port: 6379}, Cluster: cluster()})
	assert.Equal(t, map[string]any{
		"main":              map[string]any{"host": "synapse-0.synapse-endpoints.m.svc.cluster.local", "port": 8035},
		"event-persister-1": map[string]any{"host": "synapse-2.synapse-endpoints.m.svc.cluster.local", "port": 8201},
	}, doc["instance_map"], "main and every stream writer, nothing else")
	assert.Equal(t, map[string]any{"events": []any{"event-persister-1"}}, doc["stream_writers"])
	assert.Equal(t, []any{"federation-sender-1"}, doc["federation_sender_instances"])
	assert.Equal(t, "background-1", doc["run_background_tasks_on"])
	assert.NotContains(t, doc, "pusher_instances", "no pushers planned: the key stays out, pushing stays on main")
	assert.NotContains(t, doc, "enable_media_repo")
	assert.Equal(t, "/data/secrets/replication", doc["worker_replication_secret_path"])
	assert.Equal(t, map[string]any{"enabled": true, "host": "redis", "port": 6379}, doc["redis"])
	listeners := doc["listeners"].([]any)
	repl := listeners[len(listeners)-1].(map[string]any)
	assert.Equal(t, 8035, repl["port"])
}

func TestSharedConfigIsTheSameOnEveryUnit(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	render := func(bind string) map[string]any {
		doc := renderDoc(t, workload.Homeserver{Config: cfg, PublicBaseURL: "https://x/", BindAddress: bind,
			Redis: &relations.Redis{Host: "redis", Port: 6379}, Cluster: cluster()})
		delete(doc, "listeners") // the main's own listeners bind to the unit's address
		return doc
	}
	assert.Equal(t, render("10.0.0.1"), render("10.0.0.2"))
}

func TestRenderSynapseWorkersOnAUnit(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	c := cluster()
	in := workload.SynapseInput{
		Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://x/", BindAddress: "10.0.0.2", Redis: &relations.Redis{Host: "r", Port: 1}, Cluster: c},
		Secrets:    secrets,
		Local:      c.Processes[1:3],
	}
	out, err := workload.RenderSynapse(in)
	require.NoError(t, err)
	assert.NotContains(t, out.Layer.Services, "synapse", "no main process on a worker unit")
	gen := out.Layer.Services["synapse-generic-1"]
	assert.Equal(t, "python3 -m synapse.app.generic_worker --config-path /data/homeserver.yaml --config-path /data/workers/generic-1.yaml", gen.Command)
	assert.Equal(t, "http://10.0.0.2:8101/health", out.Layer.Checks["synapse-generic-1-ready"].HTTP.URL)
	assert.Equal(t, "http://10.0.0.2:8102/health", out.Layer.Checks["synapse-federation-sender-1-ready"].HTTP.URL)
	assert.ElementsMatch(t, []string{"synapse-generic-1-ready", "synapse-federation-sender-1-ready"}, out.ReadyChecks)

	var workerFile map[string]any
	for _, f := range out.Files {
		if f.Path == "/data/workers/generic-1.yaml" {
			require.NoError(t, yaml.Unmarshal(f.Content, &workerFile))
		}
	}
	require.NotNil(t, workerFile)
	assert.Equal(t, "generic-1", workerFile["worker_name"])
	listeners := workerFile["worker_listeners"].([]any)
	assert.Len(t, listeners, 2, "a generic worker has no replication listener")
	assert.Equal(t, []any{map[string]any{"names": []any{"client", "federation"}}}, listeners[0].(map[string]any)["resources"])

	// Each worker's hash covers its own file: changing the sender's file
	// alone changes the sender's hash, not the generic worker's.
	in2 := in
	in2.Local = []workload.ClusterProcess{c.Processes[1], c.Processes[2]}
	in2.Local[1].Index = 3
	out2, err := workload.RenderSynapse(in2)
	require.NoError(t, err)
	assert.Equal(t, gen.Environment, out2.Layer.Services["synapse-generic-1"].Environment)
	assert.NotEqual(t, out.Layer.Services["synapse-federation-sender-1"].Environment, out2.Layer.Services["synapse-federation-sender-1"].Environment)
	for _, f := range out.Files {
		assert.False(t, strings.Contains(string(f.Content), secrets.Replication) && f.Mode != 0o600, "secret in %s", f.Path)
	}
}
