package charm

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
)

// TestBackupsRunWhereTheDataIs: create-backup and restore-backup run on
// the unit whose volume holds the SQLite database or the media (the
// data-home record; before it, the plan's main), or fail naming it.
func TestBackupsRunWhereTheDataIs(t *testing.T) {
	mainIs1 := topology.Compute(topology.View{Units: []string{"synapse/0", "synapse/1"}, Leader: "synapse/1"}).Encode()
	home := func(h decide.DataHome) string { return h.Encode() }
	for _, tc := range []struct {
		name string
		app  map[string]string
		err  string
	}{
		{"no record, no plan", map[string]string{}, ""},
		{"SQLite and media here", map[string]string{decide.DataHomeKey: home(decide.DataHome{Database: decide.StoreSQLite, Media: decide.StoreLocal, Unit: "synapse/0"}), decide.PlanKey: mainIs1}, ""},
		{"SQLite and media on synapse/1", map[string]string{decide.DataHomeKey: home(decide.DataHome{Database: decide.StoreSQLite, Media: decide.StoreLocal, Unit: "synapse/1"})},
			"run it on synapse/1: its volume holds the SQLite database and the media"},
		{"media only on synapse/2", map[string]string{decide.DataHomeKey: home(decide.DataHome{Database: decide.StorePostgreSQL, Postgres: "synapse@db", Media: decide.StoreLocal, Unit: "synapse/2"})},
			"run it on synapse/2: its volume holds the media"},
		{"SQLite on synapse/1, media in S3", map[string]string{decide.DataHomeKey: home(decide.DataHome{Database: decide.StoreSQLite, Media: decide.StoreS3, Bucket: "m", Unit: "synapse/1"})},
			"run it on synapse/1: its volume holds the SQLite database"},
		{"PostgreSQL and S3: any unit", map[string]string{decide.DataHomeKey: home(decide.DataHome{Database: decide.StorePostgreSQL, Postgres: "synapse@db", Media: decide.StoreS3, Bucket: "m"}), decide.PlanKey: mainIs1}, ""},
		{"no record: the plan's main", map[string]string{decide.PlanKey: mainIs1},
			"run it on synapse/1: it is the main, whose volume holds the SQLite database and the media"},
		{"malformed record", map[string]string{decide.DataHomeKey: "{"}, "cannot tell which unit holds the data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &decide.Snapshot{Event: decide.Event{Unit: "synapse/0"}, Peer: &decide.PeerView{App: tc.app}}
			err := dataUnit(s)
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.err)
		})
	}
	assert.NoError(t, dataUnit(&decide.Snapshot{Event: decide.Event{Unit: "synapse/0"}}), "no peer relation yet")
}
