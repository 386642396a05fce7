package decide

import (
	"errors"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// inputs are what the relations give the workload.
type inputs struct {
	db          *relations.Database
	fixDatabase *relations.Database
	redis       *relations.Redis
	media       *relations.S3
	email       *workload.Email
	saml        *workload.SAML
	ingressURL  string
	logTargets  map[string]workload.LogTarget
	// appServices are the matrix-auth registrations to render.
	appServices []workload.AppService
	// notes are appended to an active status, in this order.
	notes []string
}

// relations reads every provider relation. It returns false when one
// blocks (the status item says which and how to fix it).
func (x *decider) relations(hv homeView) (inputs, bool) {
	s, d := x.s, x.d
	var in inputs
	var dbNote, mediaNote, emailNote, samlNote, backupNote string
	var ok bool
	if in.db, dbNote, ok = x.database(&in, hv); !ok {
		return in, false
	}
	if in.db == nil && x.app[DatabaseReadyKey] != "" {
		// Synapse's data lives in PostgreSQL now: falling back to an empty
		// SQLite would look like data loss. Keep the last good config.
		if s.Database == nil {
			d.blocked(RankRelation, "the database relation was removed; Synapse keeps its last configuration until it is back: juju integrate %s postgresql-k8s", x.ev().App)
		} else {
			d.waiting(RankRelation, "waiting for %s to provide the database credentials again", s.Database.RemoteApp)
		}
		return in, false
	}
	if in.redis, ok = x.redis(); !ok {
		return in, false
	}
	if in.media, mediaNote, ok = x.media(); !ok {
		return in, false
	}
	backupNote = x.backup()
	if in.ingressURL, ok = x.ingress(); !ok {
		return in, false
	}
	if in.logTargets, ok = x.logTargets(); !ok {
		return in, false
	}
	if in.email, emailNote, ok = x.email(workload.PublicBaseURL(s.Config, in.ingressURL)); !ok {
		return in, false
	}
	if in.saml, samlNote, ok = x.saml(); !ok {
		return in, false
	}
	in.notes = []string{dbNote, mediaNote, emailNote, samlNote, backupNote}
	return in, true
}

// database returns the PostgreSQL database to render, or nil for SQLite,
// with a note for the status. The leader writes the request once and
// gives a new, empty database the C locale Synapse requires.
func (x *decider) database(in *inputs, hv homeView) (*relations.Database, string, bool) {
	s, d, ev := x.s, x.d, x.ev()
	rel := s.Database
	if rel == nil {
		return nil, "", true
	}
	if rel.Pending {
		return nil, "joining the database relation", true
	}
	requested := ev.App
	if s.Leader && rel.Local["database"] == "" {
		d.set(rel.ID, true, rel.Local, relations.DatabaseRequest(requested))
	}
	parsed, err := relations.ParseDatabase(rel.App, rel.Secret, requested)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("serving on SQLite until %s creates the database", rel.RemoteApp), true
	case err != nil:
		x.malformed(rel, DatabaseEndpoint, err)
		return nil, "", false
	}
	db := parsed
	marker := parsed.Name + "@" + parsed.Host
	if x.app[DatabaseReadyKey] == marker {
		if refused := x.recreatedDatabase(hv, rel, marker); refused != "" {
			d.blocked(RankRelation, "%s", refused)
			return nil, "", false
		}
		return db, "", true
	}
	if !s.Leader {
		return nil, "serving on SQLite until the leader has prepared the database", true
	}
	if !s.Synapse.Reachable {
		return nil, "serving on SQLite until Pebble answers", true
	}
	locale := s.DatabaseLocale
	if locale == nil {
		d.waiting(RankRelation, "cannot reach the database yet: %v", s.DatabaseLocaleErr)
		return nil, "", false
	}
	if refused := x.refuseDatabase(hv, rel, marker, locale); refused != "" {
		d.blocked(RankRelation, "%s", refused)
		return nil, "", false
	}
	switch {
	case locale.IsC():
	case locale.Tables > 0:
		d.blocked(RankRelation, "database %s has collation %s and already holds tables; Synapse needs C: recreate it with LC_COLLATE=C LC_CTYPE=C", parsed.Name, locale.Collate)
		return nil, "", false
	case !locale.Superuser:
		d.blocked(RankRelation, "database %s has collation %s and the charm may not change it: grant SUPERUSER or recreate it with LC_COLLATE=C", parsed.Name, locale.Collate)
		return nil, "", false
	default:
		in.fixDatabase = db
		d.logf("setting the locale of database %s to C (was %s/%s)", parsed.Name, locale.Collate, locale.CType)
	}
	x.setPeerApp(map[string]string{DatabaseReadyKey: marker})
	if hv.rec != nil {
		d.Logs = append(d.Logs, LogLine{Level: "WARNING", Message: fmt.Sprintf("the homeserver's data moves to PostgreSQL database %s (it held %d tables)", marker, locale.Tables)})
	}
	return db, "", true
}

