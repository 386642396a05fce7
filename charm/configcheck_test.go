package charm_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// TestConfigSynapseRejectsNeverReachesARestart injects a render bug (a key
// Synapse refuses without another) into a config change: the image's
// Synapse rejects it before anything is pushed, the running process keeps
// its start time and its files, and the status carries Synapse's message.
func TestConfigSynapseRejectsNeverReachesARestart(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	running := u.service()
	before := u.file(workload.HomeserverPath)

	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://chat.test.local/"})
	bug := func(d *decide.Decision) {
		if d.Synapse == nil {
			return
		}
		for i, f := range d.Synapse.Want.Files {
			if f.Path == workload.HomeserverPath {
				d.Synapse.Want.Files[i].Content = append(append([]byte(nil), f.Content...), []byte("\nurl_preview_enabled: true\n")...)
			}
		}
	}
	err := charm.Run(context.Background(), charm.Options{
		Tools: juju.New(u.mem), Event: juju.Event{Name: "config-changed", Unit: "synapse/0", App: "synapse", Model: "test"},
		ContainersDir: filepath.Join(u.dir, "containers"), ReadyTimeout: 60 * time.Second, Log: testLog{t},
		AlterDecision: bug,
	})
	require.NoError(t, err, "a rejected configuration is a status, not a hook error")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.True(t, strings.Contains(st.Message, "Synapse rejects the new configuration of synapse") && strings.Contains(st.Message, "url_preview_ip_range_blacklist"), st.Message)
	assert.Equal(t, running.CurrentSince, u.service().CurrentSince, "the running process was not restarted")
	assert.Equal(t, before, u.file(workload.HomeserverPath), "its files were not replaced")
	assert.Equal(t, 200, u.health(), "Synapse keeps serving")

	// Without the bug the same change goes through, and restarts once.
	u.run("config-changed")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status)
	assert.Contains(t, u.file(workload.HomeserverPath), "public_baseurl: http://chat.test.local/")
	assert.NotEqual(t, running.CurrentSince, u.service().CurrentSince)
}
