package decide_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func TestNoOpHookRestartsNothing(t *testing.T) {
	leader, worker := ttTwoUnits(t, nil)
	for name, s := range map[string]decide.Snapshot{"single unit": ttReady(t), "cluster main": leader, "worker unit": worker} {
		t.Run(name, func(t *testing.T) {
			for _, kind := range []string{"update-status", "config-changed", "synapse-peers-relation-changed", "pebble-ready"} {
				s.Event.Kind = kind
				d := decide.Decide(s)
				for _, p := range []*decide.ContainerPlan{d.Synapse, d.Nginx} {
					require.NotNil(t, p)
					assert.Nil(t, p.Changes.Layer, "%s: %s layer unchanged", kind, p.Want.Name)
					assert.Empty(t, p.Changes.Stop, kind)
					assert.Empty(t, p.Changes.Restart, kind)
					assert.Empty(t, p.Changes.Start, kind)
				}
				assert.Empty(t, d.Writes, kind)
			}
		})
	}
}

func TestChangedConfigRestartsExactlyItsReaders(t *testing.T) {
	t.Run("public_baseurl restarts synapse once, not nginx", func(t *testing.T) {
		s := ttReady(t)
		s.Config = ttConfig(t, map[string]any{"public_baseurl": "http://chat.test.local/"})
		d := decide.Decide(s)
		assert.Equal(t, []string{workload.MainService}, d.Synapse.Changes.Restart)
		assert.Empty(t, d.Nginx.Changes.Restart)
		assert.Contains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "public_baseurl: http://chat.test.local/")
		next := ttApply(t, s, d)
		assert.Empty(t, decide.Decide(next).Synapse.Changes.Restart, "restarted once, not twice")
	})
	t.Run("on a worker unit every process reading homeserver.yaml restarts", func(t *testing.T) {
		_, worker := ttTwoUnits(t, nil)
		before := decide.Decide(worker)
		worker.Config = ttConfig(t, map[string]any{"max_upload_size": "100M", "enable_room_list_search": false})
		d := decide.Decide(worker)
		want := ttServices(ttPlan(t, worker.Peer.App).OnUnit("synapse/1"))
		assert.ElementsMatch(t, want, d.Synapse.Changes.Restart)
		assert.Empty(t, d.Nginx.Changes.Restart, "nginx reloads, never restarts")
		assert.Nil(t, d.Nginx.Changes.Layer)
		assert.Contains(t, d.Nginx.Changes.Reload, workload.NginxService)
		assert.NotEqual(t, ttFile(t, before.Nginx, workload.NginxConfigPath), ttFile(t, d.Nginx, workload.NginxConfigPath))
	})
	t.Run("a media option restarts only the process that loads the media repository", func(t *testing.T) {
		_, worker := ttTwoUnits(t, nil)
		worker.Config = ttConfig(t, map[string]any{"max_upload_size": "100M"})
		d := decide.Decide(worker)
		var want []string
		for _, p := range ttPlan(t, worker.Peer.App).OnUnit("synapse/1") {
			if spec, ok := workload.Spec(p.Role); ok && spec.LoadsMedia {
				want = append(want, workload.ServiceName(p.Name))
			}
		}
		assert.ElementsMatch(t, want, d.Synapse.Changes.Restart, "max_upload_size is read only where media loads")
		assert.Contains(t, d.Nginx.Changes.Reload, workload.NginxService, "nginx's body limit follows it")
	})
	t.Run("a peer's new address reloads nginx and restarts no synapse process", func(t *testing.T) {
		leader, _ := ttTwoUnits(t, nil)
		before := decide.Decide(leader)
		leader.Peer.Units["synapse/1"][relations.PeerKeyIP] = "10.1.0.99"
		d := decide.Decide(leader)
		assert.False(t, ttTouches(d.Synapse))
		assert.False(t, ttTouches(d.Nginx))
		conf := ttFile(t, d.Nginx, workload.NginxConfigPath)
		assert.NotEqual(t, ttFile(t, before.Nginx, workload.NginxConfigPath), conf)
		assert.Contains(t, conf, "10.1.0.99")
	})
	t.Run("a removed worker is stopped", func(t *testing.T) {
		s := ttReady(t)
		s.Database, s.Redis, s.DatabaseLocale, s.SQLite = ttDatabase(), ttRedis(), ttCLocale(), ttEmptySQLite()
		s = ttSettle(t, ttApply(t, s, decide.Decide(s)))
		sender := workload.ServiceName("federation-sender-1")
		require.True(t, s.Synapse.State.Active[sender], "a single unit with PostgreSQL and Redis runs its sender as a worker")
		s.Config = ttConfig(t, map[string]any{"federation_senders": 0})
		d := decide.Decide(s)
		assert.NotContains(t, ttPlan(t, d.Write(ttPeerID, true)).Holders(workload.RoleFederationSend), "federation-sender-1")
		assert.Equal(t, []string{sender}, d.Synapse.Changes.Stop)
		require.NotNil(t, d.Synapse.Changes.Layer)
		assert.Equal(t, "disabled", d.Synapse.Changes.Layer.Services[sender].Startup)
		assert.NotContains(t, d.Synapse.Changes.Restart, sender)
		assert.NotContains(t, d.Synapse.Changes.Start, sender)
		assert.Contains(t, d.Synapse.Changes.StopChecks, workload.ReadyCheckName("federation-sender-1"))
		for _, f := range d.Synapse.Want.Files {
			assert.NotEqual(t, workload.WorkerConfigPath("federation-sender-1"), f.Path, "its config is pruned")
		}
		next := ttApply(t, s, d)
		assert.False(t, ttTouches(decide.Decide(next).Synapse), "stopped once")
	})
	t.Run("a departed Loki unit stops forwarding and restarts nothing", func(t *testing.T) {
		s := ttReady(t)
		s.Logging = &decide.RelationView{ID: "logging:8", RemoteApp: "loki-k8s",
			Units: map[string]map[string]string{"loki-k8s/0": {"endpoint": `{"url": "http://loki:3100/loki/api/v1/push"}`}}}
		d := decide.Decide(s)
		lt := d.Synapse.Want.Layer.LogTargets["loki-k8s/0"]
		assert.Equal(t, "http://loki:3100/loki/api/v1/push", lt.Location)
		assert.Equal(t, "synapse/0", lt.Labels["juju_unit"])
		assert.Empty(t, d.Synapse.Changes.Restart, "a log target is no restart")
		s = ttApply(t, s, d)
		s.Logging = nil
		d = decide.Decide(s)
		require.NotNil(t, d.Synapse.Changes.Layer)
		assert.Equal(t, []string{"-all"}, d.Synapse.Changes.Layer.LogTargets["loki-k8s/0"].Services)
		assert.Empty(t, d.Synapse.Changes.Restart)
	})
}