// recreatedDatabase says why the database the data lives in, offered again
// under the same name and host, cannot be used: it is another, empty one (a
// PostgreSQL application removed and deployed again, a database dropped and
// recreated). "" when it is the same one, when it holds data (restored), or
// when it was not looked at this hook.
func (x *decider) recreatedDatabase(hv homeView, rel *RelationView, marker string) string {
	l, rec := x.s.DatabaseLocale, hv.rec
	if l == nil || rec == nil || rec.Database != StorePostgreSQL || rec.Postgres != marker || rec.PostgresID == "" || l.Identity == "" {
		return ""
	}
	if l.Identity == rec.PostgresID || l.Tables > 0 {
		return ""
	}
	ev := x.ev()
	return fmt.Sprintf("database %s is not the one the homeserver's data is in: it was recreated and is empty: restore the data into it (postgresql-k8s restore), or integrate the PostgreSQL that holds it again, or juju remove-relation %s:%s %s",
		marker, ev.App, DatabaseEndpoint, rel.RemoteApp)
}

// refuseDatabase says why a PostgreSQL database offered after the first
// start cannot be used, "" when it can: Synapse would start an empty
// homeserver on an empty database while the data is elsewhere, or would
// serve another server's data. A fresh deployment (no data anywhere yet)
// takes any database of its own.
func (x *decider) refuseDatabase(hv homeView, rel *RelationView, marker string, locale *workload.DatabaseLocale) string {
	s, ev := x.s, x.ev()
	remove := fmt.Sprintf("juju remove-relation %s:%s %s", ev.App, DatabaseEndpoint, rel.RemoteApp)
	if locale.ForeignUsers > 0 {
		return fmt.Sprintf("database %s holds %d users of another server than %s: integrate this homeserver's own database, or %s", marker, locale.ForeignUsers, s.Config.ServerName, remove)
	}
	rec := hv.rec
	if rec == nil || locale.Tables > 0 {
		// Nothing to lose yet, or a database already holding this
		// server's data (ported from SQLite, restored, moved).
		return ""
	}
	switch rec.Database {
	case StoreSQLite:
		if hv.unit == ev.Unit && s.SQLite != nil && s.SQLite.Empty() {
			return "" // the SQLite database holds no user and no room yet
		}
		what := "its SQLite database"
		if hv.unit == ev.Unit && s.SQLite != nil {
			what = fmt.Sprintf("its SQLite database (%d users, %d rooms)", s.SQLite.Users, s.SQLite.Rooms)
		}
		return fmt.Sprintf("the homeserver's data is %s on %s; the empty database %s would start an empty homeserver: port the data with synapse_port_db first (see the README), or %s", what, rec.Unit, marker, remove)
	case StorePostgreSQL:
		if rec.Postgres != marker {
			return fmt.Sprintf("the homeserver's data is in database %s; %s is empty: integrate the PostgreSQL that holds %s again, or restore it into %s (postgresql-k8s restore), or %s", rec.Postgres, marker, rec.Postgres, marker, remove)
		}
	}
	return ""
}

// malformed blocks on provider data the charm cannot use, naming the
// relation, what is wrong (cut short: it may quote the provider's values)
// and the commands that fix it. The workload keeps its configuration.
func (x *decider) malformed(rel *RelationView, endpoint string, err error) {
	x.d.blocked(RankRelation, "%s relation from %s is malformed: %s: fix it with juju config %s, or juju remove-relation %s:%s %s",
		endpoint, rel.RemoteApp, Truncate(err.Error(), 200), rel.RemoteApp, x.ev().App, endpoint, rel.RemoteApp)
}

