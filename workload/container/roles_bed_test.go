package container_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// TestEveryRoleLoadsAndStartsWithTheImagesSynapse renders one unit holding
// the main and one slot of every role of the table, with PostgreSQL and
// Redis, and shows that the image's Synapse accepts each process's files;
// then, with a real PostgreSQL and Redis, that every process starts and
// passes its ready check, and that starting the workers after the main
// restarts nothing.
func TestEveryRoleLoadsAndStartsWithTheImagesSynapse(t *testing.T) {
	bed.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := bed.Image(ctx)
	require.NoError(t, err)
	dir, err := os.MkdirTemp("/tmp", "rl") // short: a Pebble socket lives in it
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })

	t0 := time.Now()
	pg, err := bed.StartPostgres(ctx, filepath.Join(dir, "pg"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, pg.Stop()) })
	require.NoError(t, pg.CreateRole(ctx, "synapse", "dbpass", false))
	require.NoError(t, pg.CreateDatabase(ctx, "synapse", "synapse", true))
	redis, err := bed.StartRedis(ctx, filepath.Join(dir, "redis"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, redis.Stop()) })
	t.Logf("postgres and redis ready: %v", time.Since(t0).Round(time.Millisecond))

	// The unit's own loopback address, reached by its stable DNS name.
	addr := fmt.Sprintf("127.0.%d.%d", 1+rand.IntN(250), 2+rand.IntN(250))
	const unitHost = "synapse-0.synapse-endpoints.bed.svc.cluster.local"
	hosts := filepath.Join(dir, "hosts")
	require.NoError(t, os.WriteFile(hosts, fmt.Appendf(nil, "127.0.0.1 localhost\n%s %s\n", addr, unitHost), 0o644))
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	ct, err := bed.StartContainer(ctx, bed.ContainerOptions{
		Name: "synapse", Image: img, Dir: filepath.Join(dir, "c"),
		Binds: []bed.Bind{{HostPath: data, Path: "/data"}}, HostsFile: hosts,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ct.Stop() })
	pc := ct.Client()

	cluster := &workload.Cluster{Processes: []workload.ClusterProcess{{Name: "main", Role: workload.RoleMain, Host: unitHost}}}
	for i, spec := range workload.Roles {
		cluster.Processes = append(cluster.Processes, workload.ClusterProcess{
			Name: string(spec.Role) + "-1", Role: spec.Role, Host: unitHost, Index: i + 1,
		})
	}
	cfg, err := config.Parse(map[string]any{"server_name": "roles.test"})
	require.NoError(t, err)
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	render := func(local []workload.ClusterProcess) workload.Container {
		out, err := workload.RenderSynapse(workload.SynapseInput{
			Homeserver: workload.Homeserver{
				Config: cfg, PublicBaseURL: "https://roles.test/", BindAddress: addr,
				Postgres: &relations.Database{Host: pg.Host(), Port: pg.Port(), Name: "synapse", User: "synapse", Password: "dbpass"},
				Redis:    &relations.Redis{Host: redis.Host(), Port: redis.Port()},
				Cluster:  cluster,
			},
			Secrets: secrets,
			Local:   local,
		})
		require.NoError(t, err)
		return out
	}
	want := render(cluster.Processes)
	var services []string
	for name := range want.Layer.Services {
		services = append(services, name)
	}
	sort.Strings(services)
	require.Len(t, services, len(workload.Roles)+1)

	// Synapse loads every process's configuration.
	start := time.Now()
	checks := workload.ConfigChecks(want, workload.Changes{Redefined: services})
	require.Len(t, checks, len(services))
	rejected, err := container.CheckConfig(ctx, pc, want.Files, checks)
	require.NoError(t, err)
	assert.Empty(t, rejected, "Synapse accepts every role's configuration")
	t.Logf("config check of %d processes: %v", len(checks), time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		return
	}

	// The main first: workers refuse a database whose schema it has not
	// created yet.
	start = time.Now()
	mainOnly := render(cluster.Processes[:1])
	_, err = container.Apply(ctx, pc, mainOnly, time.Minute)
	require.NoError(t, err)
	waitReady(ctx, t, pc, mainOnly, 3*time.Minute)
	t.Logf("main ready (fresh PostgreSQL schema): %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	res, err := container.Apply(ctx, pc, want, 2*time.Minute)
	require.NoError(t, err)
	assert.Empty(t, res.Restarted, "adding workers restarts no running process")
	assert.Len(t, res.Started, len(workload.Roles))
	waitReady(ctx, t, pc, want, 5*time.Minute)
	t.Logf("%d workers ready: %v", len(workload.Roles), time.Since(start).Round(time.Millisecond))

	// Only the media worker serves media: the main and every other worker
	// do not load the media repository (401 asks for a token; 404 is no
	// such endpoint).
	for _, p := range cluster.Processes {
		spec, _ := workload.Spec(p.Role)
		if p.Role != workload.RoleMain && !slices.Contains(spec.Resources, "client") {
			continue
		}
		httpPort, _, _ := workload.Ports(p.Index)
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/_matrix/client/v1/media/config", addr, httpPort))
		require.NoError(t, err)
		resp.Body.Close()
		want := http.StatusNotFound
		if spec.LoadsMedia {
			want = http.StatusUnauthorized
		}
		assert.Equal(t, want, resp.StatusCode, "%s media config", p.Name)
	}
}

// waitReady waits, as the charm does, until every ready check of want
// passes (Pebble's state and a probe of its URL), failing the test with
// the logs of the processes still not ready at the deadline.
func waitReady(ctx context.Context, t *testing.T, pc *client.Client, want workload.Container, timeout time.Duration) {
	t.Helper()
	r, err := container.WaitReady(ctx, pc, want, &http.Client{Timeout: 3 * time.Second}, timeout)
	require.NoError(t, err)
	if len(r.NotReady) == 0 && len(r.Failed) == 0 {
		return
	}
	for _, name := range append(r.Failed, r.NotReady...) {
		svc := strings.TrimSuffix(name, "-ready")
		logs, _ := serviceLogTail(pc, svc)
		t.Logf("%s log tail:\n%s", svc, logs)
	}
	t.Fatalf("not ready after %v: failed %v, not ready %v", timeout, r.Failed, r.NotReady)
}

// serviceLogTail returns the last lines Pebble holds of a service's output.
func serviceLogTail(pc *client.Client, service string) (string, error) {
	var out string
	err := pc.Logs(&client.LogsOptions{Services: []string{service}, N: 20, WriteLog: func(e client.LogEntry) error {
		out += e.Message
		return nil
	}})
	return out, err
}
