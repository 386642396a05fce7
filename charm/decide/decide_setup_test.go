package decide_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func TestReadyLeaderIsActive(t *testing.T) {
	s := ttFresh(t)
	d := decide.Decide(s)
	st := ttStatus(d)
	assert.Equal(t, decide.Active, st.Level)
	assert.Equal(t, "main, 1 process", st.Message)
	assert.True(t, d.OpenPort, "config-changed declares nginx's port")
	assert.Equal(t, ttVersion, d.AppVersion, "workload version from the image")
	hs := ttFile(t, d.Synapse, workload.HomeserverPath)
	assert.Contains(t, hs, "server_name: test.local")
	assert.Contains(t, hs, "public_baseurl: https://test.local/")
	assert.Equal(t, []string{workload.MainService}, d.Synapse.Changes.Start)
	assert.Equal(t, []string{workload.NginxService}, d.Nginx.Changes.Start)
	require.NotNil(t, d.Report)
	assert.Equal(t, 1, d.Report.AppliedGeneration)
	assert.Equal(t, ttAddr0, d.Report.IP)
	assert.Equal(t, "synapse-0.synapse-endpoints.test.svc.cluster.local", d.Report.Address)
	assert.True(t, d.ReadyFromSynapse)

	// update-status on the settled unit: nothing to do, same status.
	next := ttReady(t)
	d = decide.Decide(next)
	assert.False(t, d.OpenPort, "update-status does not declare the port again")
	assert.Empty(t, d.AppVersion, "the version was not asked again")
	assert.False(t, ttWrites(d))
	assert.Equal(t, "main, 1 process", ttStatus(d).Message)
}

func TestInvalidConfigBlocksAndLeavesTheWorkloadUntouched(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"no server_name", map[string]any{}, "server_name must be set"},
		{"invalid server_name", map[string]any{"server_name": "bad name!", "public_baseurl": "http://test.local/"}, "server_name"},
		{"public_baseurl without scheme", map[string]any{"server_name": "test.local", "public_baseurl": "test.local"}, "public_baseurl"},
		{"malformed CSV", map[string]any{"server_name": "test.local", "ip_range_whitelist": "10.0.0.0/8,,x"}, "ip_range_whitelist"},
		{"negative count", map[string]any{"server_name": "test.local", "federation_senders": -2}, "federation_senders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, leader := range []bool{true, false} {
				s := ttReady(t)
				s.Leader = leader
				s.Config, s.ConfigErr = config.Parse(tc.config)
				require.Error(t, s.ConfigErr)
				d := decide.Decide(s)
				st := ttStatus(d)
				assert.Equal(t, decide.Blocked, st.Level)
				assert.Contains(t, st.Message, "invalid configuration")
				assert.Contains(t, st.Message, tc.want)
				assert.Nil(t, d.Synapse, "synapse untouched")
				assert.Nil(t, d.Nginx, "nginx untouched")
				assert.Empty(t, d.Writes)
				assert.Nil(t, d.Report)
				assert.Nil(t, d.CreateSecret)
				assert.Nil(t, d.FixDatabase)
			}
		})
	}
}

