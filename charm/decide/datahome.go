package decide

import (
	"encoding/json"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// DataHomeKey records, in the peer application bag, where the
// homeserver's state lives, once Synapse has first been configured.
const DataHomeKey = "data-home"

// Where the database and the media store live.
const (
	StoreSQLite     = "sqlite"
	StorePostgreSQL = "postgresql"
	StoreLocal      = "local"
	StoreS3         = "s3"
)

// DataHome is where the homeserver's state lives: its database (SQLite on
// one unit's volume, or PostgreSQL) and its media (on one unit's volume,
// or an S3 bucket). A volume is named by the ID the charm writes on it,
// so the unit that holds it is found again whatever its name.
type DataHome struct {
	// Database is StoreSQLite or StorePostgreSQL.
	Database string `json:"database"`
	// Postgres identifies the PostgreSQL database, "<name>@<host>", and
	// PostgresID tells it from another of that name on that host.
	Postgres   string `json:"postgres,omitempty"`
	PostgresID string `json:"postgres_id,omitempty"`
	// PostgresConn is where the identity was last read (user@host:port/
	// name): a provider pointing elsewhere is looked at again.
	PostgresConn string `json:"postgres_conn,omitempty"`
	// Media is StoreLocal or StoreS3.
	Media string `json:"media"`
	// Bucket is the S3 bucket of the media.
	Bucket string `json:"bucket,omitempty"`
	// Volume is the ID of the /data volume that holds the SQLite database
	// or the local media; Unit the unit it was last seen on.
	Volume string `json:"volume,omitempty"`
	Unit   string `json:"unit,omitempty"`
}

// Local reports whether any state lives on a unit's volume.
func (h DataHome) Local() bool {
	return h.Database == StoreSQLite || h.Media == StoreLocal
}

// Encode renders the record for the peer bag.
func (h DataHome) Encode() string {
	data, _ := json.Marshal(h)
	return string(data)
}

// ParseDataHome reads the record from the peer application bag: nil
// before Synapse was first configured.
func ParseDataHome(app map[string]string) (*DataHome, error) {
	raw := app[DataHomeKey]
	if raw == "" {
		return nil, nil
	}
	var h DataHome
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		return nil, fmt.Errorf("malformed %s record: %w", DataHomeKey, err)
	}
	switch {
	case h.Database != StoreSQLite && h.Database != StorePostgreSQL:
		return nil, fmt.Errorf("malformed %s record: database %q", DataHomeKey, h.Database)
	case h.Media != StoreLocal && h.Media != StoreS3:
		return nil, fmt.Errorf("malformed %s record: media %q", DataHomeKey, h.Media)
	case h.Local() && h.Unit == "":
		return nil, fmt.Errorf("malformed %s record: local state without a unit", DataHomeKey)
	}
	return &h, nil
}

// homeView is where the local state is as this hook sees it.
type homeView struct {
	// rec is the record, nil before the first start.
	rec *DataHome
	// unit is the live unit whose volume holds the local state, "" when
	// there is none or it is on no live unit.
	unit string
	// lost is true when local state lives on a volume no live unit has.
	lost bool
}

// volume is this unit's volume ID: the one on /data, or the one this hook
// writes there.
func (x *decider) volume() string {
	if x.s.Volume != "" {
		return x.s.Volume
	}
	return x.d.VolumeID
}

// home reads the data-home record and finds the live unit whose volume
// holds the local state. A malformed record blocks: guessing could put an
// empty homeserver in front of the users.
func (x *decider) home() (homeView, bool) {
	s, ev := x.s, x.ev()
	rec, err := ParseDataHome(x.app)
	if err != nil {
		x.d.blocked(RankPlan, "%s: restore the peer relation data, or remove the %s key with the leader's juju exec relation-set", Truncate(err.Error(), 200), DataHomeKey)
		return homeView{}, false
	}
	hv := homeView{rec: rec}
	if rec == nil || !rec.Local() {
		return hv, true
	}
	if x.volume() == rec.Volume {
		hv.unit = ev.Unit
		return hv, true
	}
	reported := map[string]string{ev.Unit: x.volume()}
	for u, bag := range s.Peer.Units {
		r, _ := relations.ParseUnitReport(bag)
		reported[u] = r.Volume
		if r.Volume == rec.Volume {
			hv.unit = u
			return hv, true
		}
	}
	if v, live := reported[rec.Unit]; live && v == "" {
		// That unit has not reported its volume yet (it runs an older
		// revision, or Pebble does not answer): it is still the home.
		hv.unit = rec.Unit
		return hv, true
	}
	hv.lost = true
	return hv, true
}

