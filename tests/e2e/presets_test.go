package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// TestOneOfEachOnFourUnits: four units with the "one-of-each" preset run
// a writer for every stream Synapse lets leave the main, and every
// worker-capable feature works through every unit: what a user does on
// one unit, another user sees through another. Then each kind of change
// restarts exactly the processes the role table names.
func TestOneOfEachOnFourUnits(t *testing.T) {
	d := newDeployment(t, 1)
	d.integrate("postgresql")
	d.integrate("redis")
	d.integrate("s3")
	require.NoError(t, d.m.Scale(d.ctx, 4))
	d.waitIdle()
	d.requireActive()

	before := d.m.PebbleSnapshot(d.ctx)
	old := d.plan()
	require.NoError(t, d.m.ConfigSet(map[string]string{"workers_preset": "one-of-each", "max_processes_per_unit": "7"}))
	d.waitIdle()
	msgs := d.requireActive()
	p := d.plan()
	for _, u := range sortedKeys(msgs) {
		t.Logf("%s: %s", u, msgs[u])
	}
	t.Logf("one-of-each: %d processes; the change restarted %d of the %d that ran (%s)",
		len(p.Processes), len(restartedProcesses(before, d.m.PebbleSnapshot(d.ctx))), len(old.Processes), expectRestarts(old, p).why)
	require.Empty(t, p.Deferred, "every slot of the preset fits on 4 units of 7")
	for _, spec := range workload.Roles {
		if spec.Role == workload.RoleThreadSubs {
			continue // its endpoints are off in the charm's Synapse
		}
		assert.NotEmpty(t, p.Holders(spec.Role), "a %s process runs", spec.Role)
	}
	d.processHealth()
	assert.Equal(t, planServices(p), d.services(), "each unit runs exactly what the plan gives it")

	exerciseStreams(t, d)

	// Each change restarts what the role table says, and nothing else.
	for _, change := range []map[string]string{
		{"worker_counts": "sync=2"}, // a reader: routing only
		{"pushers": "2"},            // main and pushers
		{"federation_senders": "2"}, // main and senders, stopped together
		{"worker_counts": "sync=1"}, // a reader leaves: routing only
	} {
		before := d.m.PebbleSnapshot(d.ctx)
		old := d.plan()
		require.NoError(t, d.m.ConfigSet(change))
		d.waitIdle()
		d.requireActive()
		now := d.plan()
		got := restartedProcesses(before, d.m.PebbleSnapshot(d.ctx))
		want := expectRestarts(old, now)
		t.Logf("%v: restarted %d of %d processes %v (role table: %s)", change, len(got), len(old.Processes), got, want.why)
		assert.Equal(t, want.names, got, "%v restarts what the role table names", change)
		d.processHealth()
	}
}

// restarts is what the role table says a plan change restarts.
type restarts struct {
	names []string
	why   string
}

// expectRestarts derives, from the role table, which processes of old a
// change to now restarts: everyone when a RestartAll role's holders
// changed, else the main and the holders of each RestartMainAndHolders
// role whose holders changed; readers change routing only.
func expectRestarts(old, now topology.Plan) restarts {
	holders := func(p topology.Plan, r workload.Role) []string {
		var out []string
		for _, proc := range p.Processes {
			if proc.Role == r {
				out = append(out, proc.Name+"@"+proc.Unit)
			}
		}
		return out
	}
	set := map[string]bool{}
	var why []string
	for _, spec := range workload.Roles {
		if slices.Equal(holders(old, spec.Role), holders(now, spec.Role)) {
			continue
		}
		why = append(why, fmt.Sprintf("%s changed (%s)", spec.Role, spec.Restart))
		for _, proc := range old.Processes {
			switch {
			case spec.Restart == workload.RestartAll:
				set[proc.Name] = true
			case spec.Restart == workload.RestartMainAndHolders && (proc.Role == workload.RoleMain || proc.Role == spec.Role):
				set[proc.Name] = true
			}
		}
	}
	// A process that left the plan stopped; it did not restart.
	names := []string{}
	for _, proc := range now.Processes {
		if set[proc.Name] {
			names = append(names, proc.Name)
		}
	}
	sort.Strings(names)
	return restarts{names: names, why: strings.Join(why, ", ")}
}