// redis returns the Redis server, nil when not integrated or not ready.
func (x *decider) redis() (*relations.Redis, bool) {
	rel := x.s.Redis
	if rel == nil || rel.Pending {
		return nil, true
	}
	r, err := relations.ParseRedis(rel.App, rel.Units)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, true
	case err != nil:
		x.malformed(rel, RedisEndpoint, err)
		return nil, false
	}
	return &relations.Redis{Host: r.Host, Port: r.Port, Password: r.Password}, true
}

// s3Request has the leader ask for a bucket on an s3 relation, once; both
// s3-integrator tracks answer the same request.
func (x *decider) s3Request(rel *RelationView) {
	if !x.s.Leader || rel.Pending || rel.Local["bucket"] != "" {
		return
	}
	x.d.set(rel.ID, true, rel.Local, relations.S3Request(rel.ID))
}

// media returns the S3 bucket for media, nil when not integrated or not
// ready.
func (x *decider) media() (*relations.S3, string, bool) {
	s, d, ev := x.s, x.d, x.ev()
	rel := s.Media
	if rel == nil {
		if bucket := x.app[MediaBucketKey]; bucket != "" {
			return nil, "media stored only in S3 bucket " + bucket + " is not served until S3 is integrated again", true
		}
		return nil, "", true
	}
	if rel.Pending {
		return nil, "joining the media relation", true
	}
	x.s3Request(rel)
	parsed, err := relations.ParseS3(rel.App, rel.Secret)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("media stays local until %s provides a bucket", rel.RemoteApp), true
	case err != nil:
		x.malformed(rel, MediaEndpoint, err)
		return nil, "", false
	}
	if s.Leader && x.app[MediaBucketKey] != parsed.Bucket {
		x.setPeerApp(map[string]string{MediaBucketKey: parsed.Bucket})
	}
	if s.Synapse.Reachable && !x.hasModule(S3ProviderModule) {
		d.blocked(RankImage, "S3 media needs the %s Python module (synapse-s3-storage-provider) in the synapse image: use an image that ships it, or juju remove-relation %s:%s %s", S3ProviderModule, ev.App, MediaEndpoint, rel.RemoteApp)
		return nil, "", false
	}
	return &relations.S3{
		Bucket: parsed.Bucket, Endpoint: parsed.Endpoint, Region: parsed.Region, Prefix: parsed.Prefix,
		PathStyle: parsed.PathStyle, AccessKey: parsed.AccessKey, SecretKey: parsed.SecretKey,
	}, "", true
}

// hasModule is false only when the image was checked and lacks module.
func (x *decider) hasModule(module string) bool {
	has, checked := x.s.Image.Modules[module]
	return !checked || has
}

// backup is the hook's part of the backup relation: the leader requests
// the bucket. Nothing else depends on it; a malformed answer only becomes
// a note in the status (the actions say the same, and fail).
func (x *decider) backup() string {
	rel := x.s.Backup
	if rel == nil || rel.Pending {
		return ""
	}
	x.s3Request(rel)
	if _, err := relations.ParseS3(rel.App, nil); err != nil && !errors.Is(err, relations.ErrNotReady) {
		return fmt.Sprintf("backups unavailable: the backup relation from %s is malformed: %v", rel.RemoteApp, err)
	}
	return ""
}

// ingress publishes what the ingress provider needs (the application and
// nginx's port from the leader, each unit's address) and returns the URL
// it published, "" while none.
func (x *decider) ingress() (string, bool) {
	s, d, ev := x.s, x.d, x.ev()
	rel := s.Ingress
	if rel == nil || rel.Pending {
		return "", true
	}
	d.set(rel.ID, false, rel.Own, relations.IngressUnitData(relations.UnitDNSName(ev.Unit, ev.Model), s.Address))
	if s.Leader {
		d.set(rel.ID, true, rel.Local, relations.IngressAppData(ev.Model, ev.App, workload.NginxPort))
	}
	url, err := relations.ParseIngressURL(rel.App)
	if err != nil {
		x.malformed(rel, IngressEndpoint, err)
		return "", false
	}
	return url, true
}

// logTargets returns the Pebble log targets forwarding every service's
// logs to each Loki unit (no promtail: Pebble pushes itself).
func (x *decider) logTargets() (map[string]workload.LogTarget, bool) {
	rel, ev := x.s.Logging, x.ev()
	if rel == nil || rel.Pending {
		return nil, true
	}
	urls, err := relations.ParseLokiEndpoints(rel.Units)
	if err != nil {
		x.malformed(rel, LoggingEndpoint, err)
		return nil, false
	}
	return workload.LokiTargets(urls, relations.LokiLabels(ev.Model, ev.ModelUUID, ev.App, ev.Unit)), true
}

