package config_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func TestRateLimitingLevel(t *testing.T) {
	c, err := config.Parse(map[string]any{"server_name": "e.com"})
	require.NoError(t, err)
	assert.Equal(t, config.RateLimitDefault, c.RateLimitingLevel)
	// The Python charm's option has no default: unset or empty is "default".
	c, err = config.Parse(map[string]any{"server_name": "e.com", "rate_limiting_level": ""})
	require.NoError(t, err)
	assert.Equal(t, config.RateLimitDefault, c.RateLimitingLevel)
	c, err = config.Parse(map[string]any{"server_name": "e.com", "rate_limiting_level": "unlimited"})
	require.NoError(t, err)
	assert.Equal(t, config.RateLimitUnlimited, c.RateLimitingLevel)

	_, err = config.Parse(map[string]any{"server_name": "e.com", "rate_limiting_level": "relaxed"})
	var cerr *config.Error
	require.True(t, errors.As(err, &cerr), "an unknown level blocks, it is not silently the default")
	assert.Equal(t, []string{"rate_limiting_level"}, cerr.Options())
	assert.Contains(t, err.Error(), `"relaxed" is not a level: use one of default, permissive, unlimited`)
}

func TestExtractBackgroundTasksIsABackgroundWorker(t *testing.T) {
	assert.Equal(t, string(workload.RoleBackground), config.BackgroundRole)
	c, err := config.Parse(map[string]any{"server_name": "e.com"})
	require.NoError(t, err)
	assert.Nil(t, c.WorkerCounts, "false follows the preset")

	c, err = config.Parse(map[string]any{"server_name": "e.com", "experimental_extract_background_tasks": true})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"background": 1}, c.WorkerCounts)

	c, err = config.Parse(map[string]any{"server_name": "e.com", "experimental_extract_background_tasks": true, "worker_counts": "background=1,sync=2"})
	require.NoError(t, err, "saying it twice the same way is fine")
	assert.Equal(t, map[string]int{"background": 1, "sync": 2}, c.WorkerCounts)

	_, err = config.Parse(map[string]any{"server_name": "e.com", "experimental_extract_background_tasks": true, "worker_counts": "background=0"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "experimental_extract_background_tasks is true but worker_counts sets background=0: set it in one place")
}

func TestModerationAndMediaSyncOptionsAreRead(t *testing.T) {
	c, err := config.Parse(map[string]any{"server_name": "e.com", "enable_mjolnir": true, "enable_draupnir": "true", "enable_media_sync_cleanup": true})
	require.NoError(t, err)
	assert.True(t, c.EnableMjolnir)
	assert.True(t, c.EnableDraupnir)
	assert.True(t, c.EnableMediaSyncCleanup)
	_, err = config.Parse(map[string]any{"server_name": "e.com", "enable_draupnir": "maybe"})
	assert.ErrorContains(t, err, "enable_draupnir must be true or false")
}