// restartedProcesses names the Synapse processes that restarted between
// two snapshots.
func restartedProcesses(before, after sim.PebbleSnapshot) []string {
	out := []string{}
	for key := range sim.Restarts(before, after) {
		i := strings.Index(key, "/synapse/")
		if i < 0 {
			continue // nginx and its exporter reload, never restart
		}
		svc := key[i+len("/synapse/"):]
		name, ok := strings.CutPrefix(svc, "synapse-")
		if svc == workload.MainService {
			name, ok = "main", true
		}
		if ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// exerciseStreams has two users use every stream-writer feature through
// every unit: what alice does through unit i, bob sees through unit i+1,
// and the request reached the stream's writer.
func exerciseStreams(t *testing.T, d *deployment) {
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Minute)
	defer cancel()
	units := []string{"synapse/0", "synapse/1", "synapse/2", "synapse/3"}
	alice := d.register(units[0], "alice")
	bob := d.register(units[1], "bob")
	room, err := alice.CreateRoom(ctx, bob.UserID)
	require.NoError(t, err)
	require.NoError(t, bob.Join(ctx, room))
	through := func(c *matrix.Client, i int) *matrix.Client { return c.WithBase(d.nginx(units[i%len(units)])) }

	// A long-poll sync through one unit sees a message sent through another.
	first, err := through(bob, 3).Sync(ctx, "", 0)
	require.NoError(t, err)
	polled := make(chan *matrix.SyncResult, 1)
	go func() {
		res, err := through(bob, 3).Sync(ctx, first.NextBatch, 30*time.Second)
		assert.NoError(t, err)
		polled <- res
	}()
	_, err = through(alice, 2).Send(ctx, room, "through unit 2")
	require.NoError(t, err)
	select {
	case res := <-polled:
		require.NotNil(t, res)
		if !slices.Contains(res.Messages(room), "through unit 2") {
			require.NoError(t, through(bob, 3).WaitForMessage(ctx, room, "through unit 2"))
		}
	case <-ctx.Done():
		t.Fatal("the long-poll never returned")
	}

	// Bob's message, for alice to read (a receipt on one's own event is
	// not news to anyone).
	bobEvent, err := through(bob, 1).Send(ctx, room, "from bob")
	require.NoError(t, err)

	for i, f := range []struct {
		stream string
		writer workload.Role
		act    func(c *matrix.Client, marker string) error
		// sees reports whether bob sees it in the sync from since, and
		// the position to sync from next. Like a client, bob syncs on
		// from each response's next_batch: Synapse answers a repeated
		// /sync with the same since from its response cache for two
		// minutes, so polling one since forever can never see news
		// that reached the process after the first answer.
		sees func(c *matrix.Client, page syncPage) (bool, error)
	}{
		{"typing", workload.RoleTyping,
			func(c *matrix.Client, m string) error {
				return c.Do(ctx, "PUT", "/_matrix/client/v3/rooms/"+room+"/typing/"+c.UserID+"?"+m, map[string]any{"typing": true, "timeout": 30000}, nil)
			},
			func(_ *matrix.Client, page syncPage) (bool, error) {
				return page.ephemeral(room, "m.typing", alice.UserID), nil
			}},
		{"receipts", workload.RoleReceipts,
			func(c *matrix.Client, m string) error {
				return c.Do(ctx, "POST", "/_matrix/client/v3/rooms/"+room+"/receipt/m.read/"+url.PathEscape(bobEvent)+"?"+m, map[string]any{}, nil)
			},
			func(_ *matrix.Client, page syncPage) (bool, error) {
				return page.ephemeral(room, "m.receipt", bobEvent), nil
			}},
		{"to_device", workload.RoleToDevice,
			func(c *matrix.Client, m string) error {
				return c.Do(ctx, "PUT", "/_matrix/client/v3/sendToDevice/org.example.probe/txn"+m+"?"+m, map[string]any{
					"messages": map[string]any{bob.UserID: map[string]any{bob.DeviceID: map[string]any{"probe": m}}},
				}, nil)
			},
			func(_ *matrix.Client, page syncPage) (bool, error) {
				return strings.Contains(fmt.Sprint(page.ToDevice.Events), "org.example.probe"), nil
			}},
		{"presence", workload.RolePresence,
			func(c *matrix.Client, m string) error {
				return c.Do(ctx, "PUT", "/_matrix/client/v3/presence/"+c.UserID+"/status?"+m, map[string]any{"presence": "online", "status_msg": "probing"}, nil)
			},
			func(c *matrix.Client, _ syncPage) (bool, error) {
				var out map[string]any
				if err := c.Do(ctx, "GET", "/_matrix/client/v3/presence/"+alice.UserID+"/status", nil, &out); err != nil {
					return false, err
				}
				return out["status_msg"] == "probing", nil
			}},
		{"account_data", workload.RoleAccountData,
			func(c *matrix.Client, m string) error {
				return c.Do(ctx, "PUT", "/_matrix/client/v3/user/"+c.UserID+"/account_data/org.example.probe?"+m, map[string]any{"seen": "yes"}, nil)
			},
			func(c *matrix.Client, _ syncPage) (bool, error) {
				// Account data is private: alice reads hers through bob's unit.
				var out map[string]any
				err := alice.WithBase(c.BaseURL).Do(ctx, "GET", "/_matrix/client/v3/user/"+alice.UserID+"/account_data/org.example.probe", nil, &out)
				return err == nil && out["seen"] == "yes", nil
			}},
		{"push_rules", workload.RolePushRules,
			func(c *matrix.Client, m string) error {
				return c.Do(ctx, "PUT", "/_matrix/client/v3/pushrules/global/content/probe?"+m, map[string]any{"pattern": "probe", "actions": []any{"notify"}}, nil)
			},
			func(c *matrix.Client, _ syncPage) (bool, error) {
				var out map[string]any
				err := alice.WithBase(c.BaseURL).Do(ctx, "GET", "/_matrix/client/v3/pushrules/global/content/probe", nil, &out)
				return err == nil && out["pattern"] == "probe", nil
			}},
		{"device_lists", workload.RoleDeviceLists,
			func(c *matrix.Client, m string) error {
				// A client uploads its device's keys, then names it.
				keys := map[string]any{"device_keys": map[string]any{
					"user_id": c.UserID, "device_id": c.DeviceID,
					"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
					"keys":       map[string]string{"ed25519:" + c.DeviceID: "probeprobeprobeprobeprobeprobeprobeprobepro"},
					"signatures": map[string]any{c.UserID: map[string]string{"ed25519:" + c.DeviceID: "probesignature"}},
				}}
				if err := c.Do(ctx, "POST", "/_matrix/client/v3/keys/upload?"+m, keys, nil); err != nil {
					return err
				}
				return c.Do(ctx, "PUT", "/_matrix/client/v3/devices/"+c.DeviceID, map[string]any{"display_name": "probe phone"}, nil)
			},
			func(c *matrix.Client, _ syncPage) (bool, error) {
				// bob asks for alice's devices, as a client does before encrypting.
				var out map[string]any
				if err := c.Do(ctx, "POST", "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{alice.UserID: []any{}}}, &out); err != nil {
					return false, err
				}
				return strings.Contains(fmt.Sprint(out), "probe phone"), nil
			}},
	} {
		marker := fmt.Sprintf("%s%d=1", strings.ReplaceAll(f.stream, "_", ""), time.Now().UnixNano())
		observer := through(bob, i+1)
		pos, err := observer.Sync(ctx, "", 0)
		require.NoError(t, err)
		actor := through(alice, i)
		require.NoError(t, f.act(actor, marker), "%s through %s", f.stream, units[i%4])
		name := strings.SplitN(marker, "=", 2)[0]
		assert.Equal(t, d.plan().Holders(f.writer), d.handledBy(name), "%s reached its writer", f.stream)
		deadline := time.Now().Add(30 * time.Second)
		since := pos.NextBatch
		for {
			// A long-poll, as clients do: it returns at news or after 1 s.
			page, err := syncFrom(ctx, observer, since)
			if err == nil {
				since = page.NextBatch
				var ok bool
				if ok, err = f.sees(observer, page); ok {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Errorf("%s done through %s never seen through %s (last error %v)", f.stream, units[i%4], units[(i+1)%4], err)
				break
			}
		}
	}
}

// syncPage is what the stream checks read of one /sync response.
type syncPage struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []map[string]any `json:"events"`
	} `json:"to_device"`
	Rooms struct {
		Join map[string]struct {
			Ephemeral struct {
				Events []map[string]any `json:"events"`
			} `json:"ephemeral"`
		} `json:"join"`
	} `json:"rooms"`
}

// syncFrom is one incremental /sync from since that waits up to a second
// for news.
func syncFrom(ctx context.Context, c *matrix.Client, since string) (syncPage, error) {
	var page syncPage
	err := c.Do(ctx, "GET", "/_matrix/client/v3/sync?timeout=1000&since="+url.QueryEscape(since), nil, &page)
	return page, err
}

// ephemeral reports whether the page shows an ephemeral event of kind in
// room mentioning want.
func (p syncPage) ephemeral(room, kind, want string) bool {
	for _, ev := range p.Rooms.Join[room].Ephemeral.Events {
		if ev["type"] == kind && strings.Contains(fmt.Sprint(ev["content"]), want) {
			return true
		}
	}
	return false
}
