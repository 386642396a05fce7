package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/admin"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// TestSwitchFromPythonCharm: a unit left as the Python charm leaves it
// (its peer keys and secrets, Synapse's SQLite database, media, signing
// and macaroon key files under its names on /data) is switched to this
// charm with juju refresh --switch. The server keeps its federation
// identity, users, messages and media, through every unit after scaling
// to 3.
func TestSwitchFromPythonCharm(t *testing.T) {
	bed.RequireRoot(t)
	start := time.Now()
	d := newPythonDeployment(t)
	u := d.unit("synapse/0")
	before := d.pythonState(u)
	t.Logf("Python charm's state built in %s (key %s)", time.Since(start).Round(time.Second), keyIDs(before.keys))

	switched := time.Now()
	require.NoError(t, d.m.Refresh(d.ctx, charmBinary))
	d.waitIdle()
	t.Logf("switched in %s: %s %q", time.Since(switched).Round(time.Second), d.unit("synapse/0").WorkloadStatus.Status, d.unit("synapse/0").WorkloadStatus.Message)
	require.Equal(t, "active", d.unit("synapse/0").WorkloadStatus.Status, d.unit("synapse/0").WorkloadStatus.Message)
	assert.Equal(t, "synapse/0", d.plan().Main)

	peers, ok := d.m.RelationOn("synapse-peers")
	require.True(t, ok)
	for k, v := range before.bag {
		assert.Equal(t, v, peers.AppData[k], "the Python charm's %s is left for a switch back", k)
	}
	hs, err := os.ReadFile(filepath.Join(u.StorageDirs["data"], "homeserver.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(hs), "media_store_path: /data/media\n", "the Python charm's media directory")
	assert.Contains(t, string(hs), "database: /data/homeserver.db\n", "the Python charm's database")
	d.checkKept(t, "synapse/0", before)

	require.NoError(t, d.m.Scale(d.ctx, 3))
	d.waitIdle()
	for _, name := range []string{"synapse/0", "synapse/1", "synapse/2"} {
		st := d.unit(name).WorkloadStatus
		t.Logf("%s: %s %q", name, st.Status, st.Message)
		d.checkKept(t, name, before)
	}
	t.Logf("total %s", time.Since(start).Round(time.Second))
}

// pythonBefore is what the server served before the switch.
type pythonBefore struct {
	keys            map[string]string // key id -> public key
	user, password  string
	room, text, mxc string
	media           []byte
	bag             map[string]string
}

// newPythonDeployment deploys one unit of a stand-in for the Python charm:
// a dispatch that does nothing, so the test builds its state itself.
func newPythonDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	dir, err := os.MkdirTemp("/tmp", "e2e-switch")
	require.NoError(t, err)
	stub := filepath.Join(dir, "python-charm")
	require.NoError(t, os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	d := &deployment{t: t, ctx: ctx, dir: dir, rels: map[string]int{}, bed: &sim.BedWorkload{}}
	m, err := sim.New(ctx, sim.Options{
		Charm: stub, CharmRoot: moduleRoot(), Dir: filepath.Join(dir, "m"), Workload: d.bed, Logf: t.Logf,
	})
	require.NoError(t, err)
	d.m = m
	t.Cleanup(func() {
		if t.Failed() {
			d.dumpLogs()
		}
		_ = m.Close()
		os.RemoveAll(dir)
	})
	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "test.local"}))
	require.NoError(t, m.Deploy(ctx, 1))
	d.waitIdle()
	return d
}

func moduleRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

