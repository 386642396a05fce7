package container_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// TestRateLimitingLevelsLoadInTheImagesSynapse: Synapse 1.160 loads every
// level's rc_* keys (an rc_admin_redaction: null, for one, it would not).
func TestRateLimitingLevelsLoadInTheImagesSynapse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rb := newRestoreBed(t)
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	for _, level := range config.RateLimitingLevels {
		cfg, err := config.Parse(map[string]any{"server_name": "check.test", "rate_limiting_level": level, "rc_joins_remote_per_second": 0.5})
		require.NoError(t, err)
		want, err := workload.RenderSynapse(workload.SynapseInput{
			Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://check.test/", BindAddress: "127.0.0.1"},
			Secrets:    secrets,
		})
		require.NoError(t, err)
		checks := workload.ConfigChecks(want, workload.Changes{Start: []string{workload.MainService}, Redefined: []string{workload.MainService}})
		rejected, err := container.CheckConfig(ctx, rb.pc, want.Files, checks)
		require.NoError(t, err)
		assert.Empty(t, rejected, "level %s loads", level)
		if level != config.RateLimitDefault {
			continue
		}
		// The check would catch a null limit (YAML keeps the last of a
		// repeated key, as Synapse's loader does).
		for i, f := range want.Files {
			if f.Path == workload.HomeserverPath {
				want.Files[i].Content = append(append([]byte(nil), f.Content...), []byte("\nrc_admin_redaction: null\n")...)
			}
		}
		rejected, err = container.CheckConfig(ctx, rb.pc, want.Files, checks)
		require.NoError(t, err)
		assert.Contains(t, rejected, workload.MainService, "a null rc_admin_redaction is refused")
	}
}
