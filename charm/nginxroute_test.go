package charm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// TestNginxRouteRequestsAnIngress: the leader asks nginx-ingress-integrator
// for an ingress to the application's Service on nginx's port, with the
// keys the integrator requires (service-hostname, -name, -namespace,
// -port), the upload limit in whole megabytes and a read timeout long
// enough for long-polls; a config change updates only what changed, a
// repeated hook writes nothing, and a non-leader never writes.
func TestNginxRouteRequestsAnIngress(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	id := u.mem.AddRelation("nginx-route", "nginx-ingress-integrator", "nginx-ingress-integrator/0")
	u.run("nginx-route-relation-joined")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.Equal(t, map[string]string{
		"service-hostname":   "test.local",
		"service-name":       "synapse",
		"service-namespace":  "test",
		"service-port":       "8080",
		"max-body-size":      "50",
		"proxy-read-timeout": "300",
	}, u.mem.RelationData(id, "synapse", true))

	// matrix.test.local serves the API of test.local; uploads up to 1G+1K.
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "https://matrix.test.local/", "max_upload_size": "1048577K"})
	u.run("config-changed")
	bag := u.mem.RelationData(id, "synapse", true)
	assert.Equal(t, "matrix.test.local", bag["service-hostname"])
	assert.Equal(t, "1025", bag["max-body-size"], "rounded up to whole megabytes")

	u.mem.ResetCalls()
	u.run("update-status")
	assert.Zero(t, u.mem.Calls()["relation-set"], "nothing changed, nothing written")

	u.mem.SetLeader(false)
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "https://chat.test.local/"})
	u.mem.ResetCalls()
	u.run("config-changed")
	assert.Equal(t, "matrix.test.local", u.mem.RelationData(id, "synapse", true)["service-hostname"], "only the leader writes the application bag")
}
