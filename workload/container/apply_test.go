package container_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

func startPebble(t *testing.T) *client.Client { return bed.StartHostPebble(t) }

func serviceSince(t *testing.T, pc *client.Client, name string) (client.ServiceStatus, time.Time) {
	t.Helper()
	infos, err := pc.Services(&client.ServicesOptions{Names: []string{name}})
	require.NoError(t, err)
	require.Len(t, infos, 1)
	return infos[0].Current, infos[0].CurrentSince
}

// desired builds a desired state of two services, each reading one file.
func desired(dir, aContent, bContent string) workload.Container {
	a := workload.File{Path: filepath.Join(dir, "conf", "a.yaml"), Content: []byte(aContent), Mode: 0o644}
	b := workload.File{Path: filepath.Join(dir, "secrets", "b"), Content: []byte(bContent), Mode: 0o600}
	svc := func(f workload.File) workload.Service {
		return workload.Service{
			Override:    "replace",
			Command:     "/bin/sleep 3600",
			Startup:     "enabled",
			Environment: map[string]string{"SYNAPSE_CHARM_CONFIG_HASH": workload.HashFiles([]workload.File{f})},
		}
	}
	return workload.Container{
		Name:  "test",
		Files: []workload.File{a, b},
		Layer: workload.Layer{Services: map[string]workload.Service{"svc-a": svc(a), "svc-b": svc(b)}},
	}
}

func TestApplyRestartsOnlyWhatChanged(t *testing.T) {
	bed.RequireRoot(t)
	ctx := context.Background()
	pc := startPebble(t)
	dir := t.TempDir()

	res, err := container.Apply(ctx, pc, desired(dir, "a: 1\n", "secret-b"), time.Minute)
	require.NoError(t, err)
	assert.Len(t, res.Pushed, 2)
	assert.True(t, res.LayerChanged)
	assert.Equal(t, []string{"svc-a", "svc-b"}, res.Started)
	statusA, sinceA := serviceSince(t, pc, "svc-a")
	statusB, sinceB := serviceSince(t, pc, "svc-b")
	require.Equal(t, client.StatusActive, statusA)
	require.Equal(t, client.StatusActive, statusB)
	info, err := os.Stat(filepath.Join(dir, "secrets", "b"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "secret file mode")

	// The same desired state again: nothing pushed, nothing restarted.
	res, err = container.Apply(ctx, pc, desired(dir, "a: 1\n", "secret-b"), time.Minute)
	require.NoError(t, err)
	assert.False(t, res.Changed(), "no-op apply changed %+v", res)
	_, again := serviceSince(t, pc, "svc-a")
	assert.Equal(t, sinceA, again)

	// Change only a's file: a restarts once, b keeps running.
	res, err = container.Apply(ctx, pc, desired(dir, "a: 2\n", "secret-b"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "conf", "a.yaml")}, res.Pushed)
	assert.Equal(t, []string{"svc-a"}, res.Restarted)
	assert.Empty(t, res.Started)
	statusA, newSinceA := serviceSince(t, pc, "svc-a")
	assert.Equal(t, client.StatusActive, statusA)
	assert.True(t, newSinceA.After(sinceA), "svc-a restarted")
	_, newSinceB := serviceSince(t, pc, "svc-b")
	assert.Equal(t, sinceB, newSinceB, "svc-b untouched")

	// A file whose mode drifted is rewritten.
	require.NoError(t, os.Chmod(filepath.Join(dir, "secrets", "b"), 0o644))
	res, err = container.Apply(ctx, pc, desired(dir, "a: 2\n", "secret-b"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "secrets", "b")}, res.Pushed)

	// A stale file in a pruned directory is removed; wanted files stay.
	pruned := desired(dir, "a: 2\n", "secret-b")
	pruned.PruneDirs = []string{filepath.Join(dir, "secrets")}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "old-credentials"), []byte("x"), 0o600))
	res, err = container.Apply(ctx, pc, pruned, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "secrets", "old-credentials")}, res.Removed)
	assert.NoFileExists(t, filepath.Join(dir, "secrets", "old-credentials"))
	assert.FileExists(t, filepath.Join(dir, "secrets", "b"))

	// A service no longer desired is disabled and stopped, the other stays.
	onlyA := desired(dir, "a: 2\n", "secret-b")
	delete(onlyA.Layer.Services, "svc-b")
	res, err = container.Apply(ctx, pc, onlyA, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"svc-b"}, res.Stopped)
	statusB, _ = serviceSince(t, pc, "svc-b")
	assert.Equal(t, client.StatusInactive, statusB)
	_, stillA := serviceSince(t, pc, "svc-a")
	assert.Equal(t, newSinceA, stillA, "svc-a untouched by removing svc-b")

	// And stays stopped on the next apply.
	res, err = container.Apply(ctx, pc, onlyA, time.Minute)
	require.NoError(t, err)
	assert.False(t, res.Changed(), "%+v", res)
	statusB, _ = serviceSince(t, pc, "svc-b")
	assert.Equal(t, client.StatusInactive, statusB)
}

