package container_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// TestCheckConfigLoadsWithTheImagesSynapse renders a unit's configuration,
// has the image's Synapse load it as the process would, and shows that a
// configuration Synapse rejects is reported with Synapse's own message
// while the running files stay untouched.
func TestCheckConfigLoadsWithTheImagesSynapse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rb := newRestoreBed(t) // a synapse container over the bed image, its /data bound
	pc, data := rb.pc, rb.data

	cfg, err := config.Parse(map[string]any{"server_name": "check.test"})
	require.NoError(t, err)
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	want, err := workload.RenderSynapse(workload.SynapseInput{
		Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://check.test/", BindAddress: "127.0.0.1"},
		Secrets:    secrets,
	})
	require.NoError(t, err)
	checks := workload.ConfigChecks(want, workload.Changes{Start: []string{workload.MainService}, Redefined: []string{workload.MainService}})
	require.Len(t, checks, 1)

	start := time.Now()
	rejected, err := container.CheckConfig(ctx, pc, want.Files, checks)
	require.NoError(t, err)
	assert.Empty(t, rejected, "the rendered configuration loads")
	t.Logf("config check of 1 process: %v", time.Since(start).Round(time.Millisecond))
	_, err = os.Stat(filepath.Join(data, "homeserver.yaml"))
	assert.True(t, os.IsNotExist(err), "the check writes nothing under /data")

	// A render bug Synapse refuses: a listener port out of range.
	for i, f := range want.Files {
		if f.Path == workload.HomeserverPath {
			want.Files[i].Content = append(append([]byte(nil), f.Content...), []byte("\nurl_preview_enabled: true\n")...)
		}
	}
	rejected, err = container.CheckConfig(ctx, pc, want.Files, checks)
	require.NoError(t, err)
	require.Contains(t, rejected, workload.MainService)
	assert.Contains(t, rejected[workload.MainService], "url_preview_ip_range_blacklist", "Synapse's own message")
	assert.NotContains(t, rejected[workload.MainService], "/tmp/synapse-charm-check", "the scratch directory is not in the message")
}
