package charm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// Endpoints, as decide names them.
const (
	PeerEndpoint       = decide.PeerEndpoint
	DatabaseEndpoint   = decide.DatabaseEndpoint
	RedisEndpoint      = decide.RedisEndpoint
	MediaEndpoint      = decide.MediaEndpoint
	BackupEndpoint     = decide.BackupEndpoint
	IngressEndpoint    = decide.IngressEndpoint
	LoggingEndpoint    = decide.LoggingEndpoint
	MetricsEndpoint    = decide.MetricsEndpoint
	DashboardEndpoint  = decide.DashboardEndpoint
	SMTPEndpoint       = decide.SMTPEndpoint
	NginxRouteEndpoint = decide.NginxRouteEndpoint
	SAMLEndpoint       = decide.SAMLEndpoint
)

// observe reads everything a hook or an action needs, once. With
// workloadFacts it also asks Pebble about the containers and the image
// (hooks do; actions need only Juju's side).
func (c *charm) observe(ctx context.Context, workloadFacts bool) (*decide.Snapshot, error) {
	ev := c.ev
	s := &decide.Snapshot{Event: decide.Event{
		Kind: ev.Kind(), Unit: ev.Unit, App: ev.App, Model: ev.Model, ModelUUID: ev.ModelUUID,
		RelationID: ev.RelationID, DepartingUnit: ev.DepartingUnit,
	}}
	raw, err := c.tools.ConfigGet(ctx)
	if err != nil {
		return nil, err
	}
	s.Config, s.ConfigErr = config.Parse(raw)
	if s.Leader, err = c.tools.IsLeader(ctx); err != nil {
		return nil, err
	}
	if !s.Leader || ev.Kind() == "leader-elected" {
		c.forgetAppBags()
	}
	if ev.Kind() == "relation-broken" {
		c.forgetRelation(ev.RelationID)
	}
	if workloadFacts && leaving(ev) {
		// A unit on its way out decides nothing but its status, and Juju
		// may already refuse it its relations (and Pebble be gone).
		return s, nil
	}
	ids, err := c.relationIDs(ctx, PeerEndpoint)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		if s.Peer, err = c.observePeer(ctx, ids[0]); err != nil {
			return nil, err
		}
	}
	if s.Leader && s.Peer != nil {
		// The leader plans from the units Juju intends to keep: a peer
		// that left may never send relation-departed (seen on Juju 4.0).
		gs, err := c.tools.GoalState(ctx)
		if err != nil {
			return nil, err
		}
		s.Goal = map[string]string{}
		for u, g := range gs.Units {
			s.Goal[u] = g.Status
		}
	}
	if s.Address, err = c.bindAddress(ctx); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		view         **decide.RelationView
		endpoint     string
		local, units bool
		own          bool
		secretID     func(map[string]string) string
	}{
		{&s.Database, DatabaseEndpoint, s.Leader, false, false, relations.DatabaseSecretID},
		{&s.Redis, RedisEndpoint, false, true, false, nil},
		{&s.Media, MediaEndpoint, s.Leader, false, false, relations.S3SecretID},
		{&s.Ingress, IngressEndpoint, s.Leader, false, true, nil},
		{&s.Logging, LoggingEndpoint, false, true, false, nil},
		{&s.Backup, BackupEndpoint, s.Leader, false, false, relations.S3SecretID},
		{&s.SMTP, SMTPEndpoint, false, false, false, relations.SMTPSecretID},
		{&s.NginxRoute, NginxRouteEndpoint, s.Leader, false, false, nil},
		{&s.SAML, SAMLEndpoint, false, false, false, nil},
	} {
		ids, err := c.relationIDs(ctx, r.endpoint)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			continue
		}
		if *r.view, err = c.observeRelation(ctx, ids[0], r.local, r.units, r.own, r.secretID); err != nil {
			return nil, err
		}
	}
	if s.Metrics, err = c.observeAll(ctx, MetricsEndpoint, s.Leader, true); err != nil {
		return nil, err
	}
	if s.Leader {
		if s.Dashboards, err = c.observeAll(ctx, DashboardEndpoint, true, false); err != nil {
			return nil, err
		}
	}
	if s.MatrixAuth, err = c.observeMatrixAuth(ctx, s.Leader); err != nil {
		return nil, err
	}
	if s.AppSecret, err = c.observeAppSecret(ctx, s); err != nil {
		return nil, fmt.Errorf("read the application secret: %w", err)
	}
	if s.MatrixAuthSecrets, err = c.observeMatrixAuthSecrets(ctx, s); err != nil {
		return nil, fmt.Errorf("read the matrix-auth secrets: %w", err)
	}
	if err := freshAdminLocalpart(s); err != nil {
		return nil, err
	}
	if !workloadFacts {
		return s, nil
	}
	if err := c.observeWorkload(ctx, s); err != nil {
		return nil, err
	}
	if err := c.observePython(ctx, s); err != nil {
		return nil, fmt.Errorf("observe what the Python charm left: %w", err)
	}
	return s, nil
}

