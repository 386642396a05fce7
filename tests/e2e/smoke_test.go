package e2e

import (
	"testing"
)

// TestSmokeOneUnit: one unit on SQLite serves a Matrix user through its
// nginx; after integrating PostgreSQL it does again, now on PostgreSQL.
func TestSmokeOneUnit(t *testing.T) {
	d := newDeployment(t, 1)
	msgs := d.requireActive()
	t.Logf("status: %v", msgs)
	smoke(t, d.ctx, d.register("synapse/0", "alice"))

	d.integrate("postgresql")
	d.requireActive()
	// SQLite data does not migrate (the charm logs it): a new user.
	smoke(t, d.ctx, d.register("synapse/0", "bob"))
}