func TestSetupWaits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*decide.Snapshot)
		level  decide.Level
		want   string
	}{
		{"no peer relation yet", func(s *decide.Snapshot) { s.Peer = nil }, decide.Waiting,
			"waiting for Juju to create the synapse-peers relation"},
		{"no address yet", func(s *decide.Snapshot) { s.Address = "" }, decide.Waiting,
			"waiting for Juju to give this unit an address"},
		{"non-leader before the secret", func(s *decide.Snapshot) {
			s.Leader = false
			delete(s.Peer.App, decide.SecretIDKey)
			s.AppSecret = decide.AppSecret{}
		}, decide.Waiting, "waiting for the leader to create the application's secrets"},
		{"leader without fresh secrets", func(s *decide.Snapshot) {
			delete(s.Peer.App, decide.SecretIDKey)
			s.AppSecret = decide.AppSecret{}
		}, decide.Waiting, "waiting to generate the application's secrets"},
		{"unusable secret", func(s *decide.Snapshot) { delete(s.AppSecret.Content, "signing-key") }, decide.Blocked,
			"application secret " + ttSecretID + " is unusable"},
		{"non-leader before the plan", func(s *decide.Snapshot) {
			s.Leader = false
			delete(s.Peer.App, decide.PlanKey)
		}, decide.Waiting, "waiting for the leader to publish the cluster plan"},
		{"synapse pebble not answering", func(s *decide.Snapshot) { s.Synapse = decide.ContainerFacts{} }, decide.Waiting,
			"waiting for Pebble in the synapse container"},
		{"python3 fails in the image", func(s *decide.Snapshot) {
			s.Image = decide.ImageFacts{VersionErr: errors.New("exit status 127"), VersionAsked: true}
		}, decide.Waiting, "cannot run python3 in the synapse container: exit status 127"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ttReady(t)
			tc.modify(&s)
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, tc.level, st.Level, st.Message)
			assert.Equal(t, tc.level, d.Status().Level)
			assert.Contains(t, st.Message, tc.want)
			assert.Nil(t, d.Synapse, "synapse untouched")
			assert.Nil(t, d.Report)
			assert.Nil(t, d.CreateSecret, "never a second signing key")
		})
	}

	t.Run("nginx pebble not answering", func(t *testing.T) {
		s := ttReady(t)
		s.Nginx = decide.ContainerFacts{}
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Waiting, st.Level)
		assert.Equal(t, "waiting for Pebble in the synapse-nginx container", st.Message)
		assert.Nil(t, d.Nginx)
		assert.NotNil(t, d.Synapse, "synapse is still decided")
	})
}

func TestLeaderCreatesTheSecretOnce(t *testing.T) {
	s := ttFresh(t)
	d := decide.Decide(s)
	require.NotNil(t, d.CreateSecret)
	assert.Equal(t, decide.SecretLabel, d.CreateSecret.Label)
	assert.Equal(t, s.AppSecret.Fresh.Content(), d.CreateSecret.Content)
	// The workload renders the same secrets it stores.
	assert.Equal(t, s.AppSecret.Fresh.SigningKey+"\n", ttFile(t, d.Synapse, workload.SigningKeyPath))

	next := ttApply(t, s, d)
	assert.Equal(t, ttSecretID, next.Peer.App[decide.SecretIDKey])
	fresh := ttSecrets(t)
	next.AppSecret.Fresh = &fresh // a leader hook would not even generate them
	d = decide.Decide(next)
	assert.Nil(t, d.CreateSecret, "created once")
	assert.Empty(t, d.Write(ttPeerID, true)[decide.SecretIDKey])
	assert.False(t, ttTouches(d.Synapse), "same secrets, nothing changes")
}

func TestLostSecretIDIsRecovered(t *testing.T) {
	s := ttReady(t)
	delete(s.Peer.App, decide.SecretIDKey)
	// observe found the secret by its label; it never generates fresh
	// secrets then, but a leader given both must still not create one.
	fresh := ttSecrets(t)
	s.AppSecret.Fresh = &fresh
	d := decide.Decide(s)
	assert.Nil(t, d.CreateSecret, "no second secret, no new signing key")
	assert.Equal(t, map[string]string{decide.SecretIDKey: ttSecretID}, d.Write(ttPeerID, true))
	assert.Equal(t, decide.Active, ttStatus(d).Level)
	assert.False(t, ttTouches(d.Synapse), "same keys, nothing restarted")

	t.Run("non-leader waits", func(t *testing.T) {
		s := ttReady(t)
		delete(s.Peer.App, decide.SecretIDKey)
		s.Leader = false
		s.AppSecret = decide.AppSecret{}
		d := decide.Decide(s)
		assert.Nil(t, d.CreateSecret)
		assert.Empty(t, d.Writes)
		assert.Equal(t, "waiting for the leader to create the application's secrets", ttStatus(d).Message)
	})
}