// observePeer reads the peer relation: the app bag, this unit's bag and
// every live peer's bag. It returns nil before this unit has entered the
// relation (install and storage-attached run before relation-created).
func (c *charm) observePeer(ctx context.Context, id string) (*decide.PeerView, error) {
	app, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: c.ev.App, App: true})
	if juju.IsPermissionDenied(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p := &decide.PeerView{ID: id, App: app, Units: map[string]map[string]string{}}
	if p.Own, err = c.ownBag(ctx, id); err != nil {
		return nil, err
	}
	peers, err := c.relationUnits(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, u := range peers {
		if u == c.ev.DepartingUnit {
			continue
		}
		bag, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: u})
		if err != nil {
			return nil, fmt.Errorf("read peer %s: %w", u, err)
		}
		p.Units[u] = bag
	}
	return p, nil
}

// observeRelation reads one relation: the remote app bag, our app bag
// (local, leader only), every remote unit's bag (units), this unit's bag
// (own) and the provider's secret the remote bag names.
func (c *charm) observeRelation(ctx context.Context, id string, local, units, own bool, secretID func(map[string]string) string) (*decide.RelationView, error) {
	if c.ev.Kind() == "relation-broken" && c.ev.RelationID == id {
		// The relation is going away: decide as if it were gone already.
		return nil, nil
	}
	v := &decide.RelationView{ID: id, Units: map[string]map[string]string{}}
	var err error
	if v.RemoteApp, err = c.remoteApp(ctx, id); err != nil {
		return nil, err
	}
	if v.RemoteApp != "" {
		v.App, err = c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: v.RemoteApp, App: true})
		if juju.IsPermissionDenied(err) {
			return &decide.RelationView{ID: id, RemoteApp: v.RemoteApp, Pending: true}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if local {
		// Juju lets only the leader read its own application's bag.
		if v.Local, err = c.localBag(ctx, id); err != nil {
			return nil, err
		}
	}
	if own {
		if v.Own, err = c.ownBag(ctx, id); err != nil {
			return nil, err
		}
	}
	if units {
		list, err := c.relationUnits(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, u := range list {
			bag, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: u})
			if err != nil {
				return nil, fmt.Errorf("read %s of %s: %w", u, id, err)
			}
			v.Units[u] = bag
		}
	}
	if secretID != nil {
		v.Secret = c.relationSecret(ctx, secretID(v.App))
	}
	return v, nil
}

