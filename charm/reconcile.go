package charm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// DatabaseEndpoint is the postgresql_client relation.
const DatabaseEndpoint = "database"

// peerKeyDatabaseReady records, in the peer app bag, the database whose
// locale the leader has checked, so the check runs once, not every hook.
const peerKeyDatabaseReady = "database-ready"

// verdict is the status a reconcile ends with.
type verdict struct {
	status  juju.StatusName
	message string
}

func blocked(format string, args ...any) verdict {
	return verdict{juju.Blocked, fmt.Sprintf(format, args...)}
}

func waiting(format string, args ...any) verdict {
	return verdict{juju.Waiting, fmt.Sprintf(format, args...)}
}

func (c *charm) reconcile(ctx context.Context) error {
	s, err := c.observe(ctx)
	if err != nil {
		return fmt.Errorf("observe: %w: %w", err, ErrRetry)
	}
	v, err := c.converge(ctx, s)
	if err != nil {
		return err
	}
	return c.setStatus(ctx, v)
}

func (c *charm) setStatus(ctx context.Context, v verdict) error {
	if err := c.tools.StatusSet(ctx, &juju.StatusOptions{Status: v.status, Message: v.message}); err != nil {
		return fmt.Errorf("%w: %w", err, ErrRetry)
	}
	return nil
}

