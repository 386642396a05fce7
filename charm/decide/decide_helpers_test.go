package decide_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// Fixed names of the snapshots these tests build.
const (
	ttPeerID    = "synapse-peers:0"
	ttDBID      = "database:3"
	ttRedisID   = "redis:4"
	ttAddr0     = "10.1.0.10"
	ttAddr1     = "10.1.0.11"
	ttVersion   = "1.160.0"
	ttSecretID  = "secret:synapse-app"
	ttDBHost    = "10.0.0.5"
	ttDBPass    = "Abcdefgh12345678"
	ttModelUUID = "0123456789abcdef0123"
)

// ttConfig parses the charm configuration: server_name test.local plus
// the given options.
func ttConfig(t testing.TB, options map[string]any) config.Config {
	t.Helper()
	raw := map[string]any{"server_name": "test.local"}
	maps.Copy(raw, options)
	c, err := config.Parse(raw)
	require.NoError(t, err)
	return c
}

func ttSecrets(t testing.TB) workload.Secrets {
	t.Helper()
	s, err := workload.GenerateSecrets()
	require.NoError(t, err)
	return s
}

// ttFresh is a new single unit, the leader, on its first config-changed:
// empty peer bags, no secret yet, empty containers.
func ttFresh(t testing.TB) decide.Snapshot {
	t.Helper()
	fresh := ttSecrets(t)
	return decide.Snapshot{
		Event:     decide.Event{Kind: "config-changed", Unit: "synapse/0", App: "synapse", Model: "test", ModelUUID: ttModelUUID},
		Leader:    true,
		Config:    ttConfig(t, nil),
		Address:   ttAddr0,
		Peer:      &decide.PeerView{ID: ttPeerID, App: map[string]string{}, Units: map[string]map[string]string{}, Own: map[string]string{}},
		AppSecret: decide.AppSecret{Fresh: &fresh},
		Synapse:   decide.ContainerFacts{Reachable: true, State: workload.PebbleState{CanStopChecks: true}},
		Nginx:     decide.ContainerFacts{Reachable: true, State: workload.PebbleState{CanStopChecks: true}},
		Image:     decide.ImageFacts{SynapseVersion: ttVersion, VersionAsked: true},
		// A new volume: the charm names it on the first hook.
		FreshVolumeID: "vol-synapse-0",
	}
}

// ttReady is a single-unit leader that has run one hook: secret created,
// plan 1 published and applied, every service active, report published.
func ttReady(t testing.TB) decide.Snapshot {
	t.Helper()
	s := ttFresh(t)
	return ttSettle(t, ttApply(t, s, decide.Decide(s)))
}

// ttSettle runs update-status hooks until a decision writes nothing and
// changes no container.
func ttSettle(t testing.TB, s decide.Snapshot) decide.Snapshot {
	t.Helper()
	for range 10 {
		d := decide.Decide(s)
		if !ttWrites(d) && d.CreateSecret == nil && !ttTouches(d.Synapse) && !ttTouches(d.Nginx) && !ttReportChanges(s, d) {
			return s
		}
		s = ttApply(t, s, d)
	}
	t.Fatalf("no quiescence after 10 hooks: %+v", decide.Decide(s).Status())
	return s
}

func ttWrites(d decide.Decision) bool {
	for _, w := range d.Writes {
		if len(w.Data) > 0 {
			return true
		}
	}
	return false
}

func ttTouches(p *decide.ContainerPlan) bool {
	if p == nil {
		return false
	}
	c := p.Changes
	return c.Layer != nil || len(c.Stop)+len(c.Restart)+len(c.Start)+len(c.StopChecks) > 0
}

func ttReportChanges(s decide.Snapshot, d decide.Decision) bool {
	if d.Report == nil {
		return false
	}
	r := decide.Conclude(d, ttAllReady(d)).Report
	for k, v := range r.Bag() {
		if s.Peer.Own[k] != v {
			return true
		}
	}
	return false
}

// ttAllReady is the outcome of a decision whose containers all pass their
// checks.
func ttAllReady(d decide.Decision) decide.Outcome {
	var o decide.Outcome
	if d.Synapse != nil {
		o.Synapse = &workload.Readiness{}
	}
	if d.Nginx != nil {
		o.Nginx = &workload.Readiness{}
	}
	return o
}

// ttClone deep-copies the bags of a snapshot.
func ttClone(s decide.Snapshot) decide.Snapshot {
	if s.Peer != nil {
		p := *s.Peer
		p.App, p.Own = ttBag(p.App), ttBag(p.Own)
		p.Units = map[string]map[string]string{}
		for u, b := range s.Peer.Units {
			p.Units[u] = ttBag(b)
		}
		s.Peer = &p
	}
	for _, v := range []**decide.RelationView{&s.Database, &s.Redis, &s.Media, &s.Ingress, &s.Logging, &s.Backup, &s.SMTP, &s.NginxRoute, &s.SAML} {
		*v = ttCloneView(*v)
	}
	s.Metrics = ttCloneViews(s.Metrics)
	s.Dashboards = ttCloneViews(s.Dashboards)
	s.AppSecret.Content = ttBag(s.AppSecret.Content)
	return s
}

