package charm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/s3store"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

const testPassphrase = "correct horse battery staple"

// startBackupS3 starts an S3 server with a bucket "backups" and returns a
// client on it, for looking at what the charm stored.
func startBackupS3(t *testing.T) (*bed.S3, *s3store.Client) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "s3")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	s3, err := bed.StartS3(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Stop() })
	require.NoError(t, s3.CreateBucket("backups"))
	return s3, &s3store.Client{Endpoint: s3.Endpoint(), Region: s3.Region(), Bucket: "backups", PathStyle: true,
		AccessKey: s3.AccessKey(), SecretKey: s3.SecretKey()}
}

// waitHealthy waits for Synapse on the unit to answer /health.
func (u *unit) waitHealthy() {
	u.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for u.health() != 200 {
		require.True(u.t, time.Now().Before(deadline), "synapse did not become healthy")
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBackupActionsNameTheFix: without a passphrase or a bucket, each
// backup action fails and says which command fixes it.
func TestBackupActionsNameTheFix(t *testing.T) {
	u := newUnit(t)
	for _, action := range []string{"create-backup", "list-backups"} {
		msg := u.failingAction(action, map[string]any{})
		assert.Contains(t, msg, "juju config synapse backup_passphrase=", action)
	}
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "backup_passphrase": testPassphrase})
	for _, action := range []string{"create-backup", "list-backups"} {
		msg := u.failingAction(action, map[string]any{})
		assert.Contains(t, msg, "juju integrate synapse:backup s3-integrator", action)
	}
	for _, action := range []string{"restore-backup", "delete-backup"} {
		msg := u.failingAction(action, map[string]any{"backup-id": "20260101000000000000"})
		assert.Contains(t, msg, "juju integrate synapse:backup s3-integrator", action)
		msg = u.failingAction(action, map[string]any{"backup-id": "../x"})
		assert.Contains(t, msg, "is not a backup id", action)
	}
	id := u.mem.AddRelation("backup", "s3-integrator", "s3-integrator/0")
	msg := u.failingAction("create-backup", map[string]any{})
	assert.Contains(t, msg, "s3-integrator has not provided the backup bucket")
	u.mem.SetRelationData(id, "s3-integrator", true, map[string]string{
		"access-key": "AK", "secret-key": "SK", "bucket": "b", "s3-uri-style": "sideways",
	})
	msg = u.failingAction("list-backups", map[string]any{})
	assert.Contains(t, msg, "malformed")
	assert.NotContains(t, msg, "SK")
}

