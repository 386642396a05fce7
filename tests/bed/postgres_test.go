package bed_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

func startPostgres(t *testing.T) *bed.Postgres {
	t.Helper()
	start := time.Now()
	pg, err := bed.StartPostgres(testContext(t, time.Minute), t.TempDir())
	require.NoError(t, err)
	t.Logf("postgres on %s:%d in %v", pg.Host(), pg.Port(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { assert.NoError(t, pg.Stop()) })
	return pg
}

func TestPostgresDatabaseCollation(t *testing.T) {
	bed.RequireRoot(t)
	ctx := testContext(t, time.Minute)
	pg := startPostgres(t)

	require.NoError(t, pg.CreateRole(ctx, "synapse", "s3cr'et", false))
	require.NoError(t, pg.CreateDatabase(ctx, "synapse", "synapse", true))
	require.NoError(t, pg.CreateDatabase(ctx, "k8sdefault", "synapse", false))

	got, err := pg.Exec(ctx, "postgres",
		"SELECT datname, datcollate, datctype, pg_get_userbyid(datdba) FROM pg_database WHERE datname IN ('synapse', 'k8sdefault') ORDER BY datname")
	require.NoError(t, err)
	assert.Equal(t, "k8sdefault|"+bed.NonCLocale+"|"+bed.NonCLocale+"|synapse\nsynapse|C|C|synapse", got)

	require.NoError(t, pg.DropDatabase(ctx, "k8sdefault"))
	got, err = pg.Exec(ctx, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'k8sdefault'")
	require.NoError(t, err)
	assert.Equal(t, "0", got)

	_, err = pg.Exec(ctx, "synapse", "SELEC nonsense")
	assert.ErrorContains(t, err, "syntax error")
}

func TestPostgresRestartKeepsDataAndPort(t *testing.T) {
	bed.RequireRoot(t)
	ctx := testContext(t, time.Minute)
	pg := startPostgres(t)
	require.NoError(t, pg.CreateDatabase(ctx, "kept", "", true))
	port, oldPID := pg.Port(), pg.PID()

	start := time.Now()
	require.NoError(t, pg.Restart(ctx))
	t.Logf("restart took %v", time.Since(start).Round(time.Millisecond))

	assert.Equal(t, port, pg.Port())
	assert.NotEqual(t, oldPID, pg.PID())
	assert.ErrorIs(t, syscall.Kill(oldPID, 0), syscall.ESRCH, "old postmaster is gone")
	got, err := pg.Exec(ctx, "kept", "SELECT current_database()")
	require.NoError(t, err)
	assert.Equal(t, "kept", got)

	require.NoError(t, pg.Stop())
	assert.ErrorIs(t, syscall.Kill(pg.PID(), 0), syscall.ESRCH, "postmaster is gone after Stop")
	require.NoError(t, pg.Stop(), "stopping twice is fine")
}