// email returns the SMTP relay Synapse sends mail through, nil when the
// relation is absent or not ready yet; the note says why mail is off when
// the operator asked for it.
func (x *decider) email(publicBaseURL string) (*workload.Email, string, bool) {
	s, d, ev := x.s, x.d, x.ev()
	rel := s.SMTP
	if rel == nil {
		if s.Config.EnableEmailNotifs {
			return nil, fmt.Sprintf("enable_email_notifs needs an smtp integration: juju integrate %s smtp-integrator", ev.App), true
		}
		return nil, "", true
	}
	if rel.Pending {
		return nil, "joining the smtp relation", true
	}
	relay, err := relations.ParseSMTP(rel.App, rel.Secret)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("email is off until %s provides an SMTP relay", rel.RemoteApp), true
	case err != nil:
		x.malformed(rel, SMTPEndpoint, err)
		return nil, "", false
	}
	if relay.Security == relations.SMTPSecurityNone && relay.Password != "" {
		d.blocked(RankRelation, "smtp relation from %s: transport_security none would send the SMTP password in clear: juju config %s transport_security=starttls (or tls)", rel.RemoteApp, rel.RemoteApp)
		return nil, "", false
	}
	if relay.SkipVerify && relay.Security != relations.SMTPSecurityNone {
		// Synapse always verifies the relay's certificate; pretending
		// otherwise would fail every email later and silently.
		d.blocked(RankRelation, "smtp relation from %s asks to skip TLS verification, which Synapse cannot do: give %s a certificate valid for its name, then juju config %s skip_ssl_verify=false", rel.RemoteApp, relay.Host, rel.RemoteApp)
		return nil, "", false
	}
	from := s.Config.NotifFrom
	if from == "" {
		from = relay.Sender
	}
	if from == "" {
		from = "Matrix <noreply@" + s.Config.ServerName + ">"
	}
	return &workload.Email{
		Host: relay.Host, Port: relay.Port, User: relay.User, Password: relay.Password,
		Security: relay.Security, NotifFrom: from, EnableNotifs: s.Config.EnableEmailNotifs,
		ClientBaseURL: publicBaseURL,
	}, "", true
}

// saml returns the SAML2 identity provider to render, nil when the
// relation is absent or not ready yet (the note says which).
func (x *decider) saml() (*workload.SAML, string, bool) {
	s, d, ev := x.s, x.d, x.ev()
	rel := s.SAML
	if rel == nil {
		return nil, "", true
	}
	if rel.Pending {
		return nil, "joining the saml relation", true
	}
	idp, err := relations.ParseSAML(rel.App)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("single sign-on is off until %s provides the identity provider's metadata", rel.RemoteApp), true
	case err != nil:
		x.malformed(rel, SAMLEndpoint, err)
		return nil, "", false
	}
	if !x.samlMetadataSafe(rel, idp) {
		return nil, "", false
	}
	if s.Synapse.Reachable && !x.hasModule(SAMLModule) {
		d.blocked(RankImage, "SAML single sign-on needs pysaml2 (the %s Python module) and xmlsec1 in the synapse image: use an image that ships them, such as the upstream Synapse image, or juju remove-relation %s:%s %s", SAMLModule, ev.App, SAMLEndpoint, rel.RemoteApp)
		return nil, "", false
	}
	return &workload.SAML{
		SPEntityID:  SAMLEntityID(s.Config.PublicBaseURL, s.Config.ServerName),
		MetadataURL: idp.MetadataURL,
		Metadata:    idp.Metadata,
	}, "", true
}

// SAMLEntityID is Synapse's entity ID as a service provider: the URL of
// its SP metadata under public_baseurl, or under https://<server_name>/
// when that is unset. This is the ID the Python charm's Synapse presents,
// so the IdP keeps recognising Synapse after a switch of charms. Unlike
// the public base URL it does not follow the ingress: an entity ID must
// not change under the IdP's feet.
func SAMLEntityID(publicBaseURL, serverName string) string {
	if publicBaseURL == "" {
		publicBaseURL = "https://" + serverName + "/"
	}
	return publicBaseURL + "_synapse/client/saml2/metadata.xml"
}
