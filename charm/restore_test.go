package charm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/s3store"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// backupUnit is a SQLite monolith with the backup relation on a real S3
// server.
func backupUnit(t *testing.T) (*unit, *s3store.Client) {
	t.Helper()
	u := newUnit(t)
	s3, store := startBackupS3(t)
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "backup_passphrase": testPassphrase})
	id := u.mem.AddRelation("backup", "s3-integrator", "s3-integrator/0")
	u.mem.SetRelationData(id, "s3-integrator", true, map[string]string{
		"access-key": s3.AccessKey(), "secret-key": s3.SecretKey(), "bucket": "backups",
		"endpoint": s3.Endpoint(), "s3-uri-style": "path",
	})
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	return u, store
}

// plainBackup downloads and decrypts a backup: its uncompressed tar.
func plainBackup(t *testing.T, store *s3store.Client, id string) []byte {
	t.Helper()
	body, _, err := store.Get(context.Background(), "synapse-backups/"+id+".tar.gz.gpg")
	require.NoError(t, err)
	defer body.Close()
	md, err := openpgp.ReadMessage(body, openpgp.EntityList{}, func([]openpgp.Key, bool) ([]byte, error) {
		return []byte(testPassphrase), nil
	}, nil)
	require.NoError(t, err)
	gz, err := gzip.NewReader(md.UnverifiedBody)
	require.NoError(t, err)
	plain, err := io.ReadAll(gz)
	require.NoError(t, err)
	return plain
}

// login reports whether a user logs in with a password.
func (u *unit) login(user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return matrix.New("http://"+u.addr+":8008").Login(ctx, user, password) == nil
}

// TestRestoreKilledMidSwapIsRecoveredByTheNextHook runs restore-backup's
// container steps as the action does (stage, journal, stop Synapse, swap
// step by step) and stops after each phase, or in the middle of one, as
// a killed action would; then runs the next hook. Synapse serves either
// the previous data or the restored data, whole (users checked through
// the Matrix API), never an empty server, and nothing of the restore is
// left on /data.
func TestRestoreKilledMidSwapIsRecoveredByTheNextHook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	u, store := backupUnit(t)
	alice := u.action("register-user", map[string]any{"username": "alice"})["user-password"]
	client := matrix.New("http://" + u.addr + ":8008")
	require.NoError(t, client.Login(ctx, "alice", alice))
	mxc, err := client.Upload(ctx, "a.txt", "text/plain", []byte("in the backup"))
	require.NoError(t, err)
	backupID := u.action("create-backup", map[string]any{})["backup-id"]
	archive := plainBackup(t, store, backupID)
	pc := u.container.Client()
	data := filepath.Join(u.dir, "data")

	for i, tc := range []struct {
		name  string
		steps int
		mid   func()
		// restored: the backup is in place (else the previous data).
		restored bool
	}{
		{name: "stopped after staging", steps: 0},
		{name: "database moved aside, media not", steps: 1, mid: func() {
			require.NoError(t, os.MkdirAll(filepath.Join(data, ".synapse-restore-old"), 0o700))
			require.NoError(t, os.Rename(filepath.Join(data, "homeserver.db"), filepath.Join(data, ".synapse-restore-old", "homeserver.db")))
		}},
		{name: "previous data aside, nothing in place", steps: 2, restored: true},
		{name: "restored database in place, media not", steps: 2, restored: true, mid: func() {
			require.NoError(t, os.Rename(filepath.Join(data, ".synapse-restore", "homeserver.db"), filepath.Join(data, "homeserver.db")))
		}},
		{name: "swapped, previous data not yet removed", steps: 3, restored: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u.t = t
			// A user the backup does not have tells the two data sets apart.
			later := "later" + string(rune('a'+i))
			password := u.action("register-user", map[string]any{"username": later})["user-password"]
			require.True(t, u.login(later, password))

			_, err := container.StageRestore(ctx, pc, bytes.NewReader(archive), time.Minute)
			require.NoError(t, err)
			require.NoError(t, container.BeginRestore(ctx, pc, true, backupID))
			_, err = container.StopActive(pc, time.Minute)
			require.NoError(t, err)
			for range tc.steps {
				_, err := container.StepRestore(ctx, pc)
				require.NoError(t, err)
			}
			if tc.mid != nil {
				tc.mid()
			}
			// The action is dead here. The next hook, whatever it is:
			started := time.Now()
			u.run("update-status")
			t.Logf("recovered and started in %s", time.Since(started).Round(time.Millisecond))
			st := u.mem.UnitStatus()
			require.Equal(t, juju.Active, st.Status, st.Message)
			u.waitHealthy()

			assert.True(t, u.login("alice", alice), "never an empty server: alice is in both")
			got, err := client.Download(ctx, mxc)
			require.NoError(t, err, "the media is in both")
			assert.Equal(t, "in the backup", string(got))
			assert.Equal(t, !tc.restored, u.login(later, password), "restored %v", tc.restored)
			for _, scratch := range []string{".synapse-restore", ".synapse-restore-old", ".synapse-restore-journal"} {
				assert.NoFileExists(t, filepath.Join(data, scratch))
				assert.NoDirExists(t, filepath.Join(data, scratch))
			}
			phase, err := container.PendingRestore(pc)
			require.NoError(t, err)
			assert.Empty(t, phase)
		})
	}
	u.t = t
	var logs []string
	for _, l := range u.mem.Logs() {
		logs = append(logs, l.Level+" "+l.Message)
	}
	assert.Contains(t, strings.Join(logs, "\n"), "WARNING restore-backup was interrupted in phase moving-old: rolling it back before starting Synapse")
}

// TestRestoreRefusesANewerSynapsesDatabase: a SQLite backup made by a
// newer Synapse is refused before anything changes.
func TestRestoreRefusesANewerSynapsesDatabase(t *testing.T) {
	u, store := backupUnit(t)
	backupID := u.action("create-backup", map[string]any{})["backup-id"]
	archive := plainBackup(t, store, backupID)

	// The same archive, its manifest saying Synapse 99.0.
	var rewritten bytes.Buffer
	tw := tar.NewWriter(&rewritten)
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		if hdr.Name == container.BackupManifestName {
			var m map[string]any
			require.NoError(t, json.Unmarshal(body, &m))
			m["synapse_version"] = "99.0.0"
			body, err = json.Marshal(m)
			require.NoError(t, err)
			hdr.Size = int64(len(body))
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = tw.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	var encrypted bytes.Buffer
	enc, err := openpgp.SymmetricallyEncrypt(&encrypted, []byte(testPassphrase), nil, nil)
	require.NoError(t, err)
	gz := gzip.NewWriter(enc)
	_, err = gz.Write(rewritten.Bytes())
	require.NoError(t, err)
	require.NoError(t, gz.Close())
	require.NoError(t, enc.Close())
	newer := "29990101000000000000"
	_, err = store.Put(context.Background(), "synapse-backups/"+newer+".tar.gz.gpg", &encrypted, nil)
	require.NoError(t, err)

	since := u.service().CurrentSince
	msg := u.failingAction("restore-backup", map[string]any{"backup-id": newer})
	assert.Contains(t, msg, "was made by Synapse 99.0.0")
	assert.Contains(t, msg, "nothing was changed")
	assert.Equal(t, since, u.service().CurrentSince, "synapse was not restarted")
	assert.Equal(t, 200, u.health())
	assert.NoDirExists(t, filepath.Join(u.dir, "data", ".synapse-restore"))
}
