package charm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// TestLegacySecretIDMigrates: a deployment of an earlier revision named its
// secret under "secret-id", the Python charm's admin-token key; the leader
// moves it to its own key and keeps the same secret and keys.
func TestLegacySecretIDMigrates(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	peer := u.mem.RelationIDs(charm.PeerEndpoint)[0]
	bag := u.mem.RelationData(peer, "synapse", true)
	id := bag["synapse-secret-id"]
	require.NotEmpty(t, id)
	running := u.service().CurrentSince
	delete(bag, "synapse-secret-id")
	bag["secret-id"] = id
	u.mem.SetRelationData(peer, "synapse", true, bag)
	u.run("upgrade-charm")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	after := u.mem.RelationData(peer, "synapse", true)
	assert.Equal(t, id, after["synapse-secret-id"])
	assert.Empty(t, after["secret-id"], "a switch back must not take it for its admin token")
	assert.Len(t, u.mem.Secrets(), 1, "no second secret")
	assert.Equal(t, running, u.service().CurrentSince, "same keys, nothing restarted")
}
