// Package decide holds the charm's decisions as one pure function:
// Decide(Snapshot) Decision. It reads nothing and writes nothing; the
// charm package observes the snapshot before and executes the decision
// after. Everything an operator could get wrong or Juju could do in an
// odd order is decided, and tested, here.
package decide

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// Endpoints of metadata.yaml, named as in the Python charm.
const (
	PeerEndpoint       = "synapse-peers"
	DatabaseEndpoint   = "database"
	RedisEndpoint      = "redis"
	MediaEndpoint      = "media"
	BackupEndpoint     = "backup"
	IngressEndpoint    = "ingress"
	LoggingEndpoint    = "logging"
	MetricsEndpoint    = "metrics-endpoint"
	DashboardEndpoint  = "grafana-dashboard"
	SMTPEndpoint       = "smtp"
	NginxRouteEndpoint = "nginx-route"
	SAMLEndpoint       = "saml"
)

// Keys of the peer application bag (written by the leader only).
const (
	// SecretIDKey names the application's secret. Not "secret-id": the
	// Python charm names its admin token there (see python.go).
	SecretIDKey = "synapse-secret-id"
	// ServerNameKey records the server_name the data belongs to, once the
	// workload was configured with it.
	ServerNameKey = "server-name"
	// PlanKey holds the cluster plan (JSON).
	PlanKey = "plan"
	// DatabaseReadyKey records the database whose locale the leader has
	// checked, so the check runs once.
	DatabaseReadyKey = "database-ready"
	// MediaBucketKey remembers the bucket media went to, so the status can
	// say what is missing once S3 is removed.
	MediaBucketKey = "media-bucket"
)

// SecretLabel labels the application's one secret.
const SecretLabel = "synapse-secrets"

// Python modules the image must ship for some integrations.
const (
	S3ProviderModule = "s3_storage_provider"
	SAMLModule       = workload.SAMLModule
)

// Decide computes what one hook does from what it observed.
func Decide(s Snapshot) Decision {
	s.Peer = livePeers(s.Peer, s.Goal)
	x := &decider{s: &s, d: &Decision{app: s.Event.App}}
	if x.departing() {
		// Juju runs a leaving unit's teardown hooks (and keeps it leader
		// through them): it must not plan, start anything or take the
		// main; the units that stay do.
		x.d.add(Maintenance, RankSetup, "%s", leavingMessage(s.Event.Kind))
		return *x.d
	}
	x.run()
	x.restore()
	return *x.d
}

// departing reports whether this unit is on its way out: its own
// relation-departed, its stop and remove hooks, or goal-state saying so.
func (x *decider) departing() bool {
	ev := x.s.Event
	switch {
	case ev.DepartingUnit != "" && ev.DepartingUnit == ev.Unit:
		return true
	case ev.Kind == "stop" || ev.Kind == "remove":
		return true
	case x.s.Goal != nil:
		return gone(x.s.Goal, ev.Unit)
	}
	return false
}

// leavingMessage says what a unit on its way out is doing. Its containers
// may already be gone (Pebble no longer answers in stop), so nothing here
// depends on them.
func leavingMessage(kind string) string {
	switch kind {
	case "stop":
		return "stopping: this unit is being removed or its pod recreated (juju status shows which); the other units serve"
	case "remove":
		return "removed from the application: the other units serve"
	}
	return "this unit is leaving the application: the units that stay serve"
}

// livePeers drops the peers goal-state says have left (absent, dying or
// dead): Juju may never deliver their relation-departed to this unit.
func livePeers(p *PeerView, goal map[string]string) *PeerView {
	if p == nil || goal == nil {
		return p
	}
	out := *p
	out.Units = map[string]map[string]string{}
	for u, bag := range p.Units {
		if !gone(goal, u) {
			out.Units[u] = bag
		}
	}
	return &out
}

func gone(goal map[string]string, unit string) bool {
	status, listed := goal[unit]
	return !listed || status == "dying" || status == "dead"
}

type decider struct {
	s *Snapshot
	d *Decision
	// app is the peer application bag with this hook's writes applied.
	app map[string]string
}

func (x *decider) ev() Event { return x.s.Event }

// setPeerApp writes keys of the peer application bag (leader only).
func (x *decider) setPeerApp(data map[string]string) {
	x.d.set(x.s.Peer.ID, true, x.app, data)
	maps.Copy(x.app, data)
}