func ttCloneViews(vs []*decide.RelationView) []*decide.RelationView {
	var out []*decide.RelationView
	for _, v := range vs {
		out = append(out, ttCloneView(v))
	}
	return out
}

func ttCloneView(v *decide.RelationView) *decide.RelationView {
	if v == nil {
		return nil
	}
	c := *v
	c.App, c.Local, c.Own, c.Secret = ttBag(v.App), ttBag(v.Local), ttBag(v.Own), ttBag(v.Secret)
	c.Units = map[string]map[string]string{}
	for u, b := range v.Units {
		c.Units[u] = ttBag(b)
	}
	return &c
}

func ttBag(b map[string]string) map[string]string {
	if b == nil {
		return nil
	}
	return maps.Clone(b)
}

// ttView finds the relation a write goes to.
func ttView(s *decide.Snapshot, id string) *decide.RelationView {
	all := []*decide.RelationView{s.Database, s.Redis, s.Media, s.Ingress, s.Logging, s.Backup, s.SMTP, s.NginxRoute, s.SAML}
	all = append(all, s.Metrics...)
	all = append(all, s.Dashboards...)
	for _, v := range all {
		if v != nil && v.ID == id {
			return v
		}
	}
	return nil
}

// ttApply executes a decision as charm.execute does, every container
// ready, and returns the snapshot of the next hook (update-status).
func ttApply(t testing.TB, s decide.Snapshot, d decide.Decision) decide.Snapshot {
	t.Helper()
	s = ttClone(s)
	writes := append([]decide.BagWrite(nil), d.Writes...)
	if d.CreateSecret != nil {
		s.AppSecret = decide.AppSecret{ID: ttSecretID, Content: maps.Clone(d.CreateSecret.Content)}
		writes = append(writes, decide.BagWrite{RelationID: s.Peer.ID, App: true, Data: map[string]string{decide.SecretIDKey: ttSecretID}})
	}
	d = decide.Conclude(d, ttAllReady(d))
	if d.Report != nil {
		writes = append(writes, decide.BagWrite{RelationID: s.Peer.ID, Data: d.Report.Bag()})
	}
	for _, w := range writes {
		var bag *map[string]string
		if s.Peer != nil && w.RelationID == s.Peer.ID {
			bag = &s.Peer.Own
			if w.App {
				bag = &s.Peer.App
			}
		} else {
			v := ttView(&s, w.RelationID)
			require.NotNil(t, v, "write to unknown relation %s", w.RelationID)
			bag = &v.Own
			if w.App {
				bag = &v.Local
			}
		}
		if *bag == nil {
			*bag = map[string]string{}
		}
		maps.Copy(*bag, w.Data)
	}
	if d.VolumeID != "" {
		s.Volume, s.FreshVolumeID = d.VolumeID, ""
	}
	s.Synapse.State = ttPebbleAfter(s.Synapse.State, d.Synapse)
	s.Nginx.State = ttPebbleAfter(s.Nginx.State, d.Nginx)
	s.Event.Kind = "update-status"
	s.Image.VersionAsked = false
	s.AppSecret.Fresh = nil
	s.DatabaseLocale, s.DatabaseLocaleErr, s.SQLite = nil, nil, nil
	return s
}

// ttPebbleAfter is Pebble's state after a container plan was carried out:
// the layer combined into the plan, every enabled service active.
func ttPebbleAfter(st workload.PebbleState, p *decide.ContainerPlan) workload.PebbleState {
	if p == nil {
		return st
	}
	plan := workload.Layer{
		Summary:    st.Plan.Summary,
		Services:   maps.Clone(st.Plan.Services),
		Checks:     maps.Clone(st.Plan.Checks),
		LogTargets: maps.Clone(st.Plan.LogTargets),
	}
	if plan.Services == nil {
		plan.Services = map[string]workload.Service{}
	}
	if plan.Checks == nil {
		plan.Checks = map[string]workload.Check{}
	}
	if plan.LogTargets == nil {
		plan.LogTargets = map[string]workload.LogTarget{}
	}
	if l := p.Changes.Layer; l != nil {
		maps.Copy(plan.Services, l.Services)
		maps.Copy(plan.Checks, l.Checks)
		maps.Copy(plan.LogTargets, l.LogTargets)
	}
	active := map[string]bool{}
	for name, svc := range plan.Services {
		active[name] = svc.Startup == "enabled"
	}
	return workload.PebbleState{Plan: plan, Active: active, CanStopChecks: st.CanStopChecks}
}

