package juju

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Event is what started this run of the charm: one hook or one action, with
// the context Juju gives it in the environment.
type Event struct {
	// Name is the hook name without the "hooks/" prefix, e.g.
	// "config-changed", "synapse-pebble-ready" or
	// "database-relation-changed"; for an action, the action name, e.g.
	// "register-user".
	Name string
	// IsAction is true when the charm runs an action rather than a hook.
	IsAction bool

	// Unit is this unit's name, e.g. "synapse/2" (JUJU_UNIT_NAME).
	Unit string
	// App is this unit's application, e.g. "synapse".
	App string
	// UnitNumber is the number of this unit, e.g. 2 for "synapse/2".
	UnitNumber int
	// Model is the model name (JUJU_MODEL_NAME).
	Model string
	// ModelUUID is the model UUID (JUJU_MODEL_UUID).
	ModelUUID string
	// JujuVersion is the agent version, e.g. "3.6.25" (JUJU_VERSION).
	JujuVersion string
	// CharmDir is the charm directory (JUJU_CHARM_DIR, or the legacy
	// CHARM_DIR).
	CharmDir string

	// RelationName is the endpoint of a relation hook, e.g. "database"
	// (JUJU_RELATION).
	RelationName string
	// RelationID is the relation of a relation hook as "endpoint:id", e.g.
	// "database:3" (JUJU_RELATION_ID). Pass it unchanged to the relation
	// tools.
	RelationID string
	// RemoteUnit is the remote unit of a relation hook, e.g.
	// "postgresql-k8s/0" (JUJU_REMOTE_UNIT); empty for app-level changes.
	RemoteUnit string
	// RemoteApp is the remote application of a relation hook
	// (JUJU_REMOTE_APP).
	RemoteApp string
	// DepartingUnit is the unit leaving, in relation-departed
	// (JUJU_DEPARTING_UNIT).
	DepartingUnit string

	// WorkloadName is the container of a workload hook, e.g. "synapse"
	// (JUJU_WORKLOAD_NAME).
	WorkloadName string
	// CheckName is the Pebble check of pebble-check-failed and
	// pebble-check-recovered (JUJU_PEBBLE_CHECK_NAME).
	CheckName string
	// NoticeID is the Pebble notice of pebble-custom-notice (JUJU_NOTICE_ID).
	NoticeID string
	// NoticeType is the Pebble notice type, "custom" (JUJU_NOTICE_TYPE).
	NoticeType string
	// NoticeKey is the Pebble notice key, e.g. "example.com/synapse/x"
	// (JUJU_NOTICE_KEY).
	NoticeKey string

	// SecretID is the secret of a secret-* hook (JUJU_SECRET_ID).
	SecretID string
	// SecretLabel is that secret's label, if it has one (JUJU_SECRET_LABEL).
	SecretLabel string
	// SecretRevision is the revision concerned, when Juju gives one
	// (JUJU_SECRET_REVISION); 0 otherwise.
	SecretRevision int

	// StorageID is the storage instance of a storage hook, e.g. "data/0"
	// (JUJU_STORAGE_ID).
	StorageID string
	// StorageLocation is where that storage is mounted
	// (JUJU_STORAGE_LOCATION).
	StorageLocation string

	// ActionUUID identifies the running action (JUJU_ACTION_UUID).
	ActionUUID string
}