// run decides the hook. A step that returns false has said, in a status
// item, why nothing further is done: the running workload then stays as
// it was.
func (x *decider) run() {
	s, d := x.s, x.d
	switch s.Event.Kind {
	case "config-changed", "upgrade-charm", "install", "start", "pebble-ready":
		// Declared on the hooks that may first bring nginx up (a new pod's
		// config-changed often runs before Pebble answers); open-port is
		// idempotent.
		d.OpenPort = true
	}
	x.cacheImageReport()
	if s.ConfigErr != nil {
		d.blocked(RankConfig, "%s", configFix(s.ConfigErr, x.ev().App))
		return
	}
	if s.Peer == nil {
		d.waiting(RankSetup, "waiting for Juju to create the %s relation", PeerEndpoint)
		return
	}
	x.app = maps.Clone(s.Peer.App)
	if x.app == nil {
		x.app = map[string]string{}
	}
	if was := x.app[ServerNameKey]; was != "" && was != s.Config.ServerName {
		d.blocked(RankConfig, "server_name cannot change after the first start (was %s): juju config %s server_name=%s", was, x.ev().App, was)
		return
	}
	secrets, ok := x.secrets()
	if !ok {
		return
	}
	if s.Address == "" {
		d.waiting(RankSetup, "waiting for Juju to give this unit an address")
		return
	}
	if s.Volume == "" && s.FreshVolumeID != "" {
		d.VolumeID = s.FreshVolumeID
	}
	hv, ok := x.home()
	if !ok {
		return
	}
	if hv.lost && hv.rec.Database == StoreSQLite {
		x.dataLost(hv)
		return
	}
	in, ok := x.relations(hv)
	if !ok {
		return
	}
	if !x.imageFits(in) {
		return
	}
	if in.appServices, ok = x.matrixAuth(secrets); !ok {
		return
	}
	if !x.options() {
		return
	}
	preferred := x.preferredMain(hv)
	if preferred == "" {
		preferred = x.pythonPreferredMain()
	}
	plan, ok := x.plan(in, preferred)
	if !ok {
		return
	}
	x.recordHome(hv, planView{main: plan.Main}, in)
	if n := x.mediaNote(hv); n != "" {
		d.Warnings = append(d.Warnings, n)
	}
	x.publishMetrics(plan)
	x.publishDashboards()
	x.publishNginxRoute()
	if !s.Synapse.Reachable {
		d.waiting(RankWorkload, "waiting for Pebble in the %s container", workload.SynapseContainer)
		return
	}
	version, ok := x.version()
	if !ok {
		return
	}
	x.workload(plan, hv, in, secrets, version)
}

// secrets returns the application's shared secrets. The leader creates
// them once; other units wait until the peer bag names the secret.
func (x *decider) secrets() (workload.Secrets, bool) {
	s, d := x.s, x.d
	id := x.app[SecretIDKey]
	if id == "" && s.AppSecret.Legacy {
		// Named under this charm's old key: use it, and move it (leader).
		id = s.AppSecret.ID
		if s.Leader {
			x.migrateSecretID(id)
		}
	}
	if id == "" && s.Leader && s.AppSecret.ID != "" {
		// The peer bag lost the ID (a restored model) but the secret
		// exists: name it again, never make a second signing key.
		id = s.AppSecret.ID
		x.setPeerApp(map[string]string{SecretIDKey: id})
	}
	if id == "" {
		if !s.Leader {
			d.waiting(RankSetup, "waiting for the leader to create the application's secrets")
			return workload.Secrets{}, false
		}
		if s.AppSecret.Fresh == nil {
			d.waiting(RankSetup, "waiting to generate the application's secrets")
			return workload.Secrets{}, false
		}
		fresh, ok := x.adoptPython(*s.AppSecret.Fresh)
		if !ok {
			return workload.Secrets{}, false
		}
		d.CreateSecret = &NewSecret{Label: SecretLabel, Description: "Synapse signing key and shared secrets", Content: fresh.Content()}
		d.Logs = append(d.Logs, LogLine{Level: "INFO", Message: "creating the application secret"})
		return fresh, true
	}
	secrets, err := workload.SecretsFromContent(s.AppSecret.Content)
	if err != nil {
		d.blocked(RankSetup, "application secret %s is unusable (%v): restore it or remove it with juju remove-secret", id, err)
		return workload.Secrets{}, false
	}
	x.addAdminLocalpart(id, &secrets)
	return secrets, true
}

// version is the Synapse version of this unit's image.
func (x *decider) version() (string, bool) {
	img := x.s.Image
	if img.VersionErr != nil {
		x.d.waiting(RankWorkload, "cannot run python3 in the %s container: %v", workload.SynapseContainer, img.VersionErr)
		return "", false
	}
	if img.NoSynapseUser {
		// Pebble runs a service under a numeric uid whether or not the
		// image names it (the upstream image names none: its start script
		// switches to 991:991 by number), so this only informs.
		x.d.note(fmt.Sprintf("Synapse runs as uid %d, which the %s image's /etc/passwd does not list", workload.SynapseUserID, workload.SynapseContainer))
	}
	if img.VersionAsked && img.SynapseVersion != x.s.Peer.Own[relations.PeerKeySynapseVersion] {
		x.d.AppVersion = img.SynapseVersion
	}
	return img.SynapseVersion, true
}

