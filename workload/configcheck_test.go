package workload_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func TestConfigChecksCoverExactlyTheProcessesThatStart(t *testing.T) {
	want := workload.Container{Layer: workload.Layer{Services: map[string]workload.Service{
		"synapse":           {Command: "python3 -m synapse.app.homeserver --config-path /data/homeserver.yaml --config-path /data/secrets/email.yaml"},
		"synapse-generic-1": {Command: "python3 -m synapse.app.generic_worker --config-path /data/homeserver.yaml --config-path /data/workers/generic-1.yaml"},
		"nginx-exporter":    {Command: "/usr/bin/exporter"},
	}}}
	assert.Empty(t, workload.ConfigChecks(want, workload.Changes{}), "nothing starts: nothing is checked")
	assert.Empty(t, workload.ConfigChecks(want, workload.Changes{Start: []string{"synapse"}}), "started again with the same files: nothing is checked")
	got := workload.ConfigChecks(want, workload.Changes{Restart: []string{"synapse-generic-1"}, Start: []string{"synapse", "nginx-exporter"},
		Redefined: []string{"nginx-exporter", "synapse", "synapse-generic-1"}})
	assert.Equal(t, []workload.ConfigCheck{
		{Service: "synapse", ConfigPaths: []string{"/data/homeserver.yaml", "/data/secrets/email.yaml"}},
		{Service: "synapse-generic-1", ConfigPaths: []string{"/data/homeserver.yaml", "/data/workers/generic-1.yaml"}},
	}, got)
}