// TestBackupRestoresSQLiteAndMedia is the operator's story on a SQLite
// monolith: back up, lose data, restore, and find users and media back.
func TestBackupRestoresSQLiteAndMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	u := newUnit(t)
	s3, store := startBackupS3(t)
	config := map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "backup_passphrase": testPassphrase}
	u.mem.SetConfig(config)
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	homeserver := u.file(workload.HomeserverPath)

	// The backup relation (track 2: credentials in a secret). A malformed
	// answer leaves the unit active and says so; nothing is restarted.
	id := u.mem.AddRelation("backup", "s3-integrator", "s3-integrator/0")
	u.run("backup-relation-joined")
	assert.Equal(t, "relation-1", u.mem.RelationData(id, "synapse", true)["bucket"])
	u.mem.SetRelationData(id, "s3-integrator", true, map[string]string{"bucket": "backups", "s3-uri-style": "sideways", "access-key": "a", "secret-key": "b"})
	u.run("backup-relation-changed")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Active, st.Status)
	assert.Contains(t, st.Message, "backups unavailable: the backup relation from s3-integrator is malformed")
	secretID := u.mem.AddSecret("s3-integrator", "", map[string]string{"access-key": s3.AccessKey(), "secret-key": s3.SecretKey()})
	u.mem.SetRelationData(id, "s3-integrator", true, map[string]string{
		"secret-extra": secretID, "bucket": "backups", "endpoint": s3.Endpoint(), "region": s3.Region(),
		"s3-uri-style": "path", "path": "prod", "lib-version": "1.0",
		"access-key": "", "secret-key": "",
	})
	u.run("backup-relation-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.NotContains(t, st.Message, "backup")
	assert.Equal(t, homeserver, u.file(workload.HomeserverPath), "the backup relation changes nothing in Synapse's config")
	assert.NotContains(t, u.file(workload.HomeserverPath), s3.SecretKey())

	// Alice and her media exist before the backup.
	res := u.action("register-user", map[string]any{"username": "alice"})
	alicePassword := res["user-password"]
	alice := matrix.New("http://" + u.addr + ":8008")
	require.NoError(t, alice.Login(ctx, "alice", alicePassword))
	var media []string
	for i := range 20 {
		mxc, err := alice.Upload(ctx, fmt.Sprintf("f%d.txt", i), "text/plain", bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1)))
		require.NoError(t, err)
		media = append(media, mxc)
	}

	started := time.Now()
	backup := u.action("create-backup", map[string]any{})
	t.Logf("create-backup: %v in %s", backup, time.Since(started))
	backupID := backup["backup-id"]
	require.Regexp(t, `^[0-9]{20}$`, backupID)
	assert.Equal(t, "prod/synapse-backups/"+backupID+".tar.gz.gpg", backup["key"])
	assert.Equal(t, "homeserver.db, media_store, keys/signing.key", backup["includes"])
	assert.Equal(t, "22", backup["files"], "database, 20 media files, signing key")
	assert.Empty(t, backup["database"], "a SQLite backup holds the database")
	keys, err := s3.ListObjects("backups")
	require.NoError(t, err)
	assert.Equal(t, []string{backup["key"]}, keys)
	u.waitHealthy()

	list := u.action("list-backups", map[string]any{})
	assert.Equal(t, "1", list["count"])
	assert.Equal(t, backup["size"], list["backups."+backupID+".size"])
	assert.Equal(t, "synapse/0", list["backups."+backupID+".unit"])
	assert.Equal(t, "sqlite", list["backups."+backupID+".database"])
	assert.Contains(t, list["formatted"], backupID)
	t.Logf("list-backups:\n%s", list["formatted"])

	// An operator can open the backup by hand.
	body, _, err := store.Get(ctx, backup["key"])
	require.NoError(t, err)
	encrypted, err := io.ReadAll(body)
	body.Close()
	require.NoError(t, err)
	assert.NotContains(t, string(encrypted), "manifest.json", "the backup is encrypted")
	entries, manifest := openBackup(t, encrypted)
	assert.Equal(t, "manifest.json", entries[0], "the manifest comes first")
	assert.Contains(t, entries, "homeserver.db")
	assert.Contains(t, entries, "keys/signing.key")
	assert.Len(t, entries, 23)
	assert.Equal(t, "test.local", manifest.ServerName)
	assert.Equal(t, "synapse/0", manifest.Unit)
	assert.Equal(t, 20, manifest.MediaFiles)
	assert.NotEmpty(t, manifest.SynapseVersion)

	// Lose data: the media files, and a user registered after the backup.
	require.NoError(t, os.RemoveAll(filepath.Join(u.dir, "data", "media_store", "local_content")))
	_, err = alice.Download(ctx, media[0])
	require.Error(t, err, "the media is gone")
	res = u.action("register-user", map[string]any{"username": "bob"})
	bobPassword := res["user-password"]
	require.NoError(t, matrix.New("http://"+u.addr+":8008").Login(ctx, "bob", bobPassword))

	// A wrong passphrase fails before anything changes.
	since := u.service().CurrentSince
	config["backup_passphrase"] = "not the passphrase"
	u.mem.SetConfig(config)
	msg := u.failingAction("restore-backup", map[string]any{"backup-id": backupID})
	assert.Contains(t, msg, "cannot decrypt backup "+backupID+" with the configured backup_passphrase")
	assert.Contains(t, msg, "nothing was changed")
	assert.NotContains(t, msg, "not the passphrase")
	assert.Equal(t, 200, u.health(), "synapse kept running")
	assert.Equal(t, since, u.service().CurrentSince, "synapse was not restarted")
	require.NoError(t, matrix.New("http://"+u.addr+":8008").Login(ctx, "bob", bobPassword), "nothing was restored")
	msg = u.failingAction("restore-backup", map[string]any{"backup-id": "20200101000000000000"})
	assert.Contains(t, msg, "backup 20200101000000000000 does not exist in bucket backups")

	config["backup_passphrase"] = testPassphrase
	u.mem.SetConfig(config)
	started = time.Now()
	restored := u.action("restore-backup", map[string]any{"backup-id": backupID})
	t.Logf("restore-backup: %v in %s", restored, time.Since(started))
	assert.Equal(t, "database and media store", restored["restored"])
	logs := strings.Join(u.mem.ActionLogs(), "\n")
	assert.Contains(t, logs, "decrypted and checked")
	assert.Contains(t, logs, "stopping synapse")
	assert.NotContains(t, logs, testPassphrase)
	assert.Equal(t, "synapse", restored["restarted"])
	u.waitHealthy()

	alice = matrix.New("http://" + u.addr + ":8008")
	require.NoError(t, alice.Login(ctx, "alice", alicePassword), "alice is back")
	for i, mxc := range media {
		data, err := alice.Download(ctx, mxc)
		require.NoError(t, err, "media %d", i)
		assert.Equal(t, bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1)), data)
	}
	err = matrix.New("http://"+u.addr+":8008").Login(ctx, "bob", bobPassword)
	require.Error(t, err, "bob was registered after the backup")
	for _, scratch := range []string{".synapse-restore", ".synapse-restore-old", ".synapse-backup"} {
		assert.NoDirExists(t, filepath.Join(u.dir, "data", scratch), "no scratch left")
	}

	// The charm's next hook finds everything as it left it.
	u.run("update-status")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)

	deleted := u.action("delete-backup", map[string]any{"backup-id": backupID})
	assert.Equal(t, backup["key"], deleted["deleted"])
	list = u.action("list-backups", map[string]any{})
	assert.Equal(t, "0", list["count"])
	msg = u.failingAction("delete-backup", map[string]any{"backup-id": backupID})
	assert.Contains(t, msg, "backup "+backupID+" does not exist")
}

