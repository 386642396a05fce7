package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// handledBy returns the processes whose Synapse access log shows marker.
func (d *deployment) handledBy(marker string) []string {
	d.t.Helper()
	// Synapse logs a request when it has finished it, which may be just
	// after the client got the answer, and Pebble reads the log
	// asynchronously: wait (with a deadline) for a process to show it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var out []string
		for _, p := range d.plan().Processes {
			c := d.bed.Container(p.Unit, "synapse").Client()
			found := false
			err := c.Logs(&client.LogsOptions{
				Services: []string{workload.ServiceName(p.Name)},
				N:        -1,
				WriteLog: func(e client.LogEntry) error {
					found = found || strings.Contains(e.Message, marker)
					return nil
				},
			})
			require.NoError(d.t, err)
			if found {
				out = append(out, p.Name)
			}
		}
		if len(out) > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// routingAcrossTheCluster: any unit accepts any request; a user's
// /sync lands on the same worker through every unit; main-only and
// stream-writer endpoints reach the main through a worker unit; a dead
// worker's traffic falls back; adding a unit reloads nginx without
// dropping a long-poll (the deployment ends with 4 units).
func routingAcrossTheCluster(t *testing.T, d *deployment) {
	require.Len(t, d.m.Units(), 3)
	alice := d.register("synapse/0", "alice")
	ctx, cancel := context.WithTimeout(d.ctx, 3*time.Minute)
	defer cancel()

	// The same user's sync through each unit lands on one generic worker.
	var handlers []string
	for i, unit := range []string{"synapse/0", "synapse/1", "synapse/2"} {
		marker := fmt.Sprintf("probe%d%d", i, time.Now().UnixNano())
		var out map[string]any
		require.NoError(t, alice.WithBase(d.nginx(unit)).Do(ctx, "GET", "/_matrix/client/v3/sync?timeout=0&"+marker+"=1", nil, &out))
		by := d.handledBy(marker)
		require.Len(t, by, 1, "sync through %s handled by %v", unit, by)
		handlers = append(handlers, by[0])
	}
	assert.True(t, strings.HasPrefix(handlers[0], "generic-"), "sync goes to a generic worker, got %s", handlers[0])
	assert.Equal(t, []string{handlers[0], handlers[0], handlers[0]}, handlers, "sticky by user across units")

	// A main-only admin endpoint and the typing writer (on main) through unit 2.
	bob := d.register("synapse/2", "bob")
	_, err := d.m.RunAction(d.ctx, "synapse/2", "promote-user-admin", map[string]any{"username": "bob"})
	require.NoError(t, err)
	marker := fmt.Sprintf("admin%d", time.Now().UnixNano())
	require.NoError(t, bob.Do(ctx, "GET", "/_synapse/admin/v1/server_version?"+marker+"=1", nil, nil))
	assert.Equal(t, []string{"main"}, d.handledBy(marker))
	room, err := bob.CreateRoom(ctx)
	require.NoError(t, err)
	marker = fmt.Sprintf("typing%d", time.Now().UnixNano())
	require.NoError(t, bob.Do(ctx, "PUT", "/_matrix/client/v3/rooms/"+room+"/typing/"+bob.UserID+"?"+marker+"=1",
		map[string]any{"typing": true, "timeout": 5000}, nil))
	assert.Equal(t, []string{"main"}, d.handledBy(marker), "typing goes to its writer")

	// Replication is never reachable through nginx.
	err = bob.Do(ctx, "GET", "/_synapse/replication/get_repl_stream_updates/events", nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404")

	// Kill alice's sync worker: her syncs still succeed, through fallback.
	var dead string
	for _, p := range d.plan().Processes {
		if p.Name == handlers[0] {
			dead = p.Unit
		}
	}
	pc := d.bed.Container(dead, "synapse").Client()
	id, err := pc.Stop(&client.ServiceOptions{Names: []string{workload.ServiceName(handlers[0])}})
	require.NoError(t, err)
	_, err = pc.WaitChange(id, &client.WaitChangeOptions{Timeout: time.Minute})
	require.NoError(t, err)
	for _, unit := range []string{"synapse/0", "synapse/1", "synapse/2"} {
		_, err := alice.WithBase(d.nginx(unit)).Sync(ctx, "", 0)
		require.NoError(t, err, "sync through %s with its worker down", unit)
	}
	// The charm heals it on the next hook.
	d.m.UpdateStatus()
	d.waitIdle()
	d.processHealth()

	// A long-poll through unit 0 survives the nginx reload that adding a
	// unit causes.
	first, err := alice.WithBase(d.nginx("synapse/0")).Sync(ctx, "", 0)
	require.NoError(t, err)
	polled := make(chan error, 1)
	go func() {
		_, err := alice.WithBase(d.nginx("synapse/0")).Sync(ctx, first.NextBatch, 15*time.Second)
		polled <- err
	}()
	before := d.m.PebbleSnapshot(d.ctx)
	require.NoError(t, d.m.Scale(d.ctx, 4))
	d.waitIdle()
	d.requireActive()
	require.NoError(t, <-polled, "the in-flight long-poll was not dropped")
	for unit, containers := range d.m.PebbleSnapshot(d.ctx) {
		if old, ok := before[unit]; ok {
			assert.Equal(t, old["synapse-nginx"].Services, containers["synapse-nginx"].Services, "nginx on %s reloaded, not restarted", unit)
		}
	}
}
