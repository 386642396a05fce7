package charm_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/backupcrypt"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// unit is one simulated unit: in-memory hook tools and a real synapse
// container (Pebble in its own root over the Synapse image).
type unit struct {
	t         testing.TB
	mem       *jujutest.Memory
	container *bed.Container
	dir       string
	addr      string
	// exporter is the charm binary to run as nginx exporter; "" for none.
	exporter string
	// stateFile, when set, is the unit's memory between hooks
	// (Options.StateFile); tests that change the in-memory Juju without
	// the hooks Juju would run leave it empty.
	stateFile string
	// now is the charm's clock (Options.Now); time.Now when nil.
	now func() time.Time
}

func newUnit(t testing.TB) *unit {
	t.Helper()
	bed.RequireRoot(t)
	ctx := context.Background()
	img, err := bed.Image(ctx)
	require.NoError(t, err)
	// Short paths: the Pebble socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "ch")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	hosts := filepath.Join(dir, "hosts")
	require.NoError(t, os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644))
	ct, err := bed.StartContainer(ctx, bed.ContainerOptions{
		Name:      "synapse",
		Image:     img,
		Dir:       filepath.Join(dir, "c"),
		SocketDir: filepath.Join(dir, "containers", "synapse"),
		Binds:     []bed.Bind{{HostPath: filepath.Join(dir, "data"), Path: "/data"}},
		HostsFile: hosts,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ct.Stop() })
	nginx, err := bed.StartContainer(ctx, bed.ContainerOptions{
		Name:      "synapse-nginx",
		Image:     img,
		Dir:       filepath.Join(dir, "n"),
		SocketDir: filepath.Join(dir, "containers", "synapse-nginx"),
		HostsFile: hosts,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = nginx.Stop() })

	u := &unit{t: t, mem: jujutest.NewMemory("synapse/0"), container: ct, dir: dir,
		addr: fmt.Sprintf("127.%d.%d.2", 100+rand.IntN(100), rand.IntN(250))}
	u.mem.SetLeader(true)
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/"})
	u.mem.AddRelation(charm.PeerEndpoint, "synapse")
	u.mem.SetNetwork(charm.PeerEndpoint, &juju.Network{
		BindAddresses:    []juju.BindAddress{{InterfaceName: "eth0", Addresses: []juju.InterfaceAddress{{Value: u.addr, CIDR: u.addr + "/32"}}}},
		IngressAddresses: []string{u.addr},
	})
	return u
}

func (u *unit) run(event string) {
	u.t.Helper()
	u.runEvent(juju.Event{Name: event, Unit: "synapse/0", App: "synapse", Model: "test"})
}

func (u *unit) runEvent(ev juju.Event) {
	u.t.Helper()
	err := charm.Run(context.Background(), charm.Options{
		Tools:         juju.New(u.mem),
		Event:         ev,
		ContainersDir: filepath.Join(u.dir, "containers"),
		ReadyTimeout:  60 * time.Second,
		Log:           testLog{u.t},
		Exporter:      u.exporter,
		StateFile:     u.stateFile,
		Now:           u.now,
		Backups:       backupcrypt.OpenPGP{},
	})
	require.NoError(u.t, err, "hook %s", ev.Name)
}

func (u *unit) service() *client.ServiceInfo {
	u.t.Helper()
	infos, err := u.container.Client().Services(&client.ServicesOptions{Names: []string{"synapse"}})
	require.NoError(u.t, err)
	require.Len(u.t, infos, 1)
	return infos[0]
}

func (u *unit) file(path string) string {
	u.t.Helper()
	var buf bytes.Buffer
	require.NoError(u.t, u.container.Client().Pull(&client.PullOptions{Path: path, Target: &buf}))
	return buf.String()
}

