package container

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUsesPostgresReadsTheDatabaseSection: the engine comes from
// database.name, so a SQLite unit whose whitelist or bucket mentions
// psycopg2 still backs up and restores its database (a text search for
// "psycopg2" took it for PostgreSQL).
func TestUsesPostgresReadsTheDatabaseSection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		pg         bool
		err        string
	}{
		{"sqlite", "database:\n  name: sqlite3\n  args: {database: /data/homeserver.db}\n", false, ""},
		{"postgres", "database:\n  name: psycopg2\n  args: {host: db, user: synapse}\n", true, ""},
		{"sqlite, whitelist mentions psycopg2", "federation_domain_whitelist: [psycopg2.example.com, matrix.org]\ndatabase:\n  name: sqlite3\n  args: {database: /data/homeserver.db}\n", false, ""},
		{"sqlite, S3 bucket named psycopg2", "database: {name: sqlite3, args: {database: /data/homeserver.db}}\nmedia_storage_providers:\n- module: s3_storage_provider.S3StorageProviderBackend\n  config: {bucket: psycopg2-media}\n", false, ""},
		{"postgres, mentioned later as sqlite3", "database: {name: psycopg2}\nfederation_domain_whitelist: [sqlite3.example]\n", true, ""},
		{"no database section", "server_name: x\n", false, `database.name is ""`},
		{"another engine", "database: {name: mysql}\n", false, `"mysql", neither`},
		{"not YAML", "database: [\n", false, "parse /data/homeserver.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg, err := usesPostgres([]byte(tc.yaml))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.pg, pg)
		})
	}
}
