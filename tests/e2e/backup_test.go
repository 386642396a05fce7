package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// TestBackupActionsRunInTheirOwnProgram: dispatch hands the backup actions
// to the charm's backup-actions program (so that hooks do not pay for
// OpenPGP's start-up), which reads the passphrase and the bucket's keys
// itself with the hook tools. A backup of a running monolith is created,
// listed, restored (its user logs in again) and deleted through it.
func TestBackupActionsRunInTheirOwnProgram(t *testing.T) {
	d := newDeployment(t, 1)
	for _, u := range d.m.Units() {
		fi, err := os.Stat(filepath.Join(u.CharmDir, charmarchive.BackupActions))
		require.NoError(t, err, "the packed charm, installed as Juju installs it, holds the backup actions' program")
		assert.NotZero(t, fi.Mode()&0o111, "executable")
	}
	require.NoError(t, d.m.ConfigSet(map[string]string{"backup_passphrase": "a long test passphrase"}))
	d.waitIdle()
	d.provider("s3") // starts the S3 server
	d.integrateWith("backup", &sim.S3Integrator{Track: 1, Server: d.s3, Bucket: "synapse-backups", EnsureBucket: true}, "backup")
	d.registerWithPassword("synapse/0", "alice", "alice-password-1", false)

	run := func(name string, params map[string]any) map[string]any {
		t.Helper()
		res, err := d.m.RunAction(d.ctx, "synapse/0", name, params)
		require.NoError(t, err)
		require.Equal(t, "completed", res.Status, "%s: %s\n%s", name, res.Message, res.Output)
		return res.Results
	}
	created := run("create-backup", nil)
	id, _ := created["backup-id"].(string)
	require.Len(t, id, 20, "create-backup: %v", created)
	assert.Equal(t, "1", run("list-backups", nil)["count"])

	restored := run("restore-backup", map[string]any{"backup-id": id})
	assert.Equal(t, "database and media store", restored["restored"], "%v", restored)
	// Synapse restarted on the restored database, where alice is.
	waitLogin(t, d.ctx, d.nginx("synapse/0"), "alice", "alice-password-1")

	assert.Equal(t, "synapse-backups/"+id+".tar.gz.gpg", run("delete-backup", map[string]any{"backup-id": id})["deleted"])
	assert.Equal(t, "0", run("list-backups", nil)["count"])
}
