// Package e2e runs the built charm binary as dispatch, driven by the Juju
// unit-agent simulator (tests/sim), on the real stack (tests/bed): real
// Pebble in each unit's containers, real Synapse and nginx, PostgreSQL,
// Redis and S3. A Matrix client checks what a user would check.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// charmBinary is the unpacked archive's dispatch, charmRoot the directory
// it was unpacked into (metadata.yaml, config.yaml, actions.yaml).
var charmBinary, charmRoot string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("tests/e2e needs root (namespaces, mounts, chroot); skipping")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "e2e-charm")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The tests deploy what an operator deploys: synapse.charm as
	// cmd/pack-charm builds it, unpacked as Juju unpacks it.
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	archive := filepath.Join(dir, "synapse.charm")
	if err := sim.PackCharm(context.Background(), root, archive); err != nil {
		fmt.Printf("build the charm: %v\n", err)
		return 1
	}
	charmRoot = filepath.Join(dir, "charm")
	if err := charmarchive.Unpack(archive, charmRoot); err != nil {
		fmt.Printf("unpack the charm: %v\n", err)
		return 1
	}
	charmBinary = filepath.Join(charmRoot, "dispatch")
	return m.Run()
}

// deployment is one simulated model with the bed's servers behind the
// simulated provider charms.
type deployment struct {
	t     testing.TB
	ctx   context.Context
	m     *sim.Model
	dir   string
	pg    *bed.Postgres
	redis *bed.Redis
	s3    *bed.S3
	rels  map[string]int
	bed   *sim.BedWorkload
}

// newDeployment deploys units; tune, if given, adjusts the simulator's
// options (a Juju behaviour or fault) before the model is created.
func newDeployment(t testing.TB, units int, tune ...func(*sim.Options)) *deployment {
	t.Helper()
	bed.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	dir, err := os.MkdirTemp("/tmp", "e2e")
	require.NoError(t, err)
	d := &deployment{t: t, ctx: ctx, dir: dir, rels: map[string]int{}, bed: &sim.BedWorkload{}}
	opts := sim.Options{
		Charm:     charmBinary,
		CharmRoot: charmRoot,
		Dir:       filepath.Join(dir, "m"),
		Workload:  d.bed,
		Logf:      t.Logf,
	}
	for _, f := range tune {
		f(&opts)
	}
	m, err := sim.New(ctx, opts)
	require.NoError(t, err)
	d.m = m
	t.Cleanup(func() {
		if t.Failed() {
			d.dumpLogs()
		}
		_ = m.Close()
		d.stopServers()
		os.RemoveAll(dir)
	})
	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "test.local"}))
	require.NoError(t, m.Deploy(ctx, units))
	d.waitIdle()
	return d
}

func (d *deployment) stopServers() {
	if d.s3 != nil {
		_ = d.s3.Stop()
	}
	if d.redis != nil {
		_ = d.redis.Stop()
	}
	if d.pg != nil {
		_ = d.pg.Stop()
	}
}

// dumpLogs prints each container's Pebble log tail, to diagnose a failure.
func (d *deployment) dumpLogs() {
	for _, u := range d.m.Units() {
		for _, name := range []string{"synapse", "synapse-nginx"} {
			log := filepath.Join(u.Dir, "containers", name)
			d.t.Logf("%s %s: containers dir %s", u.Name, name, log)
		}
		d.t.Logf("%s: %s %q", u.Name, u.WorkloadStatus.Status, u.WorkloadStatus.Message)
	}
}

func (d *deployment) waitIdle() {
	d.t.Helper()
	require.NoError(d.t, d.m.WaitIdle(d.ctx))
}

func (d *deployment) integrate(app string) {
	d.t.Helper()
	remote, endpoint := d.provider(app)
	d.integrateWith(app, remote, endpoint)
}

// provider builds the simulated provider charm for app ("postgresql",
// "redis" or "s3") on the bed's server, starting the server on first use.
func (d *deployment) provider(app string) (sim.RemoteApp, string) {
	d.t.Helper()
	var err error
	switch app {
	case "postgresql":
		if d.pg == nil {
			d.pg, err = bed.StartPostgres(d.ctx, filepath.Join(d.dir, "pg"))
			require.NoError(d.t, err)
		}
		return &sim.PostgreSQL{Server: d.pg}, "database"
	case "redis":
		if d.redis == nil {
			d.redis, err = bed.StartRedis(d.ctx, filepath.Join(d.dir, "redis"))
			require.NoError(d.t, err)
		}
		return &sim.Redis{Server: d.redis}, "redis"
	case "s3":
		if d.s3 == nil {
			d.s3, err = bed.StartS3(d.ctx, filepath.Join(d.dir, "s3"))
			require.NoError(d.t, err)
		}
		return &sim.S3Integrator{Track: 1, Server: d.s3, Bucket: "synapse-media", EnsureBucket: true}, "media"
	}
	d.t.Fatalf("unknown app %s", app)
	return nil, ""
}