// ttStatus is the status a decision shows after an all-ready execution.
func ttStatus(d decide.Decision) decide.Item {
	return decide.Conclude(d, ttAllReady(d)).Status()
}

// ttPlan decodes the plan in the peer application bag.
func ttPlan(t testing.TB, app map[string]string) topology.Plan {
	t.Helper()
	p, err := topology.Decode(app[decide.PlanKey])
	require.NoError(t, err)
	return *p
}

// ttFile returns a file of a container plan.
func ttFile(t testing.TB, p *decide.ContainerPlan, path string) string {
	t.Helper()
	require.NotNil(t, p)
	for _, f := range p.Want.Files {
		if f.Path == path {
			return string(f.Content)
		}
	}
	t.Fatalf("no file %s in %s", path, p.Want.Name)
	return ""
}

// ttDatabase is a postgresql-k8s relation that answered, seen by the
// leader (with the request it wrote).
func ttDatabase() *decide.RelationView {
	return &decide.RelationView{
		ID: ttDBID, RemoteApp: "postgresql-k8s",
		App:   map[string]string{"username": "relation_id_3", "password": ttDBPass, "endpoints": ttDBHost + ":5432", "database": "synapse"},
		Local: relations.DatabaseRequest("synapse"),
	}
}

// ttRedis is a redis-k8s relation that answered.
func ttRedis() *decide.RelationView {
	return &decide.RelationView{
		ID: ttRedisID, RemoteApp: "redis-k8s",
		App:   map[string]string{"leader-host": "redis-k8s-0.redis-k8s-endpoints"},
		Units: map[string]map[string]string{"redis-k8s/0": {"hostname": "redis-k8s-0.redis-k8s-endpoints", "port": "6379"}},
	}
}

// ttCLocale is a database with the locale Synapse needs.
// ttEmptySQLite is a SQLite database that holds no user and no room yet.
func ttEmptySQLite() *workload.SQLiteContent { return &workload.SQLiteContent{} }

func ttCLocale() *workload.DatabaseLocale {
	return &workload.DatabaseLocale{Collate: "C", CType: "C", Superuser: true}
}

// ttCluster is the settled leader synapse/0 of a two-unit application
// with PostgreSQL and Redis; synapse/1 has not reported yet.
func ttCluster(t testing.TB, options map[string]any) decide.Snapshot {
	t.Helper()
	s := ttReady(t)
	s.Config = ttConfig(t, options)
	s.Database, s.Redis = ttDatabase(), ttRedis()
	s.DatabaseLocale, s.SQLite = ttCLocale(), ttEmptySQLite()
	s.Peer.Units["synapse/1"] = map[string]string{}
	return ttSettle(t, ttApply(t, s, decide.Decide(s)))
}

// ttPeerOf is the first hook of another unit of the leader's application:
// not the leader, fresh containers, the leader's bags as published.
func ttPeerOf(t testing.TB, leader decide.Snapshot, unit, addr string) decide.Snapshot {
	t.Helper()
	s := ttClone(leader)
	s.Event.Unit = unit
	s.Event.Kind = "config-changed"
	s.Leader = false
	s.Volume, s.FreshVolumeID = "", "vol-"+strings.ReplaceAll(unit, "/", "-")
	s.Address = addr
	units := map[string]map[string]string{leader.Event.Unit: ttBag(leader.Peer.Own)}
	for u, b := range leader.Peer.Units {
		if u != unit {
			units[u] = ttBag(b)
		}
	}
	s.Peer = &decide.PeerView{ID: ttPeerID, App: ttBag(leader.Peer.App), Units: units, Own: map[string]string{}}
	for _, v := range []*decide.RelationView{s.Database, s.Redis, s.Media, s.Ingress, s.Logging, s.Backup, s.SMTP, s.NginxRoute, s.SAML} {
		if v != nil {
			v.Local, v.Own = nil, nil
		}
	}
	for _, v := range s.Metrics {
		v.Local, v.Own = nil, nil
	}
	s.Dashboards = nil
	s.AppSecret.Fresh = nil
	s.DatabaseLocale, s.SQLite = nil, nil
	s.Synapse = decide.ContainerFacts{Reachable: true, State: workload.PebbleState{CanStopChecks: true}}
	s.Nginx = decide.ContainerFacts{Reachable: true, State: workload.PebbleState{CanStopChecks: true}}
	s.Image = decide.ImageFacts{SynapseVersion: ttVersion, VersionAsked: true}
	return s
}

// ttServices lists the service names of a process list.
func ttServices(procs []topology.Process) []string {
	var out []string
	for _, p := range procs {
		out = append(out, workload.ServiceName(p.Name))
	}
	return out
}

// ttHas reports whether a status message contains every part.
func ttHas(msg string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			return false
		}
	}
	return true
}
