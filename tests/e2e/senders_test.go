package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// federationSendersRestartTogether: changing federation_senders from
// 1 to 2 stops every sender before any sender of the new set starts
// (Synapse's rule), across units, and messages keep flowing.
func federationSendersRestartTogether(t *testing.T, d *deployment) {
	d.leaderOnMain()
	alice := d.register("synapse/1", "carol")
	bob := d.register("synapse/2", "dave")
	ctx, cancel := context.WithTimeout(d.ctx, 3*time.Minute)
	defer cancel()
	room, err := alice.CreateRoom(ctx, bob.UserID)
	require.NoError(t, err)
	require.NoError(t, bob.Join(ctx, room))

	before := d.plan()
	oldSenders := map[string]string{}
	for _, p := range before.Processes {
		if p.Role == workload.RoleFederationSend {
			oldSenders[p.Name] = p.Unit
		}
	}
	require.Len(t, oldSenders, 1)
	changeStart := time.Now()
	require.NoError(t, d.m.ConfigSet(map[string]string{"federation_senders": "2"}))
	d.waitIdle()
	d.requireActive()
	after := d.plan()
	assert.Greater(t, after.SendersEpoch, before.SendersEpoch)

	// When did the old set stop? The last stop of each old sender.
	var lastStop time.Time
	for name, unit := range oldSenders {
		changes, err := d.bed.Container(unit, "synapse").Client().Changes(&client.ChangesOptions{Selector: client.ChangesAll})
		require.NoError(t, err)
		for _, ch := range changes {
			if ch.Kind == "stop" && strings.Contains(ch.Summary, workload.ServiceName(name)) && ch.SpawnTime.After(changeStart) && ch.ReadyTime.After(lastStop) {
				lastStop = ch.ReadyTime
			}
		}
	}
	require.False(t, lastStop.IsZero(), "the old sender was stopped, not restarted in place")
	snap := d.m.PebbleSnapshot(d.ctx)
	senders := 0
	for _, p := range after.Processes {
		if p.Role != workload.RoleFederationSend {
			continue
		}
		senders++
		for _, svc := range snap[p.Unit]["synapse"].Services {
			if svc.Name == workload.ServiceName(p.Name) {
				assert.Equal(t, "active", svc.Current, p.Name)
				assert.True(t, svc.CurrentSince.After(lastStop), "%s on %s started at %s, before the old set stopped at %s", p.Name, p.Unit, svc.CurrentSince, lastStop)
			}
		}
	}
	assert.Equal(t, 2, senders)

	_, err = alice.Send(ctx, room, "after the senders changed")
	require.NoError(t, err)
	require.NoError(t, bob.WaitForMessage(ctx, room, "after the senders changed"))
}
