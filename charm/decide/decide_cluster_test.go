package decide_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// ttTwoUnits is a settled two-unit cluster: the leader and main synapse/0,
// and synapse/1 running the workers, each seeing the other's report.
func ttTwoUnits(t testing.TB, options map[string]any) (leader, worker decide.Snapshot) {
	t.Helper()
	leader = ttCluster(t, options)
	worker = ttSettle(t, ttPeerOf(t, leader, "synapse/1", ttAddr1))
	for range 3 {
		leader.Peer.Units["synapse/1"] = ttBag(worker.Peer.Own)
		leader = ttSettle(t, leader)
		worker.Peer.Units["synapse/0"] = ttBag(leader.Peer.Own)
		worker.Peer.App = ttBag(leader.Peer.App)
		worker = ttSettle(t, worker)
	}
	return leader, worker
}

func TestNonMainUnit(t *testing.T) {
	t.Run("without postgresql and redis it blocks naming the integrations", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			db      bool
			redis   bool
			missing string
			command string
		}{
			{"neither", false, false, "scaling beyond one unit needs a postgresql and a redis integration", "juju integrate synapse postgresql-k8s and juju integrate synapse redis-k8s"},
			{"no redis", true, false, "scaling beyond one unit needs a redis integration", "juju integrate synapse redis-k8s"},
			{"no postgresql", false, true, "scaling beyond one unit needs a postgresql integration", "juju integrate synapse postgresql-k8s"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				leader := ttReady(t)
				if tc.db {
					leader.Database, leader.DatabaseLocale, leader.SQLite = ttDatabase(), ttCLocale(), ttEmptySQLite()
				}
				if tc.redis {
					leader.Redis = ttRedis()
				}
				leader.Peer.Units["synapse/1"] = map[string]string{}
				leader = ttSettle(t, ttApply(t, leader, decide.Decide(leader)))
				p := ttPlan(t, leader.Peer.App)
				require.Len(t, p.Processes, 1, "a monolith")
				st := ttStatus(decide.Decide(leader))
				assert.Equal(t, decide.Active, st.Level)
				assert.Contains(t, st.Message, "main, 1 process; workers need a")

				w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
				d := decide.Decide(w)
				st = ttStatus(d)
				assert.Equal(t, decide.Blocked, st.Level)
				assert.Contains(t, st.Message, tc.missing)
				assert.Contains(t, st.Message, tc.command)
				require.NotNil(t, d.Synapse)
				assert.Empty(t, d.Synapse.Want.Layer.Services, "runs no Synapse process")
				assert.Empty(t, d.Synapse.Changes.Start)
				require.NotNil(t, d.Nginx, "the router still serves")
				assert.Equal(t, []string{workload.NginxService}, d.Nginx.Changes.Start)
				require.NotNil(t, d.Report)
				assert.True(t, d.Report.Ready)
				assert.False(t, d.ReadyFromSynapse)
				assert.Equal(t, 1, d.Report.AppliedGeneration)
			})
		}
	})

	leader := ttCluster(t, nil)
	p := ttPlan(t, leader.Peer.App)
	require.Equal(t, "synapse/0", p.Main)
	local := p.OnUnit("synapse/1")
	require.NotEmpty(t, local)

	t.Run("waits for the main to apply the plan", func(t *testing.T) {
		for name, report := range map[string]map[string]string{
			"older plan": {relations.PeerKeyAppliedGeneration: "1", relations.PeerKeyReady: "true"},
			"not ready":  {relations.PeerKeyAppliedGeneration: "2", relations.PeerKeyReady: "false"},
			"no report":  {},
		} {
			t.Run(name, func(t *testing.T) {
				w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
				w.Peer.Units["synapse/0"] = report
				d := decide.Decide(w)
				st := ttStatus(d)
				assert.Equal(t, decide.Waiting, st.Level)
				assert.Equal(t, "main synapse/0 has not applied plan 2", st.Message)
				assert.Nil(t, d.Synapse, "no worker starts before the main migrated")
				require.NotNil(t, d.Report)
				assert.False(t, d.Report.Ready)
				assert.False(t, d.ReadyFromSynapse)
				assert.Equal(t, 0, d.Report.AppliedGeneration, "reports what it ran before")
			})
		}
	})

	t.Run("waits for the main's Synapse version during an upgrade", func(t *testing.T) {
		w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
		w.Peer.Units["synapse/0"][relations.PeerKeySynapseVersion] = "1.161.0"
		d := decide.Decide(w)
		st := ttStatus(d)
		assert.Equal(t, decide.Waiting, st.Level)
		assert.Equal(t, "upgrade in progress: main synapse/0 runs Synapse 1.161.0, this unit has 1.160.0; workers start after the main migrates", st.Message)
		assert.Nil(t, d.Synapse)
		require.NotNil(t, d.Report)
		assert.Equal(t, ttVersion, d.Report.SynapseVersion)
	})

	t.Run("the cluster plan needs what this unit does not see yet", func(t *testing.T) {
		w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
		w.Redis = nil
		d := decide.Decide(w)
		st := ttStatus(d)
		assert.Equal(t, decide.Waiting, st.Level)
		assert.Equal(t, "the cluster plan needs a redis integration, which this unit does not see yet", st.Message)
		assert.Nil(t, d.Synapse)
	})

	t.Run("starts its workers when the main is ready", func(t *testing.T) {
		w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
		d := decide.Decide(w)
		st := ttStatus(d)
		assert.Equal(t, decide.Active, st.Level)
		assert.Equal(t, "workers: generic-1, federation-sender-1, pusher-1, background-1", st.Message)
		want := ttServices(local)
		sort.Strings(want)
		assert.Equal(t, want, d.Synapse.Changes.Start)
		assert.NotContains(t, d.Synapse.Want.Layer.Services, workload.MainService, "the main runs on synapse/0 only")
		for _, proc := range local {
			assert.Contains(t, ttFile(t, d.Synapse, workload.WorkerConfigPath(proc.Name)), "worker_name: "+proc.Name)
		}
		hs := ttFile(t, d.Synapse, workload.HomeserverPath)
		assert.Contains(t, hs, "instance_map")
		assert.Contains(t, hs, "synapse-0.synapse-endpoints.test.svc.cluster.local")
		require.NotNil(t, d.Report)
		assert.Equal(t, 2, d.Report.AppliedGeneration)
		assert.True(t, d.ReadyFromSynapse)
		assert.Nil(t, d.Write(ttPeerID, true), "a non-leader never writes the plan")
	})

	t.Run("nginx waits for the main's address", func(t *testing.T) {
		w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
		delete(w.Peer.Units["synapse/0"], relations.PeerKeyIP)
		d := decide.Decide(w)
		st := ttStatus(d)
		assert.Equal(t, decide.Waiting, st.Level)
		assert.Equal(t, "nginx waits for the main synapse/0 to publish its address", st.Message)
		assert.Nil(t, d.Nginx)
		assert.NotNil(t, d.Synapse, "the workers still start")
	})
}