// observeAll reads every relation of an endpoint where the charm only
// publishes: our app bag (leader) and, with own, this unit's bag.
func (c *charm) observeAll(ctx context.Context, endpoint string, local, own bool) ([]*decide.RelationView, error) {
	ids, err := c.relationIDs(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	var out []*decide.RelationView
	for _, id := range ids {
		v := &decide.RelationView{ID: id}
		if local {
			v.Local, err = c.localBag(ctx, id)
			if juju.IsPermissionDenied(err) {
				continue // the relation is going away for this unit
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", id, err)
			}
		}
		if own {
			v.Own, err = c.ownBag(ctx, id)
			if juju.IsPermissionDenied(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", id, err)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// relationSecret reads a provider's secret by ID, refreshing to the latest
// revision on secret-changed; nil (and a log line) while it is not readable
// yet, which the parsers report as not ready.
func (c *charm) relationSecret(ctx context.Context, id string) map[string]string {
	if id == "" {
		return nil
	}
	if !relations.PlausibleSecretID(id) {
		c.logf("secret ID %q from a provider's bag is not a secret URI: not read", cut(id))
		return nil
	}
	content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id, Refresh: c.ev.Kind() == "secret-changed"})
	if err != nil {
		c.logf("secret %s not readable yet: %v", cut(id), err)
		return nil
	}
	return content
}

// observeAppSecret reads the application's secret: by the ID the peer bag
// names, or, on a leader whose bag lost it, by its label. When there is
// none, the leader gets fresh secrets to create it with.
func (c *charm) observeAppSecret(ctx context.Context, s *decide.Snapshot) (decide.AppSecret, error) {
	var out decide.AppSecret
	if s.Peer == nil {
		return out, nil
	}
	if id := s.Peer.App[decide.SecretIDKey]; id != "" {
		content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id, Refresh: c.ev.Kind() == "secret-changed" && c.ev.SecretID == id})
		if err != nil {
			return out, fmt.Errorf("read secret %s: %w", id, err)
		}
		return decide.AppSecret{ID: id, Content: content}, nil
	}
	if legacy := c.observeLegacySecret(ctx, s); legacy.ID != "" {
		return legacy, nil
	}
	if !s.Leader {
		return out, nil
	}
	id, content, err := c.findOwnSecret(ctx)
	if err != nil {
		return out, fmt.Errorf("look for the application secret: %w", err)
	}
	if id != "" {
		return decide.AppSecret{ID: id, Content: content}, nil
	}
	fresh, err := workload.GenerateSecrets()
	if err != nil {
		return out, err
	}
	return decide.AppSecret{Fresh: &fresh}, nil
}

// findOwnSecret returns the ID and content of the application's secret
// when it exists but the peer bag does not name it, "" when there is none.
// A later revision may add keys: the signing key tells it is the one.
func (c *charm) findOwnSecret(ctx context.Context) (string, map[string]string, error) {
	return c.findLabelledSecret(ctx, decide.SecretLabel, func(labelled, listed map[string]string) (bool, error) {
		want, err := workload.SecretsFromContent(labelled)
		if err != nil {
			return false, err
		}
		got, err := workload.SecretsFromContent(listed)
		return err == nil && got.SigningKey == want.SigningKey, nil
	})
}

// findLabelledSecret returns the ID and content of our secret with label,
// "" when there is none. secret-get by label gives no ID, so the secret
// is found among secret-ids by its content: same reports whether a listed
// content is the labelled one, or that the labelled content is unusable.
func (c *charm) findLabelledSecret(ctx context.Context, label string, same func(labelled, listed map[string]string) (bool, error)) (string, map[string]string, error) {
	want, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{Label: label})
	if juju.IsNotFound(err) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	ids, err := c.tools.SecretIDs(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, id := range ids {
		content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id})
		if err != nil {
			continue
		}
		ok, err := same(want, content)
		if err != nil {
			return "", nil, err
		}
		if ok {
			return id, content, nil
		}
	}
	return "", nil, fmt.Errorf("secret %q exists but secret-ids does not list it", label)
}

