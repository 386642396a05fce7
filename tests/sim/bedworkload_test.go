package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// requireBed skips unless the bed can run here without building anything:
// root, and the workload image already built (tests/bed builds it).
func requireBed(t *testing.T) {
	t.Helper()
	bed.RequireRoot(t)
	if _, err := os.Stat(filepath.Join(bed.ImagePath(), "usr/bin/synapse_homeserver")); err != nil {
		t.Skipf("the bed image %s is not built (go test ./tests/bed builds it)", bed.ImagePath())
	}
}

func containerExec(t *testing.T, c *bed.Container, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	p, err := c.Client().Exec(&client.ExecOptions{Command: args, Stdout: &out, Stderr: &out})
	require.NoError(t, err)
	require.NoError(t, p.Wait(), out.String())
	return out.String()
}

func TestBedWorkloadUnits(t *testing.T) {
	requireBed(t)
	w := &BedWorkload{}
	m := newModel(t, quietCharm, Options{Workload: w, ModelName: "matrix"})
	deploy(t, m, 2)
	for _, u := range []string{"synapse/0", "synapse/1"} {
		names := m.Recorder().HookNames(u)
		assert.Contains(t, names, "synapse-pebble-ready", u)
		assert.Contains(t, names, "synapse-nginx-pebble-ready", u)
	}
	snap := m.PebbleSnapshot(testCtx(t))
	for _, u := range []string{"synapse/0", "synapse/1"} {
		for _, c := range []string{"synapse", "synapse-nginx"} {
			assert.Empty(t, snap[u][c].Error, u+" "+c)
			assert.NotEmpty(t, snap[u][c].BootID, u+" "+c)
		}
	}
	// The charm finds each container's socket where it looks for it.
	u0 := mustUnit(t, m, "synapse/0")
	_, err := os.Stat(filepath.Join(u0.ContainersDir, "synapse", "pebble.socket"))
	require.NoError(t, err)

	// Every unit's name resolves inside every container.
	c := w.Container("synapse/0", "synapse-nginx")
	require.NotNil(t, c)
	u1 := mustUnit(t, m, "synapse/1")
	hosts := containerExec(t, c, "cat", "/etc/hosts")
	assert.Contains(t, hosts, u1.Address+"\tsynapse-1.synapse-endpoints.matrix.svc.cluster.local")
	assert.Contains(t, containerExec(t, c, "getent", "hosts", "synapse-1.synapse-endpoints"), u1.Address)

	// Storage survives a container restart; the rest of the filesystem and
	// the Pebble do not.
	syn := w.Container("synapse/0", "synapse")
	containerExec(t, syn, "sh", "-c", "echo kept > /data/marker && echo lost > /tmp/marker")
	mark := len(m.Recorder().Hooks())
	require.NoError(t, m.RestartContainer(testCtx(t), "synapse/0", "synapse"))
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/0 synapse-pebble-ready"}, hookNames(m, mark))
	assert.Equal(t, "kept\n", containerExec(t, syn, "cat", "/data/marker"))
	assert.Equal(t, "gone\n", containerExec(t, syn, "sh", "-c", "cat /tmp/marker 2>/dev/null || echo gone"))
	after := m.PebbleSnapshot(testCtx(t))
	assert.NotEqual(t, snap["synapse/0"]["synapse"].BootID, after["synapse/0"]["synapse"].BootID)
	assert.Equal(t, snap["synapse/0"]["synapse-nginx"].BootID, after["synapse/0"]["synapse-nginx"].BootID)

	// A unit added later resolves from the containers started before it:
	// the hosts file is rewritten in place.
	require.NoError(t, m.Scale(testCtx(t), 3))
	waitIdle(t, m)
	u2 := mustUnit(t, m, "synapse/2")
	assert.True(t, strings.Contains(containerExec(t, c, "cat", "/etc/hosts"), u2.Address+"\tsynapse-2.synapse-endpoints"))

	// Scaling down stops the removed unit's containers.
	gone := w.Container("synapse/2", "synapse")
	require.NotNil(t, gone)
	require.NoError(t, m.Scale(testCtx(t), 2))
	waitIdle(t, m)
	assert.Nil(t, w.Container("synapse/2", "synapse"))
	_, err = gone.Client().SysInfo()
	assert.Error(t, err, "its Pebble is gone")

	// Close leaves no process and no mount behind.
	var pids []int
	for _, u := range []string{"synapse/0", "synapse/1"} {
		for _, c := range []string{"synapse", "synapse-nginx"} {
			pids = append(pids, w.Container(u, c).PID())
		}
	}
	dir := m.Dir()
	require.NoError(t, m.Close())
	for _, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "pid %d", pid)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), dir)
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the model's directory is removed")
}

func TestPebbleRestartsCounted(t *testing.T) {
	before := PebbleSnapshot{"synapse/0": {"synapse": {BootID: "a", Services: []ServiceState{
		{Name: "synapse", Current: "active", CurrentSince: mustTime("2026-01-01T00:00:00Z")},
		{Name: "worker", Current: "active", CurrentSince: mustTime("2026-01-01T00:00:00Z")},
		{Name: "idle", Current: "inactive"},
	}}}}
	after := PebbleSnapshot{"synapse/0": {"synapse": {BootID: "a", Services: []ServiceState{
		{Name: "synapse", Current: "active", CurrentSince: mustTime("2026-01-01T00:00:00Z")},
		{Name: "worker", Current: "active", CurrentSince: mustTime("2026-01-01T00:05:00Z")},
		{Name: "idle", Current: "active", CurrentSince: mustTime("2026-01-01T00:05:00Z")},
	}}}}
	assert.Equal(t, map[string]int{"synapse/0/synapse/worker": 1}, Restarts(before, after))
	after["synapse/0"]["synapse"] = ContainerState{BootID: "b", Services: after["synapse/0"]["synapse"].Services}
	assert.Equal(t, map[string]int{"synapse/0/synapse/synapse": 1, "synapse/0/synapse/worker": 1}, Restarts(before, after))
}