// converge does the work of a hook and returns the status to report. An
// error means Juju should retry; anything the operator must act on is a
// verdict instead, and leaves the running workload as it was.
func (c *charm) converge(ctx context.Context, s *Snapshot) (verdict, error) {
	if s.ConfigErr != nil {
		return blocked("%s", s.ConfigErr.Error()), nil
	}
	if s.Peer == nil {
		return waiting("waiting for Juju to create the %s relation", PeerEndpoint), nil
	}
	if was := s.Peer.App[peerKeyServerName]; was != "" && was != s.Config.ServerName {
		return blocked("server_name cannot change after the first start (was %s): juju config %s server_name=%s", was, c.ev.App, was), nil
	}
	secrets, v, err := c.secrets(ctx, s)
	if err != nil || v != nil {
		return deref(v), err
	}
	if s.Address == "" {
		return waiting("waiting for Juju to give this unit an address"), nil
	}

	pc, err := c.pebble(workload.SynapseContainer)
	if err != nil {
		return verdict{}, err
	}
	_, pebbleErr := pc.SysInfo()
	if pebbleErr != nil {
		c.logf("pebble in %s not reachable: %v", workload.SynapseContainer, pebbleErr)
		pc = nil
	}

	db, dbNote, v, err := c.database(ctx, s, pc)
	if err != nil || v != nil {
		return deref(v), err
	}
	if db == nil && s.Peer.App[peerKeyDatabaseReady] != "" {
		// Synapse's data lives in PostgreSQL now: falling back to an empty
		// SQLite would look like data loss. Keep the last good config.
		if s.Database == nil {
			return blocked("the database relation was removed; Synapse keeps its last configuration until it is back: juju integrate %s postgresql-k8s", c.ev.App), nil
		}
		return waiting("waiting for %s to provide the database credentials again", s.Database.RemoteApp), nil
	}
	redis, v := c.redis(s)
	if v != nil {
		return *v, nil
	}
	media, mediaNote, v, err := c.media(ctx, s)
	if err != nil || v != nil {
		return deref(v), err
	}
	if media == nil && s.Media == nil && s.Peer.App[peerKeyMediaBucket] != "" {
		mediaNote = "media stored only in S3 bucket " + s.Peer.App[peerKeyMediaBucket] + " is not served until S3 is integrated again"
	}
	if media != nil && s.Leader && s.Peer.App[peerKeyMediaBucket] != media.Bucket {
		if err := c.setPeerApp(ctx, s, map[string]string{peerKeyMediaBucket: media.Bucket}); err != nil {
			return verdict{}, err
		}
	}
	if media != nil && pc != nil {
		if v, err := c.checkMediaModule(ctx, pc, s.Media.RemoteApp); err != nil || v != nil {
			if err != nil {
				return verdict{}, fmt.Errorf("%w: %w", err, ErrRetry)
			}
			return *v, nil
		}
	}

	backupNote, err := c.backupRelation(ctx, s)
	if err != nil {
		return verdict{}, err
	}

	ingressURL, v, err := c.ingress(ctx, s)
	if err != nil || v != nil {
		return deref(v), err
	}
	logTargets, v := c.logTargets(s)
	if v != nil {
		return *v, nil
	}
	email, emailNote, v, err := c.email(ctx, s, workload.PublicBaseURL(s.Config, ingressURL))
	if err != nil || v != nil {
		return deref(v), err
	}
	saml, samlNote, v := c.saml(s)
	if v != nil {
		return *v, nil
	}
	if saml != nil && pc != nil {
		if v, err := c.checkSAMLModule(ctx, pc, s.SAML.RemoteApp); err != nil || v != nil {
			if err != nil {
				return verdict{}, fmt.Errorf("%w: %w", err, ErrRetry)
			}
			return *v, nil
		}
	}

	plan, v, err := c.plan(ctx, s, db != nil && redis != nil, media != nil)
	if err != nil || v != nil {
		return deref(v), err
	}
	if err := c.publishMetrics(ctx, s, plan); err != nil {
		return verdict{}, err
	}
	if err := c.publishDashboards(ctx, s); err != nil {
		return verdict{}, err
	}
	if err := c.publishNginxRoute(ctx, s); err != nil {
		return verdict{}, err
	}
	if pc == nil {
		return waiting("waiting for Pebble in the %s container", workload.SynapseContainer), nil
	}
	version, err := c.synapseVersion(ctx, s, pc)
	if err != nil {
		return waiting("cannot run python3 in the %s container: %v", workload.SynapseContainer, err), nil
	}
	local := plan.OnUnit(c.ev.Unit)
	isMain := plan.Main == c.ev.Unit
	units := len(s.Peer.LiveUnits(c.ev.Unit))
	if !isMain && len(local) == 0 {
		// This unit runs nothing: say why, stop whatever it ran before.
		if _, err := container.Apply(ctx, pc, workload.Container{Name: workload.SynapseContainer}, c.opts.ChangeTimeout); err != nil {
			return verdict{}, fmt.Errorf("stop processes: %w: %w", err, ErrRetry)
		}
		if err := c.report(ctx, s, plan.Generation, true, version, senderState{plan.SendersEpoch, plan.SendersEpoch}); err != nil {
			return verdict{}, err
		}
		// The router still serves: every unit accepts any request.
		if _, err := c.applyNginx(ctx, s, plan, logTargets); err != nil {
			return verdict{}, err
		}
		if missing := missingForCluster(db, redis); missing != "" {
			return blocked("scaling beyond one unit needs %s: juju integrate %s %s", missing, c.ev.App, strings.Fields(missing)[1]), nil
		}
		return waiting("no Synapse process is planned on this unit (max_processes_per_unit reached?)"), nil
	}
	if len(plan.Processes) > 1 {
		if missing := missingForCluster(db, redis); missing != "" {
			// The leader saw both, this unit not yet (it is still joining the
			// relations): rendering now would start processes without them.
			if err := c.report(ctx, s, s.reportedGeneration(), false, version, s.reportedSenders()); err != nil {
				return verdict{}, err
			}
			return waiting("the cluster plan needs %s, which this unit does not see yet", missing), nil
		}
	}
	if !isMain {
		main, _ := relations.ParseUnitReport(s.Peer.Units[plan.Main])
		if main.AppliedGeneration < plan.Generation || !main.Ready {
			// Workers start only once the main runs this plan: it migrates the
			// schema first, and workers refuse an unmigrated database.
			if err := c.report(ctx, s, s.reportedGeneration(), false, version, s.reportedSenders()); err != nil {
				return verdict{}, err
			}
			return waiting("main %s has not applied plan %d", plan.Main, plan.Generation), nil
		}
		if main.SynapseVersion != "" && main.SynapseVersion != version {
			// An upgrade: the main migrates the schema to the new version
			// first; workers on another version wait (Kubernetes rolls the
			// highest unit first, so workers usually get the image first).
			if err := c.report(ctx, s, s.reportedGeneration(), false, version, s.reportedSenders()); err != nil {
				return verdict{}, err
			}
			return waiting("upgrade in progress: main %s runs Synapse %s, this unit has %s; workers start after the main migrates", plan.Main, main.SynapseVersion, version), nil
		}
	}

	hs := workload.Homeserver{
		Config:        s.Config,
		PublicBaseURL: workload.PublicBaseURL(s.Config, ingressURL),
		BindAddress:   s.Address,
		Postgres:      db,
		Media:         media,
		Email:         email,
		SAML:          saml,
	}
	var localProcs []workload.ClusterProcess
	if len(plan.Processes) > 1 {
		hs.Redis = redis
		hs.Cluster = &workload.Cluster{}
		for _, p := range plan.Processes {
			cp := workload.ClusterProcess{Name: p.Name, Role: p.Role, Host: relations.UnitDNSName(p.Unit, c.ev.Model), Index: p.Index}
			hs.Cluster.Processes = append(hs.Cluster.Processes, cp)
			if p.Unit == c.ev.Unit {
				localProcs = append(localProcs, cp)
			}
		}
	}
	want, err := workload.RenderSynapse(workload.SynapseInput{Homeserver: hs, Secrets: secrets, Local: localProcs})
	if err != nil {
		return blocked("cannot render the Synapse configuration: %v", err), nil
	}
	want.Layer.LogTargets = logTargets
	senders, holdFor := c.sendersBarrier(s, plan)
	if holdFor != "" {
		holdSenders(&want, localProcs)
	}
	res, err := container.Apply(ctx, pc, want, c.opts.ChangeTimeout)
	if err != nil {
		return verdict{}, fmt.Errorf("apply %s: %w: %w", want.Name, err, ErrRetry)
	}
	if res.Changed() {
		c.logf("applied %s: pushed %v, removed %v, layer changed %v, restarted %v, started %v, stopped %v",
			want.Name, res.Pushed, res.Removed, res.LayerChanged, res.Restarted, res.Started, res.Stopped)
	}
	if s.Leader && s.Peer.App[peerKeyServerName] == "" {
		// Recorded once the workload has been configured with it: from now on
		// the database and signing key belong to this server_name.
		if err := c.setPeerApp(ctx, s, map[string]string{peerKeyServerName: s.Config.ServerName}); err != nil {
			return verdict{}, err
		}
	}

	readiness, err := c.readiness(ctx, pc, want, len(res.Restarted)+len(res.Started) > 0)
	if err != nil {
		return waiting("cannot read Synapse's state from Pebble: %v", err), nil
	}
	ready := len(readiness.Failed) == 0 && len(readiness.NotReady) == 0
	if err := c.report(ctx, s, plan.Generation, ready, version, senders); err != nil {
		return verdict{}, err
	}
	nginxNote, err := c.applyNginx(ctx, s, plan, logTargets)
	if err != nil {
		return verdict{}, err
	}
	if err := c.openPorts(ctx); err != nil {
		return verdict{}, err
	}
	if len(readiness.Failed) > 0 {
		return blocked("synapse process %s keeps failing: see juju debug-log or pebble logs", strings.Join(readiness.Failed, ", ")), nil
	}
	if len(readiness.NotReady) > 0 {
		return waiting("synapse is starting: %s not passing yet", strings.Join(readiness.NotReady, ", ")), nil
	}
	if len(readiness.Unreachable) > 0 {
		// Synapse's /health stays 200 meanwhile; active would hide it.
		return waiting("%s does not answer from the synapse container; Synapse serves what it can until it is back", strings.Join(readiness.Unreachable, " and ")), nil
	}
	var msg string
	if isMain {
		msg = fmt.Sprintf("main, %d %s", len(local), plural(len(local), "process", "processes"))
		if units > 1 && len(plan.Processes) == 1 {
			if missing := missingForCluster(db, redis); missing != "" {
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
	if nginxNote != "" {
		return waiting("%s", nginxNote), nil
	}
	if holdFor != "" {
		return waiting("federation senders restart together: waiting for %s to stop its senders (plan %d)", holdFor, plan.Generation), nil
	}
	for _, note := range []string{dbNote, mediaNote, emailNote, samlNote, backupNote} {
		if note != "" {
			msg += "; " + note
		}
	}
	return verdict{juju.Active, msg}, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// missingForCluster names the integrations workers still need.
func missingForCluster(db *workload.Postgres, redis *workload.Redis) string {
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

// report publishes this unit's state in its peer bag, when it changed.
func (c *charm) report(ctx context.Context, s *Snapshot, generation int, ready bool, version string, senders senderState) error {
	bag := relations.UnitReport{
		Address:           relations.UnitDNSName(c.ev.Unit, c.ev.Model),
		IP:                s.Address,
		AppliedGeneration: generation,
		Ready:             ready,
		SynapseVersion:    version,
		SendersStopped:    senders.stopped,
		SendersRunning:    senders.running,
	}.Bag()
	changed := map[string]string{}
	for k, v := range bag {
		if s.Peer.Own[k] != v {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: s.Peer.ID, Data: changed}); err != nil {
		return fmt.Errorf("report to peers: %w: %w", err, ErrRetry)
	}
	return nil
}

func deref(v *verdict) verdict {
	if v == nil {
		return verdict{}
	}
	return *v
}

func (c *charm) readiness(ctx context.Context, pc pebbleClient, want workload.Container, restarted bool) (container.Readiness, error) {
	if restarted {
		if err := c.tools.StatusSet(ctx, &juju.StatusOptions{Status: juju.Maintenance, Message: "starting synapse"}); err != nil {
			return container.Readiness{}, err
		}
		return container.WaitReady(ctx, pc, want, c.opts.HTTP, c.opts.ReadyTimeout)
	}
	return container.Ready(ctx, pc, want, c.opts.HTTP)
}

func (c *charm) setPeerApp(ctx context.Context, s *Snapshot, data map[string]string) error {
	if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: s.Peer.ID, App: true, Data: data}); err != nil {
		return fmt.Errorf("write peer app bag: %w: %w", err, ErrRetry)
	}
	for k, v := range data {
		s.Peer.App[k] = v
	}
	return nil
}

// database returns the PostgreSQL database to render, or nil for SQLite,
// with a note for the status. The leader writes the request once and gives
// a new, empty database the C locale Synapse requires.
func (c *charm) database(ctx context.Context, s *Snapshot, pc pebbleClient) (*workload.Postgres, string, *verdict, error) {
	rel := s.Database
	if rel == nil {
		return nil, "", nil, nil
	}
	if rel.Pending {
		return nil, "joining the database relation", nil, nil
	}
	requested := c.ev.App
	if s.Leader && rel.Local["database"] == "" {
		if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: rel.ID, App: true, Data: relations.DatabaseRequest(requested)}); err != nil {
			return nil, "", nil, fmt.Errorf("request database: %w: %w", err, ErrRetry)
		}
	}
	secret, err := c.relationSecret(ctx, relations.DatabaseSecretID(rel.App))
	if err != nil {
		return nil, "", nil, err
	}
	parsed, err := relations.ParseDatabase(rel.App, secret, requested)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("serving on SQLite until %s creates the database", rel.RemoteApp), nil, nil
	case err != nil:
		v := blocked("database relation from %s is malformed: %v", rel.RemoteApp, err)
		return nil, "", &v, nil
	}
	db := &workload.Postgres{Host: parsed.Host, Port: parsed.Port, Database: parsed.Name, User: parsed.User, Password: parsed.Password}
	marker := parsed.Name + "@" + parsed.Host
	if s.Peer.App[peerKeyDatabaseReady] != marker {
		if !s.Leader {
			return nil, "serving on SQLite until the leader has prepared the database", nil, nil
		}
		if pc == nil {
			return nil, "serving on SQLite until Pebble answers", nil, nil
		}
		locale, err := container.PrepareDatabase(ctx, pc, db)
		if err != nil {
			v := waiting("cannot reach the database yet: %v", err)
			return nil, "", &v, nil
		}
		switch locale.Result {
		case "ok", "fixed":
			if locale.Result == "fixed" {
				c.logf("set the locale of database %s to C (was %s/%s)", parsed.Name, locale.Collate, locale.CType)
			}
		case "has-tables":
			v := blocked("database %s has collation %s and already holds tables; Synapse needs C: recreate it with LC_COLLATE=C LC_CTYPE=C", parsed.Name, locale.Collate)
			return nil, "", &v, nil
		default:
			v := blocked("database %s has collation %s and the charm may not change it (%s): grant SUPERUSER or recreate it with LC_COLLATE=C", parsed.Name, locale.Collate, locale.Error)
			return nil, "", &v, nil
		}
		if err := c.setPeerApp(ctx, s, map[string]string{peerKeyDatabaseReady: marker}); err != nil {
			return nil, "", nil, err
		}
		_ = c.tools.Log(ctx, "WARNING", "switching Synapse from SQLite to PostgreSQL: data stored in SQLite (users, rooms) is not migrated")
	}
	return db, "", nil, nil
}