func TestTwoUnitsSettleActive(t *testing.T) {
	leader, worker := ttTwoUnits(t, nil)
	d := decide.Decide(leader)
	assert.Equal(t, decide.Item{Level: decide.Active, Rank: decide.RankWorkload, Message: "main, 4 processes"}, ttStatus(d))
	assert.False(t, ttTouches(d.Synapse))
	assert.False(t, ttTouches(d.Nginx))
	d = decide.Decide(worker)
	assert.Equal(t, decide.Active, ttStatus(d).Level)
	assert.False(t, ttTouches(d.Synapse))
	assert.False(t, ttTouches(d.Nginx))
}

func TestFederationSendersBarrier(t *testing.T) {
	leader := ttCluster(t, nil)
	p := ttPlan(t, leader.Peer.App)
	require.Equal(t, 2, p.SendersEpoch)
	sender := workload.ServiceName("federation-sender-1")

	t.Run("holds the local senders while another unit has not stopped them", func(t *testing.T) {
		w := ttPeerOf(t, leader, "synapse/1", ttAddr1)
		w.Peer.Units["synapse/0"][relations.PeerKeySendersStopped] = "1"
		d := decide.Decide(w)
		st := ttStatus(d)
		assert.Equal(t, decide.Waiting, st.Level)
		assert.Equal(t, "federation senders restart together: waiting for synapse/0 to stop its senders (plan 2)", st.Message)
		require.NotNil(t, d.Synapse)
		assert.Equal(t, "disabled", d.Synapse.Want.Layer.Services[sender].Startup)
		assert.NotContains(t, d.Synapse.Want.ReadyChecks, workload.ReadyCheckName("federation-sender-1"))
		assert.Contains(t, d.Synapse.Want.ReadyChecks, workload.ReadyCheckName("generic-1"))
		assert.NotContains(t, d.Synapse.Changes.Start, sender)
		assert.Contains(t, d.Synapse.Changes.Start, workload.ServiceName("generic-1"))
		require.NotNil(t, d.Report)
		assert.Equal(t, 2, d.Report.SendersStopped, "says it stopped its senders")
		assert.Equal(t, 0, d.Report.SendersRunning)

		t.Run("a running sender is stopped", func(t *testing.T) {
			held := ttApply(t, w, d)
			held.Synapse.State.Active[sender] = true
			held.Peer.Own[relations.PeerKeySendersRunning] = "0"
			d := decide.Decide(held)
			assert.Equal(t, []string{sender}, d.Synapse.Changes.Stop)
		})

		t.Run("released once every unit stopped", func(t *testing.T) {
			held := ttApply(t, w, d)
			held.Peer.Units["synapse/0"][relations.PeerKeySendersStopped] = "2"
			d := decide.Decide(held)
			assert.Equal(t, decide.Active, ttStatus(d).Level)
			assert.Equal(t, []string{sender}, d.Synapse.Changes.Start)
			assert.Empty(t, d.Synapse.Changes.Restart, "the other workers keep running")
			assert.Equal(t, "enabled", d.Synapse.Want.Layer.Services[sender].Startup)
			assert.Contains(t, d.Synapse.Want.ReadyChecks, workload.ReadyCheckName("federation-sender-1"))
			assert.Equal(t, 2, d.Report.SendersRunning)
		})
	})

	t.Run("a main that holds no sender does not wait for the barrier", func(t *testing.T) {
		d := decide.Decide(leader)
		st := ttStatus(d)
		assert.Equal(t, decide.Active, st.Level, st.Message)
		assert.Equal(t, 2, d.Report.SendersStopped, "applying the plan stops whatever it ran of the old set")
		assert.Equal(t, 2, d.Report.SendersRunning)
	})
}

// Issue 14: no barrier waits on the dead. A unit the plan still names but
// that is no longer in the relation will run no hook to report.
func TestSendersBarrierWaitsOnlyForLiveUnits(t *testing.T) {
	leader, worker := ttTwoUnits(t, map[string]any{"federation_senders": 1})
	w := ttClone(worker)
	w.Config = ttConfig(t, map[string]any{"federation_senders": 2})
	l := ttSettle(t, func() decide.Snapshot { l := ttClone(leader); l.Config = w.Config; return l }())
	w.Peer.App = ttBag(l.Peer.App)
	w.Peer.Units["synapse/0"] = ttBag(l.Peer.Own)
	w.Peer.Units["synapse/0"][relations.PeerKeySendersStopped] = "0"
	d := decide.Decide(w)
	if !strings.Contains(ttStatus(d).Message, "federation senders restart together") {
		t.Skipf("this plan holds no sender on synapse/1: %s", ttStatus(d).Message)
	}
	delete(w.Peer.Units, "synapse/0")
	d = decide.Decide(w)
	assert.NotContains(t, ttStatus(d).Message, "federation senders restart together", "a unit gone from the relation is not waited for")
}