// integrateWith integrates remote on endpoint and waits until idle.
func (d *deployment) integrateWith(app string, remote sim.RemoteApp, endpoint string) {
	d.t.Helper()
	id, err := d.m.Integrate(d.ctx, remote, endpoint)
	require.NoError(d.t, err)
	d.rels[app] = id
	d.waitIdle()
}

func (d *deployment) removeRelation(app string) {
	d.t.Helper()
	require.NoError(d.t, d.m.RemoveRelation(d.ctx, d.rels[app]))
	delete(d.rels, app)
	d.waitIdle()
}

// requireActive asserts every unit is active and returns their messages.
func (d *deployment) requireActive() map[string]string {
	d.t.Helper()
	msgs := map[string]string{}
	for _, u := range d.m.Units() {
		require.Equal(d.t, "active", u.WorkloadStatus.Status, "%s: %s", u.Name, u.WorkloadStatus.Message)
		msgs[u.Name] = u.WorkloadStatus.Message
	}
	return msgs
}

func (d *deployment) unit(name string) sim.UnitView {
	d.t.Helper()
	u, ok := d.m.Unit(name)
	require.True(d.t, ok, "no unit %s", name)
	return u
}

// nginx is the URL of a unit's router, where the ingress sends traffic.
func (d *deployment) nginx(name string) string {
	return "http://" + d.unit(name).Address + ":8080"
}

// plan reads the cluster plan the leader published.
func (d *deployment) plan() topology.Plan {
	d.t.Helper()
	rel, ok := d.m.RelationOn("synapse-peers")
	require.True(d.t, ok)
	p, err := topology.Decode(rel.AppData["plan"])
	require.NoError(d.t, err)
	return *p
}

// register creates a user through the register-user action on unit and
// logs it in through that unit's nginx.
func (d *deployment) register(unit, username string) *matrix.Client {
	d.t.Helper()
	res, err := d.m.RunAction(d.ctx, unit, "register-user", map[string]any{"username": username})
	require.NoError(d.t, err)
	require.Equal(d.t, "completed", res.Status, "register-user: %s %s", res.Message, res.Output)
	password, _ := res.Results["user-password"].(string)
	require.NotEmpty(d.t, password)
	c := matrix.New(d.nginx(unit))
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	require.NoError(d.t, c.Login(ctx, username, password))
	return c
}

// processHealth asserts Synapse's own /health on every process of the plan.
func (d *deployment) processHealth() {
	d.t.Helper()
	for _, p := range d.plan().Processes {
		port, _, _ := workload.Ports(p.Index)
		url := fmt.Sprintf("http://%s:%d/health", d.unit(p.Unit).Address, port)
		resp, err := http.Get(url)
		require.NoError(d.t, err, "%s on %s", p.Name, p.Unit)
		resp.Body.Close()
		require.Equal(d.t, 200, resp.StatusCode, "%s on %s", p.Name, p.Unit)
	}
}

// services lists the active Pebble services of the synapse container of
// each unit.
func (d *deployment) services() map[string][]string {
	out := map[string][]string{}
	for unit, containers := range d.m.PebbleSnapshot(d.ctx) {
		for _, svc := range containers["synapse"].Services {
			if svc.Current == "active" {
				out[unit] = append(out[unit], svc.Name)
			}
		}
		sort.Strings(out[unit])
	}
	return out
}

// planServices is what the plan says each unit runs.
func planServices(p topology.Plan) map[string][]string {
	out := map[string][]string{}
	for _, proc := range p.Processes {
		out[proc.Unit] = append(out[proc.Unit], workload.ServiceName(proc.Name))
	}
	for u := range out {
		sort.Strings(out[u])
	}
	return out
}

// smoke runs the Matrix smoke test through base: log in, create a room,
// send, sync, upload and download media.
func smoke(t testing.TB, ctx context.Context, c *matrix.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	versions, err := c.Versions(ctx)
	require.NoError(t, err)
	require.Contains(t, versions, "v1.11")
	room, err := c.CreateRoom(ctx)
	require.NoError(t, err)
	text := "hello " + strings.ReplaceAll(t.Name(), "/", " ")
	_, err = c.Send(ctx, room, text)
	require.NoError(t, err)
	require.NoError(t, c.WaitForMessage(ctx, room, text))
	mxc, err := c.Upload(ctx, "a.txt", "text/plain", []byte("media for "+t.Name()))
	require.NoError(t, err)
	data, err := c.Download(ctx, mxc)
	require.NoError(t, err)
	require.Equal(t, "media for "+t.Name(), string(data))
}

// counters returns the hooks run and hook-tool calls made so far, over all
// units.
func (d *deployment) counters() (hooks, tools int) {
	for unit, n := range d.m.Recorder().HookCounts() {
		hooks += n
		tools += d.m.Recorder().ToolCallCount(unit, "")
	}
	return hooks, tools
}
