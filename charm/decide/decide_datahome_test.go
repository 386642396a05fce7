package decide_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// ttHome reads the data-home record a snapshot's peer bag holds.
func ttHome(t testing.TB, s decide.Snapshot) decide.DataHome {
	t.Helper()
	h, err := decide.ParseDataHome(s.Peer.App)
	require.NoError(t, err)
	require.NotNil(t, h, "the leader recorded where the data lives")
	return *h
}

// ttSQLitePair is a settled SQLite monolith on synapse/0 (leader, main)
// with synapse/1 joined and blocked for want of PostgreSQL and Redis.
func ttSQLitePair(t testing.TB) (main, other decide.Snapshot) {
	t.Helper()
	main = ttReady(t)
	main.Peer.Units["synapse/1"] = map[string]string{}
	main = ttSettle(t, main)
	other = ttSettle(t, ttPeerOf(t, main, "synapse/1", ttAddr1))
	main.Peer.Units["synapse/1"] = ttBag(other.Peer.Own)
	main = ttSettle(t, main)
	return main, other
}

func TestDataHomeIsRecordedOnFirstStart(t *testing.T) {
	s := ttReady(t)
	h := ttHome(t, s)
	assert.Equal(t, decide.DataHome{Database: decide.StoreSQLite, Media: decide.StoreLocal, Volume: "vol-synapse-0", Unit: "synapse/0"}, h)
	assert.Equal(t, "vol-synapse-0", s.Peer.Own["volume"], "every unit reports its volume")
}

func TestMainUnitLeavingWithSQLiteStartsNoEmptyServer(t *testing.T) {
	main, other := ttSQLitePair(t)
	require.Equal(t, "synapse/0", ttPlan(t, main.Peer.App).Main)

	// synapse/0 leaves; synapse/1 becomes leader.
	other.Leader = true
	other.Event.Kind = "leader-elected"
	delete(other.Peer.Units, "synapse/0")
	d := decide.Decide(other)
	st := ttStatus(d)
	assert.Equal(t, decide.Blocked, st.Level)
	assert.True(t, ttHas(st.Message, "SQLite database is on the volume of synapse/0", "juju scale-application synapse", "restore-backup"), st.Message)
	assert.NotContains(t, d.Write(ttPeerID, true), decide.PlanKey, "no plan names a new main")
	if d.Synapse != nil {
		assert.Empty(t, d.Synapse.Want.Layer.Services, "nothing runs that would serve an empty homeserver")
	}

	// Its volume comes back on a new unit (storage reattached): that unit
	// is the home again and becomes the main.
	other = ttApply(t, other, d)
	other.Peer.Units["synapse/2"] = map[string]string{"volume": "vol-synapse-0", "ip": "10.1.0.12"}
	d = decide.Decide(other)
	plan := ttPlan(t, ttApply(t, other, d).Peer.App)
	assert.Equal(t, "synapse/2", plan.Main, "the main goes where the data is")
}

func TestMainMovesWithPostgreSQLButSaysWhereOldMediaIs(t *testing.T) {
	leader, worker := ttTwoUnits(t, nil)
	require.Equal(t, "synapse/0", ttPlan(t, leader.Peer.App).Main)
	h := ttHome(t, leader)
	require.Equal(t, decide.StorePostgreSQL, h.Database)
	require.Equal(t, decide.StoreLocal, h.Media)

	worker.Leader = true
	worker.Event.Kind = "leader-elected"
	delete(worker.Peer.Units, "synapse/0")
	worker.DatabaseLocale = ttCLocale()
	worker = ttSettle(t, worker)
	assert.Equal(t, "synapse/1", ttPlan(t, worker.Peer.App).Main, "PostgreSQL holds the data: the main may move")
	st := ttStatus(decide.Decide(worker))
	assert.True(t, ttHas(st.Message, "media uploaded before the main moved is on the volume of synapse/0", "juju integrate synapse:media s3-integrator"), st.Message)
}