// homeserver is what homeserver.yaml is rendered from, before the plan
// adds the cluster (and, with it, Redis).
func (x *decider) homeserver(in inputs) workload.Homeserver {
	s := x.s
	return workload.Homeserver{
		Config:        s.Config,
		PublicBaseURL: workload.PublicBaseURL(s.Config, in.ingressURL),
		BindAddress:   s.Address,
		Postgres:      in.db,
		Media:         in.media,
		Email:         in.email,
		// After a switch the Python charm's media stays where it is.
		MediaStorePath: s.Python.MediaStore,
		SAML:           in.saml,
		AppServices:    in.appServices,
	}
}

// restartToken changes exactly when every Synapse process restarts anyway
// (a new Synapse version, or a change of what every process reads): the
// topology moves stuck duties then, at no extra restart. "" when the
// leader cannot tell (Pebble or the image's version unknown): the plan
// keeps its token, and nothing moves.
func (x *decider) restartToken(in inputs) string {
	img := x.s.Image
	if !x.s.Synapse.Reachable || img.VersionErr != nil || img.SynapseVersion == "" {
		return ""
	}
	hs := x.homeserver(in)
	hs.Redis = in.redis
	token, err := workload.RestartToken(hs, img.SynapseVersion)
	if err != nil {
		return ""
	}
	return token
}

// workload decides both containers and this unit's report from the plan.
func (x *decider) workload(plan topology.Plan, hv homeView, in inputs, secrets workload.Secrets, version string) {
	s, d, ev := x.s, x.d, x.ev()
	local := plan.OnUnit(ev.Unit)
	isMain := plan.Main == ev.Unit
	units := len(s.Peer.LiveUnits(ev.Unit))
	if !isMain && len(local) == 0 {
		// This unit runs nothing: say why, stop whatever it ran before.
		x.applySynapse(workload.Container{Name: workload.SynapseContainer})
		x.report(plan.Generation, version, senderState{plan.SendersEpoch, plan.SendersEpoch}, false)
		x.d.Report.Ready = true
		x.d.Report.AppliedPlan = plan.Encode()
		// The router still serves: every unit accepts any request.
		// A blocked or plan status below outranks nginx's.
		x.nginx(plan, in.logTargets)
		if missing := missingForCluster(in.db, in.redis); missing != "" {
			d.blocked(RankRelation, "scaling beyond one unit needs %s: %s", missing, integrateCommands(ev.App, in.db, in.redis))
			return
		}
		d.waiting(RankPlan, "no Synapse process is planned on this unit (max_processes_per_unit reached?)")
		return
	}
	if len(plan.Processes) > 1 {
		if missing := missingForCluster(in.db, in.redis); missing != "" {
			// The leader saw both, this unit not yet (it is still joining
			// the relations): rendering now would start processes without.
			x.reportUnchanged(version)
			d.waiting(RankRelation, "the cluster plan needs %s, which this unit does not see yet", missing)
			return
		}
	}
	if !isMain {
		main, _ := relations.ParseUnitReport(s.Peer.Units[plan.Main])
		if main.AppliedGeneration < plan.Generation || !main.Ready {
			// Workers start only once the main runs this plan: it migrates
			// the schema first, and workers refuse an unmigrated database.
			x.reportUnchanged(version)
			d.waiting(RankPlan, "main %s has not applied plan %d", plan.Main, plan.Generation)
			return
		}
		if main.SynapseVersion != "" && main.SynapseVersion != version {
			// An upgrade: the main migrates the schema to the new version
			// first; workers on another version wait.
			x.reportUnchanged(version)
			d.waiting(RankPlan, "upgrade in progress: main %s runs Synapse %s, this unit has %s; workers start after the main migrates", plan.Main, main.SynapseVersion, version)
			return
		}
	}

	hs := x.homeserver(in)
	var localProcs []workload.ClusterProcess
	if len(plan.Processes) > 1 {
		hs.Redis = in.redis
		hs.Cluster = &workload.Cluster{}
		for _, p := range plan.Processes {
			cp := workload.ClusterProcess{Name: p.Name, Role: p.Role, Host: relations.UnitDNSName(p.Unit, ev.Model), Index: p.Index}
			hs.Cluster.Processes = append(hs.Cluster.Processes, cp)
			if p.Unit == ev.Unit {
				localProcs = append(localProcs, cp)
			}
		}
	}
	want, err := workload.RenderSynapse(workload.SynapseInput{Homeserver: hs, Secrets: secrets, Local: localProcs})
	if err != nil {
		d.blocked(RankConfig, "cannot render the Synapse configuration: %v", err)
		return
	}
	want.Layer.LogTargets = in.logTargets
	senders, holdFor := x.sendersBarrier(plan)
	if holdFor != "" {
		holdStopFirst(&want, localProcs)
	}
	if in.fixDatabase != nil {
		d.FixDatabase = in.fixDatabase
	}
	x.applySynapse(want)
	if s.Leader && x.app[ServerNameKey] == "" {
		// Recorded once the workload is configured with it: from now on
		// the database and signing key belong to this server_name, and
		// the data lives where the record says.
		x.setPeerApp(map[string]string{ServerNameKey: s.Config.ServerName})
		x.recordHome(hv, planView{main: plan.Main}, in)
	}
	x.report(plan.Generation, version, senders, true)
	x.d.Report.AppliedPlan = plan.Encode()
	x.nginx(plan, in.logTargets)
	if holdFor != "" {
		d.waiting(RankCoordination, "federation senders restart together: waiting for %s to stop its senders (plan %d)", holdFor, plan.Generation)
	}
	var msg string
	if isMain {
		msg = fmt.Sprintf("main, %d %s", len(local), plural(len(local), "process", "processes"))
		if units > 1 && len(plan.Processes) == 1 {
			if missing := missingForCluster(in.db, in.redis); missing != "" {
				msg += "; workers need " + missing
			}
		}
	} else {
		names := make([]string, 0, len(local))
		for _, p := range local {
			names = append(names, p.Name)
		}
		msg = "workers: " + strings.Join(names, ", ")
	}
	d.add(Active, RankWorkload, "%s", msg)
	for _, n := range in.notes {
		d.note(n)
	}
}