// TestBackupRefusesAnotherServerName: a backup of another server is not
// restored.
func TestBackupRefusesAnotherServerName(t *testing.T) {
	u := newUnit(t)
	s3, _ := startBackupS3(t)
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "backup_passphrase": testPassphrase})
	u.run("config-changed")
	id := u.mem.AddRelation("backup", "s3-integrator", "s3-integrator/0")
	u.mem.SetRelationData(id, "s3-integrator", true, map[string]string{
		"access-key": s3.AccessKey(), "secret-key": s3.SecretKey(), "bucket": "backups",
		"endpoint": s3.Endpoint(), "s3-uri-style": "path",
	})
	u.run("backup-relation-changed")
	backupID := u.action("create-backup", map[string]any{})["backup-id"]

	// The same bucket, seen from a unit of another server.
	u.mem.SetConfig(map[string]any{"server_name": "other.example", "backup_passphrase": testPassphrase})
	msg := u.failingAction("restore-backup", map[string]any{"backup-id": backupID})
	assert.Contains(t, msg, "is of server_name test.local, but this application serves other.example")
	assert.Equal(t, 200, u.health())
}

// openBackup decrypts a backup as an operator would, with gpg when the
// host has it (else with the OpenPGP library), and returns the archive's
// entry names and manifest.
func openBackup(t *testing.T, encrypted []byte) ([]string, container.BackupManifest) {
	t.Helper()
	var plain []byte
	if gpg, err := exec.LookPath("gpg"); err == nil {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "backup.tar.gz.gpg"), encrypted, 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "pass"), []byte(testPassphrase), 0o600))
		home := filepath.Join(dir, "gnupg")
		require.NoError(t, os.Mkdir(home, 0o700))
		defer func() { _ = exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run() }()
		cmd := exec.Command(gpg, "--homedir", home, "--batch", "--pinentry-mode", "loopback",
			"--passphrase-file", filepath.Join(dir, "pass"), "--decrypt", filepath.Join(dir, "backup.tar.gz.gpg"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		plain, err = cmd.Output()
		require.NoError(t, err, "gpg --decrypt: %s", stderr.String())
		t.Logf("decrypted with %s", gpg)
	} else {
		t.Logf("no gpg on this host: decrypting with the OpenPGP library instead")
		md, err := openpgp.ReadMessage(bytes.NewReader(encrypted), openpgp.EntityList{}, func([]openpgp.Key, bool) ([]byte, error) {
			return []byte(testPassphrase), nil
		}, nil)
		require.NoError(t, err)
		plain, err = io.ReadAll(md.UnverifiedBody)
		require.NoError(t, err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(plain))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var names []string
	var m container.BackupManifest
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, hdr.Name)
		if hdr.Name == "manifest.json" {
			require.NoError(t, json.NewDecoder(tr).Decode(&m))
		}
		if strings.HasPrefix(hdr.Name, "media_store/") {
			assert.True(t, strings.HasPrefix(hdr.Name, "media_store/local_content/"), hdr.Name)
		}
	}
	return names, m
}

