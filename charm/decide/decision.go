package decide

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// Decision is everything one hook does, decided before any of it is done.
type Decision struct {
	// Writes are the relation bag writes, only keys whose value changes.
	Writes []BagWrite
	// CreateSecret asks for the application's secret to be created; its
	// ID then goes into the peer application bag under SecretIDKey.
	CreateSecret *NewSecret
	// UpdateSecret replaces the application secret's content (leader):
	// the same keys plus one the secret lacked.
	UpdateSecret *SecretUpdate
	// ProvidedSecrets are the secrets given to matrix-auth requirers
	// (leader): created or updated, then granted and named on relations.
	ProvidedSecrets []ProvidedSecret
	// VolumeID is written on this unit's /data volume when set: it names
	// the volume, so the unit holding the homeserver's data is found again.
	VolumeID string
	// AppVersion is published with application-version-set when set.
	AppVersion string
	// OpenPort opens nginx's port (on the hooks where Juju may need it
	// declared again).
	OpenPort bool
	// FixDatabase is the database whose locale the leader sets to C
	// before Synapse first uses it.
	FixDatabase *relations.Database
	// Synapse and Nginx are the desired state of each container; nil
	// leaves the container as it is.
	Synapse, Nginx *ContainerPlan
	// Report is what this unit publishes to its peers, nil for nothing;
	// when ReadyFromSynapse, its Ready is the synapse container's
	// readiness after the changes (see Conclude).
	Report           *relations.UnitReport
	ReadyFromSynapse bool
	// Items are the status items found; Conclude adds the workload's and
	// Status picks the one to show.
	Items []Item
	// Notes are appended to an active status.
	Notes []string
	// Warnings are appended to any status but blocked (whose message must
	// lead with the fix): what an operator must know about their data
	// whatever else the unit waits for.
	Warnings []string
	// Logs are lines for the unit log.
	Logs []LogLine
	// app names the application in the commands Conclude's statuses give.
	app string
	// RecoverRestore rolls back or completes a restore-backup found half
	// done, before the synapse container is applied; "" for none.
	RecoverRestore workload.RestoreRecovery
}

// BagWrite is a write to one relation bag.
type BagWrite struct {
	RelationID string
	// App is true for our application's bag (leader only), false for
	// this unit's.
	App  bool
	Data map[string]string
}

// NewSecret is an application-owned secret to create.
type NewSecret struct {
	Label, Description string
	Content            map[string]string
}

// SecretUpdate is a new revision of the application's secret.
type SecretUpdate struct {
	ID      string
	Content map[string]string
}

// ContainerPlan is the desired state of a container and the changes that
// get there from what Pebble runs now.
type ContainerPlan struct {
	Want    workload.Container
	Changes workload.Changes
	// Checks are the processes whose configuration the image's Synapse
	// loads before any file is pushed or process restarted: the ones that
	// start or restart (none on a hook that changes nothing).
	Checks []workload.ConfigCheck
}

// LogLine is a line for the unit log: Level "" is the charm's own stderr,
// "INFO" or "WARNING" go to juju-log.
type LogLine struct {
	Level, Message string
}

// Level is a workload status level.
type Level int

// Levels, in priority order: the highest present is shown.
const (
	Active Level = iota
	Maintenance
	Waiting
	Blocked
)

// String is the level as juju status shows it.
func (l Level) String() string {
	return [...]string{"active", "maintenance", "waiting", "blocked"}[l]
}

// Rank orders the items of one level: the lowest rank present is shown.
// The order is what an operator should fix or wait for first: their own
// input, then Juju's setup, the relations, the cluster plan, the
// workload's start, outside services, the router, coordination.
type Rank int

// Ranks, first shown first.
const (
	RankConfig Rank = iota
	RankSetup
	RankRelation
	RankImage
	RankPlan
	RankWorkload
	RankStarting
	RankDependency
	RankRouter
	RankCoordination
)

// Item is one thing the status could say.
type Item struct {
	Level   Level
	Rank    Rank
	Message string
}

// MaxMessage bounds a status message: values quoted from outside are cut
// so the status stays readable.
const MaxMessage = 480

// Status picks the status to show: the highest level, then the lowest
// rank, then the first found. An active status carries the notes.
func (d Decision) Status() Item {
	best := Item{Level: Active}
	found := false
	items := append([]Item(nil), d.Items...)
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Level != items[j].Level {
			return items[i].Level > items[j].Level
		}
		return items[i].Rank < items[j].Rank
	})
	if len(items) > 0 {
		best, found = items[0], true
	}
	var extra []string
	if !found || best.Level == Active {
		extra = append(extra, d.Notes...)
	}
	if best.Level != Blocked {
		extra = append(extra, d.Warnings...)
	}
	for _, n := range extra {
		if n != "" {
			best.Message += "; " + n
		}
	}
	best.Message = strings.TrimPrefix(best.Message, "; ")
	best.Message = Truncate(best.Message, MaxMessage)
	return best
}

func (d *Decision) add(level Level, rank Rank, format string, args ...any) {
	d.Items = append(d.Items, Item{Level: level, Rank: rank, Message: fmt.Sprintf(format, args...)})
}

func (d *Decision) blocked(rank Rank, format string, args ...any) {
	d.add(Blocked, rank, format, args...)
}

func (d *Decision) waiting(rank Rank, format string, args ...any) {
	d.add(Waiting, rank, format, args...)
}

func (d *Decision) note(n string) {
	if n != "" {
		d.Notes = append(d.Notes, n)
	}
}

func (d *Decision) logf(format string, args ...any) {
	d.Logs = append(d.Logs, LogLine{Message: fmt.Sprintf(format, args...)})
}

// set writes the keys of data that differ from have into the bag; keys in
// keepIfSet are written only when absent.
func (d *Decision) set(relationID string, app bool, have, data map[string]string, keepIfSet ...string) {
	keep := map[string]bool{}
	for _, k := range keepIfSet {
		keep[k] = true
	}
	changed := map[string]string{}
	for k, v := range data {
		if have[k] != v && !(keep[k] && have[k] != "") {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return
	}
	for i := range d.Writes {
		w := &d.Writes[i]
		if w.RelationID == relationID && w.App == app {
			for k, v := range changed {
				w.Data[k] = v
			}
			return
		}
	}
	d.Writes = append(d.Writes, BagWrite{RelationID: relationID, App: app, Data: changed})
}

// Write returns the data written to a bag, nil when none.
func (d Decision) Write(relationID string, app bool) map[string]string {
	for _, w := range d.Writes {
		if w.RelationID == relationID && w.App == app {
			return w.Data
		}
	}
	return nil
}

// Truncate cuts s to at most n bytes on a character boundary, marking the
// cut with "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