// reportedGeneration is the generation this unit last reported applying.
func (s *Snapshot) reportedGeneration() int {
	r, _ := relations.ParseUnitReport(s.Peer.Own)
	return r.AppliedGeneration
}

// synapseVersion is the Synapse version of this unit's image: asked from
// the image when the container may have changed (a new pod, a new image),
// otherwise the one this unit reported before.
func (c *charm) synapseVersion(ctx context.Context, s *Snapshot, pc pebbleClient) (string, error) {
	known := s.Peer.Own[relations.PeerKeySynapseVersion]
	switch c.ev.Kind() {
	case "pebble-ready", "upgrade-charm", "install", "start":
	default:
		if known != "" {
			return known, nil
		}
	}
	v, err := container.SynapseVersion(ctx, pc)
	if err != nil {
		return "", err
	}
	if v != known {
		if err := c.tools.ApplicationVersionSet(ctx, v); err != nil {
			return "", fmt.Errorf("%w: %w", err, ErrRetry)
		}
	}
	return v, nil
}

// openPorts opens nginx's port, the one entry point of every unit, on the
// hooks where the opened ports may need (re)declaring.
func (c *charm) openPorts(ctx context.Context) error {
	switch c.ev.Kind() {
	case "config-changed", "upgrade-charm", "install":
		if err := c.tools.OpenPort(ctx, workload.NginxPort, "tcp"); err != nil {
			return fmt.Errorf("%w: %w", err, ErrRetry)
		}
	}
	return nil
}