// TestBackupWithPostgresRestoresMediaOnly: with PostgreSQL the database is
// postgresql-k8s's to back up; the backup holds the media, and a restore
// adds lost media files back without restarting Synapse or dropping media
// uploaded since.
func TestBackupWithPostgresRestoresMediaOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	u := newUnit(t)
	pg := startPostgres(t)
	s3, _ := startBackupS3(t)
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "backup_passphrase": testPassphrase})
	db := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	u.mem.SetRelationData(db, "postgresql-k8s", true, providePostgres(t, pg, true))
	backup := u.mem.AddRelation("backup", "s3-integrator", "s3-integrator/0")
	u.mem.SetRelationData(backup, "s3-integrator", true, map[string]string{
		"access-key": s3.AccessKey(), "secret-key": s3.SecretKey(), "bucket": "backups",
		"endpoint": s3.Endpoint(), "s3-uri-style": "path",
	})
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	require.Contains(t, u.file(workload.HomeserverPath), "psycopg2")

	res := u.action("register-user", map[string]any{"username": "alice"})
	alice := matrix.New("http://" + u.addr + ":8008")
	require.NoError(t, alice.Login(ctx, "alice", res["user-password"]))
	before, err := alice.Upload(ctx, "before.txt", "text/plain", []byte("in the backup"))
	require.NoError(t, err)

	created := u.action("create-backup", map[string]any{})
	assert.Equal(t, "media_store, keys/signing.key", created["includes"])
	assert.Contains(t, created["database"], "postgresql-k8s")

	require.NoError(t, os.RemoveAll(filepath.Join(u.dir, "data", "media_store", "local_content")))
	after, err := alice.Upload(ctx, "after.txt", "text/plain", []byte("uploaded since"))
	require.NoError(t, err)
	_, err = alice.Download(ctx, before)
	require.Error(t, err)

	since := u.service().CurrentSince
	restored := u.action("restore-backup", map[string]any{"backup-id": created["backup-id"]})
	assert.Equal(t, "media files", restored["restored"])
	assert.Contains(t, restored["database"], "postgresql-k8s")
	assert.Equal(t, since, u.service().CurrentSince, "restoring media restarts nothing")
	data, err := alice.Download(ctx, before)
	require.NoError(t, err)
	assert.Equal(t, "in the backup", string(data))
	data, err = alice.Download(ctx, after)
	require.NoError(t, err)
	assert.Equal(t, "uploaded since", string(data))
}

// TestBackupTrustsTheIntegratorCA: an S3 endpoint whose certificate is
// signed by the integrator's tls-ca-chain is reached; without it, the
// certificate is refused.
func TestBackupTrustsTheIntegratorCA(t *testing.T) {
	u := newUnit(t)
	s3, _ := startBackupS3(t)
	target, err := url.Parse(s3.Endpoint())
	require.NoError(t, err)
	tlsS3 := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(tlsS3.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsS3.Certificate().Raw})
	chain, err := json.Marshal([]string{string(caPEM)})
	require.NoError(t, err)

	u.mem.SetConfig(map[string]any{"server_name": "test.local", "backup_passphrase": testPassphrase})
	id := u.mem.AddRelation("backup", "s3-integrator", "s3-integrator/0")
	bag := map[string]string{
		"access-key": s3.AccessKey(), "secret-key": s3.SecretKey(), "bucket": "backups",
		"endpoint": tlsS3.URL, "s3-uri-style": "path",
	}
	u.mem.SetRelationData(id, "s3-integrator", true, bag)
	msg := u.failingAction("list-backups", map[string]any{})
	assert.Contains(t, msg, "certificate")

	bag["tls-ca-chain"] = string(chain)
	u.mem.SetRelationData(id, "s3-integrator", true, bag)
	assert.Equal(t, "0", u.action("list-backups", map[string]any{})["count"])
}