func TestConclude(t *testing.T) {
	base := func(t *testing.T) decide.Decision {
		return decide.Decide(ttReady(t))
	}
	for _, tc := range []struct {
		name    string
		outcome decide.Outcome
		level   decide.Level
		want    string
		ready   bool
	}{
		{"all ready", decide.Outcome{Synapse: &workload.Readiness{}, Nginx: &workload.Readiness{}}, decide.Active, "main, 1 process", true},
		{"failed process", decide.Outcome{Synapse: &workload.Readiness{Failed: []string{"synapse"}}, Nginx: &workload.Readiness{}}, decide.Blocked,
			"synapse process synapse keeps failing: see juju debug-log or pebble logs", false},
		{"not ready", decide.Outcome{Synapse: &workload.Readiness{NotReady: []string{"synapse-ready"}}, Nginx: &workload.Readiness{}}, decide.Waiting,
			"synapse is starting: synapse-ready not passing yet", false},
		{"failed and not ready", decide.Outcome{Synapse: &workload.Readiness{Failed: []string{"synapse-generic-1"}, NotReady: []string{"synapse-ready"}}}, decide.Blocked,
			"synapse process synapse-generic-1 keeps failing", false},
		{"dependency down", decide.Outcome{Synapse: &workload.Readiness{Unreachable: []string{"PostgreSQL at 10.0.0.5:5432", "Redis at r:6379"}}, Nginx: &workload.Readiness{}}, decide.Waiting,
			"PostgreSQL at 10.0.0.5:5432 and Redis at r:6379 does not answer from the synapse container; Synapse serves what it can until it is back", true},
		{"nginx not ready", decide.Outcome{Synapse: &workload.Readiness{}, Nginx: &workload.Readiness{NotReady: []string{"nginx-ready"}}}, decide.Waiting,
			"nginx is not answering its health check yet", true},
		{"synapse not applied", decide.Outcome{}, decide.Active, "main, 1 process", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base(t)
			items := len(d.Items)
			c := decide.Conclude(d, tc.outcome)
			st := c.Status()
			assert.Equal(t, tc.level, st.Level, st.Message)
			assert.True(t, strings.HasPrefix(st.Message, tc.want), st.Message)
			require.NotNil(t, c.Report)
			assert.Equal(t, tc.ready, c.Report.Ready)
			assert.Len(t, d.Items, items, "the decision is not modified")
			assert.False(t, d.Report.Ready, "the decision's report is not modified")
		})
	}
	t.Run("a report not from synapse keeps its Ready", func(t *testing.T) {
		d := decide.Decision{Report: &relations.UnitReport{Ready: true}}
		c := decide.Conclude(d, decide.Outcome{Synapse: &workload.Readiness{Failed: []string{"synapse"}}})
		assert.True(t, c.Report.Ready)
		assert.Empty(t, c.Items, "nothing about a container this hook did not apply")
	})
}