// pythonState does on synapse/0 what the Python charm does: its key files
// and homeserver.yaml (as its migrate_config renders it from Synapse's
// docker template: SQLite at /data/homeserver.db, media at /data/media),
// Synapse run until it has a user, a room, a message and media, and its
// peer keys naming its secrets.
func (d *deployment) pythonState(u sim.UnitView) pythonBefore {
	t := d.t
	data := u.StorageDirs["data"]
	keys, err := workload.GenerateSecrets()
	require.NoError(t, err)
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(data, name), []byte(content), 0o644))
	}
	write("test.local.signing.key", keys.SigningKey+"\n")
	write("test.local.macaroon.key", keys.Macaroon+"\n")
	write("homeserver.yaml", fmt.Sprintf(`server_name: test.local
pid_file: /homeserver.pid
report_stats: false
listeners:
  - port: 8008
    tls: false
    bind_addresses: ['%s']
    type: http
    x_forwarded: false
    resources:
      - names: [client, federation]
        compress: false
database:
  name: sqlite3
  args:
    database: /data/homeserver.db
media_store_path: /data/media
signing_key_path: /data/test.local.signing.key
macaroon_secret_key: %s
registration_shared_secret: %s
trusted_key_servers: []
suppress_key_server_warning: true
`, u.Address, keys.Macaroon, keys.Registration))

	pc, err := client.New(&client.Config{Socket: filepath.Join(u.ContainersDir, "synapse", "pebble.socket")})
	require.NoError(t, err)
	require.NoError(t, pc.AddLayer(&client.AddLayerOptions{Label: "python-charm", LayerData: []byte(`services:
  synapse:
    override: replace
    command: python3 -m synapse.app.homeserver --config-path /data/homeserver.yaml
    startup: enabled
`)}))
	change, err := pc.Start(&client.ServiceOptions{Names: []string{"synapse"}})
	require.NoError(t, err)
	_, err = pc.WaitChange(change, &client.WaitChangeOptions{Timeout: 2 * time.Minute})
	require.NoError(t, err)
	base := "http://" + u.Address + ":8008"
	waitHealth(t, d.ctx, base)

	ctx, cancel := context.WithTimeout(d.ctx, 2*time.Minute)
	defer cancel()
	b := pythonBefore{user: "alice", password: "alice-password-1", text: "said before the switch", media: []byte("media stored by the Python charm")}
	ac := &admin.Client{BaseURL: base, HTTP: http.DefaultClient, ServerName: "test.local"}
	_, err = ac.Register(ctx, admin.RegisterOptions{Username: b.user, Password: b.password, SharedSecret: keys.Registration})
	require.NoError(t, err)
	c := matrix.New(base)
	require.NoError(t, c.Login(ctx, b.user, b.password))
	b.room, err = c.CreateRoom(ctx)
	require.NoError(t, err)
	_, err = c.Send(ctx, b.room, b.text)
	require.NoError(t, err)
	b.mxc, err = c.Upload(ctx, "before.txt", "text/plain", b.media)
	require.NoError(t, err)
	b.keys = serverKeys(t, ctx, base)
	media, err := os.ReadDir(filepath.Join(data, "media"))
	require.NoError(t, err, "Synapse wrote media under the Python charm's directory")
	require.NotEmpty(t, media)
	_, err = os.Stat(filepath.Join(data, "homeserver.db"))
	require.NoError(t, err)

	change, err = pc.Stop(&client.ServiceOptions{Names: []string{"synapse"}})
	require.NoError(t, err)
	_, err = pc.WaitChange(change, &client.WaitChangeOptions{Timeout: time.Minute})
	require.NoError(t, err)

	// The Python charm's secrets and peer keys, made as it makes them.
	signing := d.pySecret(u.Name, "synapse-signing-key", "secret-signing-key", keys.SigningKey)
	macaroon := d.pySecret(u.Name, "synapse-macaroon-key", "secret-macaroon-key", keys.Macaroon)
	token := d.pySecret(u.Name, "", "secret-key", "syt_admin_token_of_the_python_charm")
	b.bag = map[string]string{"secret-signing-id": signing, "secret-macaroon-id": macaroon, "secret-id": token}
	peers, ok := d.m.RelationOn("synapse-peers")
	require.True(t, ok)
	args := []string{"relation-set", "--app", "-r", fmt.Sprint(peers.ID)}
	for k, v := range b.bag {
		args = append(args, k+"="+v)
	}
	d.exec(u.Name, args...)
	return b
}

// pySecret adds an application secret with one key, its value read from a
// file (never in argv), and returns its ID.
func (d *deployment) pySecret(unit, label, key, value string) string {
	f := filepath.Join(d.dir, key)
	require.NoError(d.t, os.WriteFile(f, []byte(value), 0o600))
	args := []string{"secret-add"}
	if label != "" {
		args = append(args, "--label", label)
	}
	return strings.TrimSpace(d.exec(unit, append(args, key+"#file="+f)...))
}

func (d *deployment) exec(unit string, argv ...string) string {
	d.t.Helper()
	res, err := d.m.Exec(d.ctx, unit, sim.ExecOptions{Command: argv})
	require.NoError(d.t, err)
	require.Equal(d.t, 0, res.Code, "%v: %s", argv[0], res.Stderr)
	return res.Stdout
}

// checkKept checks, through a unit's nginx, what the server served before
// the switch: the same signing key, the user's login, the message, the
// media.
func (d *deployment) checkKept(t *testing.T, unit string, b pythonBefore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 2*time.Minute)
	defer cancel()
	base := d.nginx(unit)
	assert.Equal(t, b.keys, serverKeys(t, ctx, base), "%s: the same federation identity", unit)
	c := matrix.New(base)
	require.NoError(t, c.Login(ctx, b.user, b.password), "%s: the user created before logs in", unit)
	require.NoError(t, c.WaitForMessage(ctx, b.room, b.text), "%s: the message sent before", unit)
	got, err := c.Download(ctx, b.mxc)
	require.NoError(t, err, "%s: the media uploaded before", unit)
	assert.Equal(t, b.media, got)
}

// serverKeys is the verify_keys the server publishes for federation.
func serverKeys(t testing.TB, ctx context.Context, base string) map[string]string {
	t.Helper()
	var out struct {
		VerifyKeys map[string]struct {
			Key string `json:"key"`
		} `json:"verify_keys"`
	}
	require.NoError(t, matrix.New(base).Do(ctx, http.MethodGet, "/_matrix/key/v2/server", nil, &out))
	keys := map[string]string{}
	for id, k := range out.VerifyKeys {
		keys[id] = k.Key
	}
	require.Len(t, keys, 1)
	return keys
}

func keyIDs(keys map[string]string) string {
	var ids []string
	for id := range keys {
		ids = append(ids, id)
	}
	return strings.Join(ids, ",")
}

func waitHealth(t testing.TB, ctx context.Context, base string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("Synapse at %s did not become healthy", base)
}