func (u *unit) health() int {
	resp, err := http.Get("http://" + u.addr + ":8008/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestConfigChangedRunsSynapseAndRestartsOnlyOnChange(t *testing.T) {
	u := newUnit(t)

	u.run("config-changed")
	status := u.mem.UnitStatus()
	require.Equal(t, juju.Active, status.Status, "status: %s", status.Message)
	svc := u.service()
	require.Equal(t, client.StatusActive, svc.Current)
	assert.Equal(t, 200, u.health(), "Synapse answers /health")
	assert.Equal(t, "1.160.0", u.mem.ApplicationVersion(), "workload version from the image")
	hs := u.file("/data/homeserver.yaml")
	assert.Contains(t, hs, "server_name: test.local")
	assert.Contains(t, hs, "public_baseurl: http://test.local/")
	for _, secret := range []string{"signing.key", "macaroon", "registration", "form", "replication"} {
		fi, err := os.Stat(filepath.Join(u.dir, "data", "secrets", secret))
		require.NoError(t, err, secret)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), secret)
	}
	secret, ok := u.mem.SecretByLabel("synapse-secrets")
	require.True(t, ok, "the leader created the application secret")
	assert.Equal(t, "synapse", secret.Owner)
	require.NotEmpty(t, secret.Revisions)
	content := secret.Revisions[len(secret.Revisions)-1]

	// The same hook again restarts nothing.
	u.run("config-changed")
	assert.Equal(t, svc.CurrentSince, u.service().CurrentSince, "a no-op hook restarted synapse")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status)
	u.run("update-status")
	assert.Equal(t, svc.CurrentSince, u.service().CurrentSince)

	// Changing public_baseurl restarts synapse once.
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://chat.test.local/"})
	u.run("config-changed")
	restarted := u.service()
	assert.True(t, restarted.CurrentSince.After(svc.CurrentSince), "synapse restarted")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status)
	assert.Contains(t, u.file("/data/homeserver.yaml"), "public_baseurl: http://chat.test.local/")
	u.run("config-changed")
	assert.Equal(t, restarted.CurrentSince, u.service().CurrentSince, "restarted once, not twice")

	// No secret value ever went through argv.
	for _, argv := range u.mem.Argv() {
		joined := strings.Join(argv, " ")
		for k, v := range content {
			assert.NotContains(t, joined, v, "secret %s in argv", k)
		}
	}
}

func TestBadInputBlocksAndLeavesTheWorkloadRunning(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status)
	running := u.service()

	cases := []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"server_name changed", map[string]any{"server_name": "other.local", "public_baseurl": "http://test.local/"}, "server_name cannot change after the first start (was test.local)"},
		{"invalid server_name", map[string]any{"server_name": "bad name!", "public_baseurl": "http://test.local/"}, "server_name"},
		{"public_baseurl without scheme", map[string]any{"server_name": "test.local", "public_baseurl": "test.local"}, "public_baseurl"},
		{"malformed CSV", map[string]any{"server_name": "test.local", "ip_range_whitelist": "10.0.0.0/8,,x"}, "ip_range_whitelist"},
		{"negative count", map[string]any{"server_name": "test.local", "federation_senders": -2}, "federation_senders"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u.mem.SetConfig(tc.config)
			u.run("config-changed")
			st := u.mem.UnitStatus()
			assert.Equal(t, juju.Blocked, st.Status)
			assert.Contains(t, st.Message, tc.want)
			assert.Equal(t, running.CurrentSince, u.service().CurrentSince, "workload untouched")
			assert.Contains(t, u.file("/data/homeserver.yaml"), "server_name: test.local")
		})
	}

	t.Run("plan from a newer charm revision", func(t *testing.T) {
		u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/"})
		peer := u.mem.RelationIDs(charm.PeerEndpoint)[0]
		bag := u.mem.RelationData(peer, "synapse", true)
		good := bag["plan"]
		bag["plan"] = `{"version":2,"generation":9,"main":"synapse/0","processes":[],"shards":{}}`
		u.mem.SetRelationData(peer, "synapse", true, bag)
		u.run("synapse-peers-relation-changed")
		st := u.mem.UnitStatus()
		assert.Equal(t, juju.Blocked, st.Status)
		assert.Contains(t, st.Message, "newer than this charm understands")
		assert.Equal(t, running.CurrentSince, u.service().CurrentSince, "workload untouched")
		bag["plan"] = good
		u.mem.SetRelationData(peer, "synapse", true, bag)
	})

	t.Run("malformed database relation", func(t *testing.T) {
		u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/"})
		id := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
		u.mem.SetRelationData(id, "postgresql-k8s", true, map[string]string{"username": "u", "password": "p", "endpoints": "{garbage"})
		u.run("database-relation-changed")
		st := u.mem.UnitStatus()
		assert.Equal(t, juju.Blocked, st.Status)
		assert.Contains(t, st.Message, "database relation from postgresql-k8s is malformed")
		assert.Contains(t, st.Message, "endpoints")
		assert.Equal(t, running.CurrentSince, u.service().CurrentSince, "workload untouched")
		assert.Equal(t, "synapse", u.mem.RelationData(id, "synapse", true)["database"], "the request was written")
	})
}

// TestLostSecretIDIsRecovered: if the peer bag loses the secret's ID, the
// leader finds its secret again instead of making a new signing key.
func TestLostSecretIDIsRecovered(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	peer := u.mem.RelationIDs(charm.PeerEndpoint)[0]
	bag := u.mem.RelationData(peer, "synapse", true)
	id := bag["synapse-secret-id"]
	require.NotEmpty(t, id)
	running := u.service().CurrentSince
	delete(bag, "synapse-secret-id")
	u.mem.SetRelationData(peer, "synapse", true, bag)
	u.run("config-changed")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	assert.Equal(t, id, u.mem.RelationData(peer, "synapse", true)["synapse-secret-id"])
	assert.Len(t, u.mem.Secrets(), 1, "no second secret")
	assert.Equal(t, running, u.service().CurrentSince, "same keys, nothing restarted")
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Logf("charm: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}
