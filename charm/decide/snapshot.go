package decide

import (
	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// Snapshot is everything one hook reads, read once before deciding:
// the event, what Juju holds (config, leadership, relation bags, secret
// contents) and the facts of the workload containers. Nothing is read
// after it is taken.
type Snapshot struct {
	Event Event
	// Leader is true on the leader unit.
	Leader bool
	// Config is the validated configuration; ConfigErr says why it is not.
	Config    config.Config
	ConfigErr error
	// Address is the address this unit's processes bind to.
	Address string
	// Peer is the peer relation, nil before Juju has created it.
	Peer *PeerView
	// Goal is this application's units as goal-state lists them, with
	// their goal status ("active", "dying", ...); read by the leader, nil
	// when not read. A peer missing from it, or dying, has left even when
	// its relation-departed never arrives.
	Goal map[string]string
	// The relations to provider applications (the first of each endpoint),
	// nil when not integrated.
	Database, Redis, Media, Ingress, Logging, Backup, SMTP, NginxRoute, SAML *RelationView
	// Metrics and Dashboards are every metrics-endpoint and
	// grafana-dashboard relation.
	Metrics, Dashboards []*RelationView
	// MatrixAuth is every matrix-auth relation (bridges and bots); a
	// view's Secret is a v0 requirer's registration secret.
	MatrixAuth []*RelationView
	// MatrixAuthSecrets are the secrets we provide over matrix-auth.
	MatrixAuthSecrets MatrixAuthSecrets
	// AppSecret is the application's secret: signing key and shared
	// Synapse secrets.
	AppSecret AppSecret
	// Python is what the Python charm left (see python.go).
	Python PythonState
	// Synapse and Nginx are the facts of the two workload containers.
	Synapse, Nginx ContainerFacts
	// Image is what the synapse image holds.
	Image ImageFacts
	// DatabaseLocale is the PostgreSQL database's locale, read by the
	// leader before Synapse first uses a database; nil when not read.
	DatabaseLocale *workload.DatabaseLocale
	// DatabaseLocaleErr says why the locale could not be read.
	DatabaseLocaleErr error
	// SQLite is what this unit's SQLite database holds, read with the
	// locale when a new PostgreSQL database is offered; nil when not read.
	SQLite *workload.SQLiteContent
	// Volume is the ID the charm wrote on this unit's /data volume, ""
	// when none yet (or Pebble does not answer); FreshVolumeID is a new
	// random ID to write then.
	Volume, FreshVolumeID string
	// Exporter is the nginx exporter program to ship into the nginx
	// container, nil for none.
	Exporter *workload.Executable
	// RestorePending is the phase of a restore-backup that did not finish
	// on this unit's volume, "" when none (or Pebble does not answer).
	RestorePending workload.RestorePhase
}

// Event is the hook being run, as the decisions need it.
type Event struct {
	// Kind is the hook name without endpoint or container, e.g.
	// "relation-changed", "pebble-ready", "config-changed".
	Kind string
	// Unit and App are this unit and its application; Model and ModelUUID
	// the model.
	Unit, App, Model, ModelUUID string
	// RelationID is the relation of a relation hook ("endpoint:id").
	RelationID string
	// DepartingUnit is the unit leaving, in relation-departed.
	DepartingUnit string
}

// PeerView is the peer relation as this unit sees it.
type PeerView struct {
	ID string
	// App is the peer application bag.
	App map[string]string
	// Units are the other live units' bags.
	Units map[string]map[string]string
	// Own is this unit's bag.
	Own map[string]string
}

// LiveUnits returns this unit and its live peers.
func (p *PeerView) LiveUnits(self string) []string {
	units := []string{self}
	for u := range p.Units {
		units = append(units, u)
	}
	return units
}

// RelationView is one relation to another application.
type RelationView struct {
	ID        string
	RemoteApp string
	// App is the remote application's bag.
	App map[string]string
	// Units are the remote units' bags (read for the endpoints that need
	// them).
	Units map[string]map[string]string
	// Pending is true when this unit has not entered the relation yet
	// (its relation-created has not run): nothing can be read.
	Pending bool
	// Local is our application's bag (what we requested); leader only.
	Local map[string]string
	// Own is this unit's bag, for the endpoints where units publish.
	Own map[string]string
	// Secret is the content of the provider's secret the remote bag names
	// (database credentials, SMTP password, S3 keys); nil while unreadable.
	Secret map[string]string
}

// AppSecret is the application's own secret as observed.
type AppSecret struct {
	// ID is the secret's ID: the one the peer bag names, or the one found
	// by its label when the bag lost it; "" when there is none.
	ID string
	// Content is its content, when ID is set.
	Content map[string]string
	// Legacy is true when ID was found under LegacySecretIDKey.
	Legacy bool
	// Fresh are newly generated secrets, used only when the leader finds
	// no secret at all (randomness enters the decision here).
	Fresh *workload.Secrets
	// FreshAdminLocalpart is a new admin name, observed by the leader
	// when the secret has none (made before the charm kept one).
	FreshAdminLocalpart string
}

// ContainerFacts is what Pebble says about one workload container.
type ContainerFacts struct {
	// Reachable is false when Pebble does not answer (the pod is starting
	// or gone); nothing else is then known.
	Reachable bool
	// State is the current plan and which services run.
	State workload.PebbleState
}

// ImageFacts is what the synapse image holds.
type ImageFacts struct {
	// SynapseVersion is the image's Synapse version; VersionErr says why
	// it could not be read.
	SynapseVersion string
	VersionErr     error
	// VersionAsked is true when the version was asked from the image this
	// hook (not taken from this unit's last report).
	VersionAsked bool
	// Modules are the Python modules checked this hook, with whether the
	// image has them. A module not checked is absent: the configuration
	// already uses it, so it was there.
	Modules map[string]bool
	// Programs are the files of the image that options need (absolute
	// paths, checked only while the option is on), with whether they exist.
	Programs map[string]bool
	// NoSynapseUser is true when the image's /etc/passwd has no user with
	// uid workload.SynapseUserID, which every Synapse process runs as.
	NoSynapseUser bool
	// Report is what the image probe found against
	// workload.SynapseImageContract: this hook, or cached in this unit's
	// peer bag (relations.PeerKeyImage) since the image's pebble-ready.
	Report workload.ImageReport
	// Probed is true when the probe ran this hook: its report is cached.
	Probed bool
}