func TestApplyRestartsAServiceThatDied(t *testing.T) {
	bed.RequireRoot(t)
	ctx := context.Background()
	pc := startPebble(t)
	dir := t.TempDir()
	want := desired(dir, "a\n", "b")
	_, err := container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)
	id, err := pc.Stop(&client.ServiceOptions{Names: []string{"svc-a"}})
	require.NoError(t, err)
	_, err = pc.WaitChange(id, &client.WaitChangeOptions{Timeout: time.Minute})
	require.NoError(t, err)

	res, err := container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"svc-a"}, res.Started)
	status, _ := serviceSince(t, pc, "svc-a")
	assert.Equal(t, client.StatusActive, status)
}

func TestReadyProbesTheCheckURL(t *testing.T) {
	bed.RequireRoot(t)
	ctx := context.Background()
	pc := startPebble(t)
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	want := desired(t.TempDir(), "a\n", "b")
	want.Layer.Checks = map[string]workload.Check{
		"ready": {Override: "replace", Level: "ready", Period: "10s", Threshold: 3, HTTP: &workload.HTTPCheck{URL: srv.URL + "/health"}},
	}
	want.ReadyChecks = []string{"ready"}
	_, err := container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)

	r, err := container.Ready(ctx, pc, want, srv.Client())
	require.NoError(t, err)
	assert.Equal(t, []string{"ready"}, r.NotReady, "a 503 is not ready even while Pebble's check is still up")
	r, err = container.ReadyKnown(ctx, pc, want, nil, nil)
	require.NoError(t, err)
	assert.Empty(t, r.NotReady, "without a probe (a hook that restarted nothing) Pebble's check state is trusted")

	healthy.Store(true)
	r, err = container.WaitReady(ctx, pc, want, srv.Client(), 10*time.Second)
	require.NoError(t, err)
	assert.Empty(t, r.NotReady)
	assert.Empty(t, r.Failed)
}

// TestApplyStopsChecksNoLongerWanted: a check the desired state drops (a
// removed worker's, or a dependency no longer used) stops running, since
// Pebble cannot delete it; wanted again, it runs again. A dependency check
// that is down is reported as unreachable.
func TestApplyStopsChecksNoLongerWanted(t *testing.T) {
	bed.RequireRoot(t)
	ctx := context.Background()
	pc := startPebble(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	want := desired(t.TempDir(), "a\n", "b")
	checks := map[string]workload.Check{
		"keep": {Override: "replace", Period: "1s", Threshold: 1, HTTP: &workload.HTTPCheck{URL: srv.URL}},
		"dep":  {Override: "replace", Period: "1s", Threshold: 1, TCP: &workload.TCPCheck{Host: "127.0.0.1", Port: 1}},
	}
	want.Layer.Checks = checks
	want.DependencyChecks = map[string]string{"dep": "Nothing at 127.0.0.1:1"}
	_, err := container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)
	status := func() map[string]client.CheckStatus {
		infos, err := pc.Checks(&client.ChecksOptions{})
		require.NoError(t, err)
		out := map[string]client.CheckStatus{}
		for _, ci := range infos {
			out[ci.Name] = ci.Status
		}
		return out
	}
	require.Eventually(t, func() bool { return status()["dep"] == client.CheckStatusDown }, 20*time.Second, 100*time.Millisecond)
	r, err := container.Ready(ctx, pc, want, srv.Client())
	require.NoError(t, err)
	assert.Equal(t, []string{"Nothing at 127.0.0.1:1"}, r.Unreachable)

	want.Layer.Checks = map[string]workload.Check{"keep": checks["keep"]}
	want.DependencyChecks = nil
	res, err := container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)
	assert.True(t, res.LayerChanged)
	assert.Equal(t, client.CheckStatusInactive, status()["dep"], "a dropped check stops")
	assert.Equal(t, client.CheckStatusUp, status()["keep"])
	res, err = container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)
	assert.False(t, res.Changed(), "stopping it once is enough")

	want.Layer.Checks = checks
	_, err = container.Apply(ctx, pc, want, time.Minute)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return status()["dep"] == client.CheckStatusDown }, 20*time.Second, 100*time.Millisecond, "wanted again, it runs again")
}
