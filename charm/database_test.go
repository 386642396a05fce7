package charm_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

func startPostgres(t *testing.T) *bed.Postgres {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pg")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg, err := bed.StartPostgres(context.Background(), filepath.Join(dir, "pg"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })
	return pg
}

// TestDatabaseWithProviderLocaleIsFixedBeforeFirstStart integrates a
// database created the way postgresql-k8s creates it (non-C collation, a
// SUPERUSER relation user): the charm gives it the C locale before Synapse
// first uses it, and Synapse runs on PostgreSQL.
func TestDatabaseWithProviderLocaleIsFixedBeforeFirstStart(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t)
	pg := startPostgres(t)
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status)

	id := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	u.run("database-relation-created")
	assert.Equal(t, "synapse", u.mem.RelationData(id, "synapse", true)["database"])
	assert.Equal(t, "SUPERUSER", u.mem.RelationData(id, "synapse", true)["extra-user-roles"])
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Active, st.Status, "keeps serving on SQLite while waiting")
	assert.Contains(t, st.Message, "SQLite")

	// The provider answers, credentials in a secret as postgresql-k8s does.
	require.NoError(t, pg.CreateRole(ctx, "relation_id_1", "Abcdefgh12345678", true))
	require.NoError(t, pg.CreateDatabase(ctx, "synapse", "relation_id_1", false))
	secretID := u.mem.AddSecret("postgresql-k8s", "", map[string]string{"username": "relation_id_1", "password": "Abcdefgh12345678"})
	u.mem.SetRelationData(id, "postgresql-k8s", true, map[string]string{
		"secret-user": secretID,
		"endpoints":   pg.Host() + ":" + itoa(pg.Port()),
		"database":    "synapse",
		"version":     "15.18",
	})
	before := u.service().CurrentSince
	u.run("database-relation-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.True(t, u.service().CurrentSince.After(before), "synapse restarted onto PostgreSQL")

	collate, err := pg.Exec(ctx, "postgres", "SELECT datcollate || '/' || datctype FROM pg_database WHERE datname = 'synapse'")
	require.NoError(t, err)
	assert.Equal(t, "C/C", strings.TrimSpace(collate))
	tables, err := pg.Exec(ctx, "synapse", "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'")
	require.NoError(t, err)
	assert.Equal(t, "1", strings.TrimSpace(tables), "Synapse created its schema in PostgreSQL")
	hs := u.file("/data/homeserver.yaml")
	assert.Contains(t, hs, "name: psycopg2")
	assert.NotContains(t, hs, "Abcdefgh12345678", "the password is not in homeserver.yaml")
	// The SQLite database held no user and no room: nothing is left
	// behind, and the record says the data now lives in PostgreSQL.
	home, err := decide.ParseDataHome(u.mem.RelationData(u.mem.RelationIDs(decide.PeerEndpoint)[0], "synapse", true))
	require.NoError(t, err)
	require.NotNil(t, home)
	assert.Equal(t, decide.StorePostgreSQL, home.Database)

	// A second hook restarts nothing and runs no locale check again.
	since := u.service().CurrentSince
	u.run("database-relation-changed")
	assert.Equal(t, since, u.service().CurrentSince)
}

// TestDatabaseWithTablesAndWrongLocaleBlocks: a non-C database that already
// holds tables cannot be fixed safely; the unit blocks naming the fix and
// keeps serving on SQLite.
func TestDatabaseWithTablesAndWrongLocaleBlocks(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t)
	pg := startPostgres(t)
	u.run("config-changed")
	running := u.service().CurrentSince

	answer := providePostgres(t, pg, false)
	_, err := pg.Exec(ctx, "synapse", "CREATE TABLE leftover (id int)")
	require.NoError(t, err)
	id := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	u.mem.SetRelationData(id, "postgresql-k8s", true, answer)
	u.run("database-relation-changed")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.Contains(t, st.Message, "LC_COLLATE=C")
	assert.Equal(t, running, u.service().CurrentSince, "still serving, untouched")
	assert.Equal(t, 200, u.health())
}

func itoa(n int) string { return strconv.Itoa(n) }

// providePostgres does what postgresql-k8s does for the database relation:
// a SUPERUSER relation user and the database synapse (with the cluster's
// default, non-C collation unless collateC), and returns its answer with
// plain credentials.
func providePostgres(t *testing.T, pg *bed.Postgres, collateC bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pg.CreateRole(ctx, "relation_id_1", "Abcdefgh12345678", true))
	require.NoError(t, pg.CreateDatabase(ctx, "synapse", "relation_id_1", collateC))
	return map[string]string{
		"username": "relation_id_1", "password": "Abcdefgh12345678",
		"endpoints": pg.Host() + ":" + itoa(pg.Port()), "database": "synapse",
	}
}

// TestDatabaseRemovedKeepsTheLastConfig: removing the database relation
// from a unit running on PostgreSQL blocks with the fix named and leaves
// Synapse running on its last good configuration, never an empty SQLite.
func TestDatabaseRemovedKeepsTheLastConfig(t *testing.T) {
	u := newUnit(t)
	pg := startPostgres(t)
	u.run("config-changed")
	id := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	u.mem.SetRelationData(id, "postgresql-k8s", true, providePostgres(t, pg, true))
	u.run("database-relation-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	running := u.service().CurrentSince

	u.mem.RemoveRelation(id)
	u.run("database-relation-broken")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.Contains(t, st.Message, "juju integrate synapse postgresql-k8s")
	assert.Equal(t, running, u.service().CurrentSince, "no restart")
	assert.Contains(t, u.file("/data/homeserver.yaml"), "psycopg2", "still configured for PostgreSQL")
	assert.Equal(t, 200, u.health())
}

// TestDatabaseOutageIsReported: Synapse's /health stays 200 while
// PostgreSQL is away, so the unit's own Pebble check on the database is
// what turns the status from active to waiting, naming the database; when
// the database is back the next hook says active again, and nothing was
// restarted by the charm.
func TestDatabaseOutageIsReported(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t)
	pg := startPostgres(t)
	u.run("config-changed")
	id := u.mem.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	u.run("database-relation-created")
	u.mem.SetRelationData(id, "postgresql-k8s", true, providePostgres(t, pg, false))
	u.run("database-relation-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	since := u.service().CurrentSince

	waitStatus := func(want juju.StatusName, contains string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			u.run("update-status")
			st := u.mem.UnitStatus()
			if st.Status == want && strings.Contains(st.Message, contains) {
				return
			}
			require.True(t, time.Now().Before(deadline), "status stayed %s %q, want %s with %q", st.Status, st.Message, want, contains)
			time.Sleep(time.Second)
		}
	}
	require.NoError(t, pg.Stop())
	waitStatus(juju.Waiting, "PostgreSQL at "+pg.Host()+":"+itoa(pg.Port())+" does not answer from the synapse container")
	require.NoError(t, pg.Restart(ctx))
	waitStatus(juju.Active, "main")
	assert.Equal(t, since, u.service().CurrentSince, "the outage restarted nothing from the charm")
}
