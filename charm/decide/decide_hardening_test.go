package decide_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// An image whose /etc/passwd does not list Synapse's uid (the upstream
// image's does not: its start script switches to 991:991 by number) still
// runs Synapse as that uid, never as root; the status says so.
func TestImageWithoutSynapseUserStillRunsUnprivileged(t *testing.T) {
	s := ttReady(t)
	s.Event.Kind = "pebble-ready"
	s.Image.NoSynapseUser = true
	d := decide.Decide(s)
	st := ttStatus(d)
	assert.Equal(t, decide.Active, st.Level)
	assert.Contains(t, st.Message, "Synapse runs as uid 991, which the synapse image's /etc/passwd does not list")
	if assert.NotNil(t, d.Synapse) {
		for name, svc := range d.Synapse.Want.Layer.Services {
			if assert.NotNil(t, svc.UserID, name) {
				assert.Equal(t, workload.SynapseUserID, *svc.UserID, name)
			}
		}
	}
}

// Every Synapse process runs as 991:991; its secrets are its own.
func TestSynapseServicesRunAsSynapseUser(t *testing.T) {
	d := decide.Decide(ttReady(t))
	if !assert.NotNil(t, d.Synapse) {
		return
	}
	for name, svc := range d.Synapse.Want.Layer.Services {
		if assert.NotNil(t, svc.UserID, name) && assert.NotNil(t, svc.GroupID, name) {
			assert.Equal(t, [2]int{workload.SynapseUserID, workload.SynapseGroupID}, [2]int{*svc.UserID, *svc.GroupID}, name)
		}
	}
	for _, f := range d.Synapse.Want.Files {
		if f.Mode.Perm()&0o077 == 0 {
			assert.Equal(t, &workload.SynapseOwner, f.Owner, f.Path)
		} else {
			assert.Nil(t, f.Owner, "%s stays root's (read-only to Synapse)", f.Path)
		}
	}
}

// trusted_proxies reaches nginx.conf.
func TestTrustedProxiesReachNginx(t *testing.T) {
	s := ttReady(t)
	s.Event.Kind = "config-changed"
	s.Config = ttConfig(t, map[string]any{"trusted_proxies": "10.1.0.0/16"})
	d := decide.Decide(s)
	assert.Contains(t, ttFile(t, d.Nginx, workload.NginxConfigPath), "set_real_ip_from 10.1.0.0/16;")
}