// dataLost stops this unit's Synapse when the SQLite database is on a
// volume no live unit holds: any Synapse started now would serve an empty
// homeserver under the same server_name.
func (x *decider) dataLost(hv homeView) {
	ev := x.ev()
	if x.s.Synapse.Reachable {
		x.applySynapse(workload.Container{Name: workload.SynapseContainer})
	}
	x.d.blocked(RankPlan, "the homeserver's SQLite database is on the volume of %s, which left the application; nothing serves until it is back: juju scale-application %s <units> (or juju attach-storage) to bring that volume back, or restore a backup (juju run %s/<n> restore-backup); integrate postgresql-k8s before scaling down",
		hv.rec.Unit, ev.App, ev.App)
}

// preferredMain is where a new main goes: the unit holding local state.
func (x *decider) preferredMain(hv homeView) string {
	return hv.unit
}

// recordHome keeps the data-home record (leader only): written once the
// workload is configured and the main's volume is known, then following
// the database and media as they move to PostgreSQL and S3.
func (x *decider) recordHome(hv homeView, plan planView, in inputs) {
	if !x.s.Leader || x.app[ServerNameKey] == "" {
		return
	}
	mainVolume := x.volume()
	if plan.main != x.ev().Unit {
		r, _ := relations.ParseUnitReport(x.s.Peer.Units[plan.main])
		mainVolume = r.Volume
	}
	var next DataHome
	if hv.rec != nil {
		next = *hv.rec
	}
	next.Database, next.Postgres = StoreSQLite, ""
	if in.db != nil {
		marker := in.db.Name + "@" + in.db.Host
		if hv.rec == nil || hv.rec.Database != StorePostgreSQL || hv.rec.Postgres != marker {
			next.PostgresID, next.PostgresConn = "", ""
		}
		next.Database, next.Postgres = StorePostgreSQL, marker
		if l := x.s.DatabaseLocale; l != nil && l.Identity != "" {
			// Observed this hook, and accepted (a refused database
			// stops the hook before this).
			next.PostgresID, next.PostgresConn = l.Identity, PostgresConn(in.db)
		}
	} else {
		next.PostgresID, next.PostgresConn = "", ""
	}
	switch {
	case in.media != nil:
		next.Media, next.Bucket = StoreS3, in.media.Bucket
	case hv.rec == nil || hv.rec.Media == StoreS3:
		// Media is local from now on: on the main's volume.
		next.Media, next.Bucket = StoreLocal, ""
		next.Volume, next.Unit = "", ""
	}
	switch {
	case !next.Local():
		next.Volume, next.Unit = "", ""
	case next.Volume == "":
		if mainVolume == "" {
			return // recorded once the main reports its volume
		}
		next.Volume, next.Unit = mainVolume, plan.main
	case hv.unit != "":
		next.Unit = hv.unit
	}
	if hv.rec == nil || next != *hv.rec {
		x.setPeerApp(map[string]string{DataHomeKey: next.Encode()})
	}
}

// mediaNote says where media uploaded before a main move is, until S3
// holds the media.
func (x *decider) mediaNote(hv homeView) string {
	if hv.rec == nil || hv.rec.Media != StoreLocal || !hv.lost {
		return ""
	}
	return fmt.Sprintf("media uploaded before the main moved is on the volume of %s, which left: juju integrate %s:%s s3-integrator to keep media off unit volumes", hv.rec.Unit, x.ev().App, MediaEndpoint)
}

// planView is what recordHome needs of the plan.
type planView struct{ main string }

// PostgresConn names where a database is reached, without its password.
func PostgresConn(db *relations.Database) string {
	return fmt.Sprintf("%s@%s:%d/%s", db.User, db.Host, db.Port, db.Name)
}