func TestStatusPriority(t *testing.T) {
	item := func(l decide.Level, r decide.Rank, m string) decide.Item {
		return decide.Item{Level: l, Rank: r, Message: m}
	}
	for _, tc := range []struct {
		name string
		d    decide.Decision
		want decide.Item
	}{
		{"nothing is active", decide.Decision{}, item(decide.Active, 0, "")},
		{"notes alone", decide.Decision{Notes: []string{"a", "", "b"}}, item(decide.Active, 0, "a; b")},
		{"blocked over waiting over maintenance over active", decide.Decision{Items: []decide.Item{
			item(decide.Active, decide.RankWorkload, "act"), item(decide.Maintenance, decide.RankConfig, "mnt"),
			item(decide.Waiting, decide.RankConfig, "wait"), item(decide.Blocked, decide.RankCoordination, "block"),
		}}, item(decide.Blocked, decide.RankCoordination, "block")},
		{"lowest rank inside a level", decide.Decision{Items: []decide.Item{
			item(decide.Waiting, decide.RankRouter, "router"), item(decide.Waiting, decide.RankRelation, "relation"), item(decide.Waiting, decide.RankStarting, "starting"),
		}}, item(decide.Waiting, decide.RankRelation, "relation")},
		{"first found among equals", decide.Decision{Items: []decide.Item{
			item(decide.Blocked, decide.RankRelation, "first"), item(decide.Blocked, decide.RankRelation, "second"),
		}}, item(decide.Blocked, decide.RankRelation, "first")},
		{"notes only on active", decide.Decision{Notes: []string{"note"}, Items: []decide.Item{item(decide.Waiting, decide.RankPlan, "wait")}},
			item(decide.Waiting, decide.RankPlan, "wait")},
		{"notes after the active message", decide.Decision{Notes: []string{"n1", "n2"}, Items: []decide.Item{item(decide.Active, decide.RankWorkload, "main")}},
			item(decide.Active, decide.RankWorkload, "main; n1; n2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.d.Status())
		})
	}
	t.Run("long messages are cut to MaxMessage", func(t *testing.T) {
		long := strings.Repeat("x", 2*decide.MaxMessage)
		st := decide.Decision{Items: []decide.Item{item(decide.Blocked, 0, long)}}.Status()
		assert.Len(t, st.Message, decide.MaxMessage)
		assert.True(t, strings.HasSuffix(st.Message, "..."))
		exact := strings.Repeat("y", decide.MaxMessage)
		assert.Equal(t, exact, decide.Decision{Items: []decide.Item{item(decide.Blocked, 0, exact)}}.Status().Message)
		notes := decide.Decision{Notes: []string{long}, Items: []decide.Item{item(decide.Active, 0, "main")}}.Status()
		assert.Len(t, notes.Message, decide.MaxMessage, "notes count too")
	})
	t.Run("a hostile relation value is cut in the status", func(t *testing.T) {
		s := ttReady(t)
		s.Redis = ttRedis()
		s.Redis.Units["redis-k8s/0"]["port"] = strings.Repeat("9", 5000)
		st := ttStatus(decide.Decide(s))
		assert.Equal(t, decide.Blocked, st.Level)
		assert.LessOrEqual(t, len(st.Message), decide.MaxMessage)
	})
}

// A configuration the image's Synapse rejects never reaches a restart: the
// unit blocks with Synapse's message and reports nothing new.
func TestRejectedConfigurationRestartsNothing(t *testing.T) {
	s := ttReady(t)
	s.Config = ttConfig(t, map[string]any{"public_baseurl": "https://chat.example.com/"})
	d := decide.Decide(s)
	require.NotNil(t, d.Synapse)
	require.Equal(t, []workload.ConfigCheck{{Service: workload.MainService, ConfigPaths: []string{workload.HomeserverPath}}}, d.Synapse.Checks,
		"the restarting process is checked")
	d = decide.Conclude(d, decide.Outcome{Rejected: map[string]string{workload.MainService: "Error in configuration at 'listeners': " + strings.Repeat("x", 2000)}})
	st := d.Status()
	assert.Equal(t, decide.Blocked, st.Level)
	assert.True(t, ttHas(st.Message, "Synapse rejects the new configuration of synapse", "nothing was restarted", "Error in configuration at 'listeners'", "juju config synapse"), st.Message)
	assert.LessOrEqual(t, len(st.Message), decide.MaxMessage)
	assert.Nil(t, d.Report, "the unit does not claim the new plan")

	settled := decide.Decide(ttReady(t))
	assert.Empty(t, settled.Synapse.Checks, "a hook that restarts nothing checks nothing")
}
