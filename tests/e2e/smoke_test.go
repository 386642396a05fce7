package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmokeOneUnit: one unit on SQLite serves a Matrix user through its
// nginx. Integrating an empty PostgreSQL database afterwards would start an
// empty homeserver: the unit refuses it naming the fix and keeps serving
// the user from SQLite.
func TestSmokeOneUnit(t *testing.T) {
	d := newDeployment(t, 1)
	msgs := d.requireActive()
	t.Logf("status: %v", msgs)
	alice := d.register("synapse/0", "alice")
	smoke(t, d.ctx, alice)

	d.integrate("postgresql")
	u := d.unit("synapse/0")
	require.Equal(t, "blocked", u.WorkloadStatus.Status, u.WorkloadStatus.Message)
	require.Contains(t, u.WorkloadStatus.Message, "synapse_port_db")
	smoke(t, d.ctx, alice)
}

// TestSmokeOneUnitPostgreSQL: PostgreSQL integrated before any user
// exists (the SQLite database holds nothing): Synapse moves to it and
// serves a user.
func TestSmokeOneUnitPostgreSQL(t *testing.T) {
	d := newDeployment(t, 1)
	d.requireActive()
	d.integrate("postgresql")
	msgs := d.requireActive()
	t.Logf("status: %v", msgs)
	smoke(t, d.ctx, d.register("synapse/0", "bob"))
}