// observeWorkload asks Pebble about both containers and, when needed, the
// image (its Synapse version, the modules an integration needs) and the
// database's locale.
func (c *charm) observeWorkload(ctx context.Context, s *decide.Snapshot) error {
	pc, err := c.pebble(workload.SynapseContainer)
	if err != nil {
		return err
	}
	if s.Synapse, err = c.observeContainer(pc, workload.SynapseContainer); err != nil {
		return fmt.Errorf("observe %s: %w", workload.SynapseContainer, err)
	}
	if !s.Synapse.Reachable {
		c.logf("pebble in %s not reachable", workload.SynapseContainer)
	} else if s.RestorePending, err = container.PendingRestore(pc); err != nil {
		return err
	}
	npc, err := c.pebble(workload.NginxContainer)
	if err != nil {
		return err
	}
	if s.Nginx, err = c.observeContainer(npc, workload.NginxContainer); err != nil {
		return fmt.Errorf("observe %s: %w", workload.NginxContainer, err)
	}
	if s.Exporter, err = c.exporter(); err != nil {
		return err
	}
	if !s.Synapse.Reachable || s.Peer == nil {
		return nil
	}
	if s.Volume, err = c.volumeID(pc, s.Synapse.State.BootID); err != nil {
		return err
	}
	if s.Volume == "" {
		if s.FreshVolumeID, err = randomID(); err != nil {
			return err
		}
	}
	c.observeImage(ctx, s, pc)
	// The modules an integration needs are checked until the
	// configuration uses them: a settled unit pays nothing.
	s.Image.Modules = map[string]bool{}
	for _, m := range []struct {
		rel        *decide.RelationView
		module, in string
	}{
		{s.Media, decide.S3ProviderModule, workload.S3ProviderModule},
		{s.SAML, decide.SAMLModule, "saml2_config:"},
	} {
		if m.rel == nil || m.rel.Pending {
			continue
		}
		configured, err := container.FileContains(pc, workload.HomeserverPath, m.in)
		if err != nil {
			return err
		}
		if configured || s.Image.Report.Lacks(m.module) {
			continue
		}
		if s.Image.Modules[m.module], err = container.HasPythonModule(ctx, pc, m.module); err != nil {
			return err
		}
	}
	if err := observeOptionImage(ctx, s, pc); err != nil {
		return err
	}
	return c.observeDatabaseLocale(ctx, s, pc)
}

// observeDatabaseLocale reads the database's locale on the leader, before
// Synapse first uses a database.
func (c *charm) observeDatabaseLocale(ctx context.Context, s *decide.Snapshot, pc pebbleClient) error {
	rel := s.Database
	if !s.Leader || rel == nil || rel.Pending {
		return nil
	}
	parsed, err := relations.ParseDatabase(rel.App, rel.Secret, c.ev.App)
	if err != nil {
		return nil
	}
	// Looked at before Synapse first uses a database, and again whenever
	// the database relation changes (the provider may now point at another
	// database of the same name) or its identity is not recorded yet.
	home, _ := decide.ParseDataHome(s.Peer.App)
	db := parsed
	known := s.Peer.App[decide.DatabaseReadyKey] == parsed.Name+"@"+parsed.Host
	recorded := home != nil && home.PostgresID != "" && home.PostgresConn == decide.PostgresConn(db)
	if known && recorded && c.ev.RelationName != DatabaseEndpoint {
		return nil
	}
	locale, err := container.CheckDatabaseLocale(ctx, pc, db, s.Config.ServerName)
	if err != nil {
		s.DatabaseLocaleErr = err
		return nil
	}
	s.DatabaseLocale = &locale
	// Whether the SQLite database here holds anything PostgreSQL would
	// leave behind.
	content, err := container.SQLiteContent(ctx, pc)
	if err != nil {
		return err
	}
	s.SQLite = &content
	return nil
}

// observeContainer reads what Pebble says of a container; an unreachable
// Pebble is a fact, not an error.
func (c *charm) observeContainer(pc pebbleClient, name string) (decide.ContainerFacts, error) {
	st, trusted, err := container.ObserveKnown(pc, c.knownContainer(name))
	if errors.Is(err, container.ErrUnreachable) {
		return decide.ContainerFacts{}, nil
	}
	if err != nil {
		return decide.ContainerFacts{}, err
	}
	if !trusted {
		// Not shown to be the Pebble the charm remembers (it restarted,
		// or the plan was not remembered): nothing remembered of the
		// container holds, its files least of all.
		c.forgetContainer(name)
	}
	c.rememberObserved(name, st)
	return decide.ContainerFacts{Reachable: true, State: st}, nil
}

// randomID is a new random volume ID.
func randomID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random volume id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// leaving reports whether the hook is a unit's own teardown: its stop or
// remove, or its relation-departed naming itself (decide.Decide says the
// same from the snapshot).
func leaving(ev juju.Event) bool {
	switch ev.Kind() {
	case "stop", "remove":
		return true
	}
	return ev.DepartingUnit != "" && ev.DepartingUnit == ev.Unit
}