// senderState is the senders epoch a unit has stopped for and runs.
type senderState struct{ stopped, running int }

func (s *Snapshot) reportedSenders() senderState {
	r, _ := relations.ParseUnitReport(s.Peer.Own)
	return senderState{r.SendersStopped, r.SendersRunning}
}

// sendersBarrier decides whether this unit may start federation senders
// of the plan's sender set: Synapse requires that every sender of the old
// set has stopped before any sender of the new set starts. It returns what
// this unit will report, and the unit it waits for ("" when free to go).
func (c *charm) sendersBarrier(s *Snapshot, plan topology.Plan) (senderState, string) {
	epoch := plan.SendersEpoch
	if s.reportedSenders().running >= epoch {
		return senderState{epoch, epoch}, ""
	}
	for _, p := range plan.Processes {
		if p.Unit == c.ev.Unit {
			continue
		}
		r, _ := relations.ParseUnitReport(s.Peer.Units[p.Unit])
		if r.SendersStopped < epoch {
			// This unit stops its senders now and reports it; it starts the
			// new set once every unit has.
			return senderState{epoch, s.reportedSenders().running}, p.Unit
		}
	}
	return senderState{epoch, epoch}, ""
}

// holdSenders keeps this unit's federation senders stopped (startup
// disabled, out of the readiness the unit reports).
func holdSenders(want *workload.Container, local []workload.ClusterProcess) {
	held := map[string]bool{}
	for _, p := range local {
		if p.Role != workload.RoleFederationSend {
			continue
		}
		name := workload.ServiceName(p.Name)
		svc := want.Layer.Services[name]
		svc.Startup = "disabled"
		want.Layer.Services[name] = svc
		held[workload.ReadyCheckName(p.Name)] = true
	}
	var checks []string
	for _, c := range want.ReadyChecks {
		if !held[c] {
			checks = append(checks, c)
		}
	}
	want.ReadyChecks = checks
}