func TestPostgreSQLAfterFirstStart(t *testing.T) {
	withUsers := &workload.SQLiteContent{Users: 3, Rooms: 2}
	for _, tc := range []struct {
		name   string
		sqlite *workload.SQLiteContent
		locale *workload.DatabaseLocale
		want   []string // empty: accepted
	}{
		{"fresh SQLite, empty database: accepted", ttEmptySQLite(), ttCLocale(), nil},
		{"SQLite with users, empty database: refused", withUsers, ttCLocale(),
			[]string{"its SQLite database (3 users, 2 rooms) on synapse/0", "synapse_port_db", "juju remove-relation synapse:database postgresql-k8s"}},
		{"SQLite with users, database holding this server's data: accepted (ported)", withUsers, &workload.DatabaseLocale{Collate: "C", CType: "C", Tables: 140, Superuser: true}, nil},
		{"another server's database: refused", ttEmptySQLite(), &workload.DatabaseLocale{Collate: "C", CType: "C", Tables: 140, ForeignUsers: 12, Superuser: true},
			[]string{"holds 12 users of another server than test.local", "juju remove-relation synapse:database postgresql-k8s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ttReady(t)
			s.Database, s.DatabaseLocale, s.SQLite = ttDatabase(), tc.locale, tc.sqlite
			d := decide.Decide(s)
			st := ttStatus(d)
			if tc.want == nil {
				assert.Equal(t, decide.Active, st.Level, st.Message)
				assert.Contains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "name: psycopg2")
				return
			}
			assert.Equal(t, decide.Blocked, st.Level)
			assert.True(t, ttHas(st.Message, tc.want...), st.Message)
			assert.Nil(t, d.Synapse, "Synapse keeps serving its SQLite data")
		})
	}

	t.Run("a different, empty database after PostgreSQL: refused", func(t *testing.T) {
		s := ttReady(t)
		s.Database, s.DatabaseLocale, s.SQLite = ttDatabase(), ttCLocale(), ttEmptySQLite()
		s = ttSettle(t, ttApply(t, s, decide.Decide(s)))
		require.Equal(t, decide.StorePostgreSQL, ttHome(t, s).Database)
		s.Database = ttDatabase()
		s.Database.App["endpoints"] = "other-db:5432"
		s.DatabaseLocale = ttCLocale()
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Blocked, st.Level)
		assert.True(t, ttHas(st.Message, "the homeserver's data is in database synapse@"+ttDBHost, "synapse@other-db is empty"), st.Message)
		assert.False(t, strings.Contains(st.Message, ttDBPass))
		assert.Nil(t, d.Synapse)
	})
}

func TestUnreadablePlanIsRebuiltWithoutRestarts(t *testing.T) {
	leader, worker := ttTwoUnits(t, nil)
	before := ttPlan(t, leader.Peer.App)
	for _, garbage := range []string{"{not json", `{"version":1,"generation":0}`, `{"version":1,"generation":3,"main":"synapse/0","processes":[],"surprise":1}`} {
		t.Run(garbage, func(t *testing.T) {
			l, w := ttClone(leader), ttClone(worker)
			l.Peer.App[decide.PlanKey] = garbage
			w.Peer.App[decide.PlanKey] = garbage
			dw := decide.Decide(w)
			assert.Equal(t, decide.Waiting, ttStatus(dw).Level, "a non-leader waits for the leader's repair")
			assert.Nil(t, dw.Synapse, "and keeps running what it runs")

			d := decide.Decide(l)
			require.NotNil(t, d.Synapse)
			assert.False(t, ttTouches(d.Synapse), "the rebuilt plan matches what runs: nothing restarts")
			after := ttPlan(t, ttApply(t, l, d).Peer.App)
			assert.Equal(t, before.Main, after.Main)
			assert.Equal(t, before.Processes, after.Processes, "the same slots on the same units")
			assert.Greater(t, after.Generation, before.Generation, "every unit applies it again")
		})
	}
	t.Run("a plan from a newer revision blocks naming the refresh", func(t *testing.T) {
		l := ttClone(leader)
		l.Peer.App[decide.PlanKey] = `{"version":2,"generation":9,"main":"synapse/0"}`
		st := ttStatus(decide.Decide(l))
		assert.Equal(t, decide.Blocked, st.Level)
		assert.Contains(t, st.Message, "refresh the charm")
	})
}

// A PostgreSQL application removed and deployed again answers under the
// same database name and host: the identity inside tells it apart.
func TestRecreatedDatabaseUnderTheSameNameIsRefused(t *testing.T) {
	s := ttReady(t)
	s.Database, s.SQLite = ttDatabase(), ttEmptySQLite()
	s.DatabaseLocale = &workload.DatabaseLocale{Collate: "C", CType: "C", Superuser: true, Identity: "7311/16384"}
	s = ttSettle(t, ttApply(t, s, decide.Decide(s)))
	require.Equal(t, "7311/16384", ttHome(t, s).PostgresID, "the identity is recorded")

	for _, tc := range []struct {
		name   string
		locale *workload.DatabaseLocale
		refuse bool
	}{
		{"the same database", &workload.DatabaseLocale{Collate: "C", CType: "C", Tables: 140, Identity: "7311/16384"}, false},
		{"recreated, empty", &workload.DatabaseLocale{Collate: "C", CType: "C", Identity: "9044/16390"}, true},
		{"recreated, restored", &workload.DatabaseLocale{Collate: "C", CType: "C", Tables: 140, Identity: "9044/16390"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := ttClone(s)
			x.Event.Kind = "relation-changed"
			x.DatabaseLocale = tc.locale
			d := decide.Decide(x)
			st := ttStatus(d)
			if !tc.refuse {
				assert.Equal(t, decide.Active, st.Level, st.Message)
				return
			}
			assert.Equal(t, decide.Blocked, st.Level)
			assert.True(t, ttHas(st.Message, "is not the one the homeserver's data is in", "juju remove-relation synapse:database postgresql-k8s"), st.Message)
			assert.Nil(t, d.Synapse, "Synapse is not moved onto the empty database")
		})
	}
}