func (x *decider) applySynapse(want workload.Container) {
	ch := workload.Diff(x.s.Synapse.State, want)
	x.d.Synapse = &ContainerPlan{Want: want, Changes: ch, Checks: workload.ConfigChecks(want, ch)}
}

// senderState is the senders epoch a unit has stopped for and runs.
type senderState struct{ stopped, running int }

func (x *decider) reportedSenders() senderState {
	r, _ := relations.ParseUnitReport(x.s.Peer.Own)
	return senderState{r.SendersStopped, r.SendersRunning}
}

// reportUnchanged reports what this unit ran before, not ready.
func (x *decider) reportUnchanged(version string) {
	r, _ := relations.ParseUnitReport(x.s.Peer.Own)
	x.report(r.AppliedGeneration, version, x.reportedSenders(), false)
	x.d.Report.AppliedPlan = r.AppliedPlan
}

// report publishes this unit's state; with fromSynapse its Ready is the
// synapse container's readiness after the changes (Conclude).
func (x *decider) report(generation int, version string, senders senderState, fromSynapse bool) {
	ev := x.ev()
	x.d.Report = &relations.UnitReport{
		Address:           relations.UnitDNSName(ev.Unit, ev.Model),
		IP:                x.s.Address,
		AppliedGeneration: generation,
		SynapseVersion:    version,
		SendersStopped:    senders.stopped,
		SendersRunning:    senders.running,
		Volume:            x.volume(),
	}
	x.d.ReadyFromSynapse = fromSynapse
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// integrateCommands names the commands that give workers what they need.
func integrateCommands(app string, db *relations.Database, redis *relations.Redis) string {
	var cmds []string
	if db == nil {
		cmds = append(cmds, "juju integrate "+app+" postgresql-k8s")
	}
	if redis == nil {
		cmds = append(cmds, "juju integrate "+app+" redis-k8s")
	}
	return strings.Join(cmds, " and ")
}

// missingForCluster names the integrations workers still need.
func missingForCluster(db *relations.Database, redis *relations.Redis) string {
	switch {
	case db == nil && redis == nil:
		return "a postgresql and a redis integration"
	case db == nil:
		return "a postgresql integration"
	case redis == nil:
		return "a redis integration"
	}
	return ""
}

// configFix is the status of an invalid configuration: what is wrong (cut
// short: it quotes the operator's values) and the command that fixes it.
func configFix(err error, app string) string {
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		return err.Error()
	}
	var reset []string
	fix := ""
	for _, o := range cerr.Options() {
		if o == "server_name" {
			fix = "juju config " + app + " server_name=<your domain>"
			continue
		}
		reset = append(reset, o)
	}
	if len(reset) > 0 {
		if fix != "" {
			fix += " and "
		}
		fix += "juju config " + app + " " + strings.Join(reset, "=... ") + "=... (or juju config " + app + " --reset " + strings.Join(reset, ",") + ")"
	}
	return Truncate(err.Error(), 300) + ": " + fix
}