func TestServerName(t *testing.T) {
	t.Run("recorded by the leader after the first apply", func(t *testing.T) {
		s := ttFresh(t)
		d := decide.Decide(s)
		assert.Equal(t, "test.local", d.Write(ttPeerID, true)[decide.ServerNameKey])
		next := ttApply(t, s, d)
		assert.Empty(t, decide.Decide(next).Write(ttPeerID, true)[decide.ServerNameKey], "recorded once")
	})
	t.Run("not recorded before the workload is configured", func(t *testing.T) {
		s := ttFresh(t)
		s.Synapse = decide.ContainerFacts{}
		d := decide.Decide(s)
		assert.Empty(t, d.Write(ttPeerID, true)[decide.ServerNameKey])
	})
	t.Run("a non-leader does not record it", func(t *testing.T) {
		s := ttReady(t)
		s.Leader = false
		delete(s.Peer.App, decide.ServerNameKey)
		d := decide.Decide(s)
		assert.Nil(t, d.Write(ttPeerID, true))
	})
	t.Run("changed after the first start blocks", func(t *testing.T) {
		for _, leader := range []bool{true, false} {
			s := ttReady(t)
			s.Leader = leader
			s.Config = ttConfig(t, map[string]any{"server_name": "other.local"})
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level)
			assert.Equal(t, "server_name cannot change after the first start (was test.local): juju config synapse server_name=test.local", st.Message)
			assert.Nil(t, d.Synapse)
			assert.Nil(t, d.Nginx)
			assert.Empty(t, d.Writes)
		}
	})
}

func TestPlanInThePeerBag(t *testing.T) {
	t.Run("leader publishes plan 1 on a fresh unit", func(t *testing.T) {
		d := decide.Decide(ttFresh(t))
		p := ttPlan(t, d.Write(ttPeerID, true))
		assert.Equal(t, 1, p.Generation)
		assert.Equal(t, "synapse/0", p.Main)
		require.Len(t, p.Processes, 1)
		assert.Equal(t, "main", p.Processes[0].Name)
	})
	t.Run("an unchanged plan is not republished", func(t *testing.T) {
		s := ttReady(t)
		s.Event.Kind = "config-changed"
		d := decide.Decide(s)
		assert.NotContains(t, d.Write(ttPeerID, true), decide.PlanKey)
	})
	// A plan from a newer revision (a downgrade) blocks: only that
	// revision reads it. Any other unreadable plan is rebuilt by the
	// leader from the copies the units keep (issue 14), while the other
	// units wait and keep running.
	t.Run("newer schema plan blocks", func(t *testing.T) {
		for _, leader := range []bool{true, false} {
			s := ttReady(t)
			s.Leader = leader
			s.Peer.App[decide.PlanKey] = `{"version":2,"generation":9,"main":"synapse/0","processes":[],"shards":{}}`
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level)
			assert.True(t, ttHas(st.Message, "newer than this charm understands", "refresh the charm to the revision the leader runs"), st.Message)
			assert.Nil(t, d.Synapse, "workload untouched")
			assert.NotContains(t, d.Write(ttPeerID, true), decide.PlanKey, "the leader does not overwrite a plan it cannot read")
		}
	})
	for _, tc := range []struct{ name, plan string }{
		{"malformed", `{"version":1,"generation":`},
		{"unknown field", `{"version":1,"generation":2,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}],"shards":{}}`},
	} {
		t.Run(tc.name+" plan is rebuilt", func(t *testing.T) {
			s := ttReady(t)
			s.Leader = false
			s.Peer.App[decide.PlanKey] = tc.plan
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Waiting, st.Level)
			assert.Contains(t, st.Message, "the leader rebuilds it on its next hook")
			assert.Nil(t, d.Synapse, "workload untouched")

			s.Leader = true
			d = decide.Decide(s)
			assert.Equal(t, decide.Active, ttStatus(d).Level)
			assert.False(t, ttTouches(d.Synapse), "the rebuilt plan is what runs: nothing restarts")
			assert.Equal(t, "synapse/0", ttPlan(t, ttApply(t, s, d).Peer.App).Main)
		})
	}
}
