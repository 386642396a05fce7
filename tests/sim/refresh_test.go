package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshHookOrder: a refresh recreates the pods highest ordinal
// first; each unit runs stop, then upgrade-charm, config-changed, start,
// leader-settings-changed (a follower) and pebble-ready on the new pod.
func TestRefreshHookOrder(t *testing.T) {
	m := newModel(t, quietCharm, Options{Workload: NoWorkload{PebbleReady: true}})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	next := writeCharm(t, quietCharm)
	require.NoError(t, m.Refresh(testCtx(t), next))
	pod := []string{"stop", "upgrade-charm", "config-changed", "start"}
	follower := append(append([]string{}, pod...), "leader-settings-changed", "synapse-pebble-ready", "synapse-nginx-pebble-ready")
	leader := append(append([]string{}, pod...), "synapse-pebble-ready", "synapse-nginx-pebble-ready")
	hooks := hookNames(m, mark)
	assert.Equal(t, follower, unitHooks(hooks, "synapse/1"))
	assert.Equal(t, leader, unitHooks(hooks, "synapse/0"))
	assert.Equal(t, "synapse/1 stop", hooks[0], "highest ordinal first")
	last1 := 0
	for i, h := range hooks {
		if len(h) > 10 && h[:10] == "synapse/1 " {
			last1 = i
		}
	}
	assert.Equal(t, "synapse/0 stop", hooks[last1+1], "the next pod once this one is done")
}