// EventFromEnv reads the event from the environment Juju gives dispatch.
// getenv is usually os.Getenv. JUJU_DISPATCH_PATH ("hooks/<name>" or
// "actions/<name>") and JUJU_UNIT_NAME ("<app>/<n>") are required; a missing
// or malformed one is an error, as is a JUJU_SECRET_REVISION that is not a
// number.
func EventFromEnv(getenv func(string) string) (Event, error) {
	var e Event
	path := getenv("JUJU_DISPATCH_PATH")
	if path == "" {
		return e, errors.New("JUJU_DISPATCH_PATH is not set: not run by the Juju unit agent")
	}
	kind, name, ok := strings.Cut(path, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return e, fmt.Errorf("JUJU_DISPATCH_PATH %q: want hooks/<name> or actions/<name>", path)
	}
	switch kind {
	case "hooks":
	case "actions":
		e.IsAction = true
	default:
		return e, fmt.Errorf("JUJU_DISPATCH_PATH %q: want hooks/<name> or actions/<name>", path)
	}
	e.Name = name

	e.Unit = getenv("JUJU_UNIT_NAME")
	app, num, err := splitUnitName(e.Unit)
	if err != nil {
		return e, fmt.Errorf("JUJU_UNIT_NAME: %w", err)
	}
	e.App, e.UnitNumber = app, num

	e.Model = getenv("JUJU_MODEL_NAME")
	e.ModelUUID = getenv("JUJU_MODEL_UUID")
	e.JujuVersion = getenv("JUJU_VERSION")
	e.CharmDir = getenv("JUJU_CHARM_DIR")
	if e.CharmDir == "" {
		e.CharmDir = getenv("CHARM_DIR")
	}

	e.RelationName = getenv("JUJU_RELATION")
	e.RelationID = getenv("JUJU_RELATION_ID")
	e.RemoteUnit = getenv("JUJU_REMOTE_UNIT")
	e.RemoteApp = getenv("JUJU_REMOTE_APP")
	e.DepartingUnit = getenv("JUJU_DEPARTING_UNIT")

	e.WorkloadName = getenv("JUJU_WORKLOAD_NAME")
	e.CheckName = getenv("JUJU_PEBBLE_CHECK_NAME")
	e.NoticeID = getenv("JUJU_NOTICE_ID")
	e.NoticeType = getenv("JUJU_NOTICE_TYPE")
	e.NoticeKey = getenv("JUJU_NOTICE_KEY")

	e.SecretID = getenv("JUJU_SECRET_ID")
	e.SecretLabel = getenv("JUJU_SECRET_LABEL")
	if rev := getenv("JUJU_SECRET_REVISION"); rev != "" {
		n, err := strconv.Atoi(rev)
		if err != nil || n < 0 {
			return e, fmt.Errorf("JUJU_SECRET_REVISION %q is not a revision number", rev)
		}
		e.SecretRevision = n
	}

	e.StorageID = getenv("JUJU_STORAGE_ID")
	e.StorageLocation = getenv("JUJU_STORAGE_LOCATION")

	e.ActionUUID = getenv("JUJU_ACTION_UUID")
	return e, nil
}

// splitUnitName splits "synapse/2" into "synapse" and 2.
func splitUnitName(unit string) (string, int, error) {
	if unit == "" {
		return "", 0, errors.New("not set")
	}
	app, n, ok := strings.Cut(unit, "/")
	if !ok || app == "" {
		return "", 0, fmt.Errorf("%q is not a unit name (<app>/<n>)", unit)
	}
	num, err := strconv.Atoi(n)
	if err != nil || num < 0 || strconv.Itoa(num) != n {
		return "", 0, fmt.Errorf("%q is not a unit name (<app>/<n>)", unit)
	}
	return app, num, nil
}

// kindSuffixes are the hook kinds that carry an endpoint, container or
// storage name in front, longest first where one ends another.
var kindSuffixes = [...]string{
	"relation-created",
	"relation-joined",
	"relation-changed",
	"relation-departed",
	"relation-broken",
	"pebble-ready",
	"pebble-custom-notice",
	"pebble-check-failed",
	"pebble-check-recovered",
	"storage-attached",
	"storage-detaching",
}

// Kind is the event's name with its endpoint, container or storage name
// removed, for a switch: "relation-changed" for "database-relation-changed",
// "pebble-ready" for "synapse-pebble-ready", "storage-attached" for
// "data-storage-attached". Any other hook (and every action) is its Name.
func (e Event) Kind() string {
	if e.IsAction {
		return e.Name
	}
	for _, suffix := range kindSuffixes {
		if len(e.Name) > len(suffix)+1 && strings.HasSuffix(e.Name, suffix) && e.Name[len(e.Name)-len(suffix)-1] == '-' {
			return suffix
		}
	}
	return e.Name
}
