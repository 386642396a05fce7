package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// DatabaseLocale is what the charm needs to know about a PostgreSQL
// database before Synapse first uses it.
type DatabaseLocale = workload.DatabaseLocale

// localeScript runs inside the synapse container with the image's own
// psycopg2, so the charm needs no database driver. Credentials arrive on
// stdin, never in argv or the environment. In "check" mode it only reads;
// in "fix" mode it sets the C locale (which needs SUPERUSER).
const localeScript = `
import json, sys
import psycopg2
p = json.load(sys.stdin)
conn = psycopg2.connect(host=p["host"], port=p["port"], user=p["user"], password=p["password"], dbname=p["database"], connect_timeout=10)
conn.autocommit = True
cur = conn.cursor()
if p["mode"] == "fix":
    cur.execute("UPDATE pg_database SET datcollate = 'C', datctype = 'C' WHERE datname = current_database()")
cur.execute("SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")
coll, ctype = cur.fetchone()
cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
tables = cur.fetchone()[0]
cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
row = cur.fetchone()
print(json.dumps({"collate": coll, "ctype": ctype, "tables": tables, "superuser": bool(row and row[0])}))
`

// CheckDatabaseLocale reads the database's collation and ctype, whether it
// holds tables, and whether our user may change the locale. It changes
// nothing.
func CheckDatabaseLocale(ctx context.Context, c *client.Client, db *relations.Database) (DatabaseLocale, error) {
	return runLocale(ctx, c, db, "check")
}

// FixDatabaseLocale gives an empty database the C collation and ctype that
// Synapse requires (postgresql-k8s creates databases with the cluster's
// default locale), and returns the locale it then has.
func FixDatabaseLocale(ctx context.Context, c *client.Client, db *relations.Database) (DatabaseLocale, error) {
	return runLocale(ctx, c, db, "fix")
}

func runLocale(ctx context.Context, c *client.Client, db *relations.Database, mode string) (DatabaseLocale, error) {
	in, err := json.Marshal(map[string]any{
		"host": db.Host, "port": db.Port, "user": db.User, "password": db.Password, "database": db.Name, "mode": mode,
	})
	if err != nil {
		return DatabaseLocale{}, err
	}
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", localeScript},
		Stdin:   bytes.NewReader(in),
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: time.Minute,
	})
	if err != nil {
		return DatabaseLocale{}, fmt.Errorf("%s database locale: %w", mode, err)
	}
	if err := proc.Wait(); err != nil {
		return DatabaseLocale{}, fmt.Errorf("%s database locale: %w: %s", mode, err, lastLine(stderr.String()))
	}
	var res DatabaseLocale
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return DatabaseLocale{}, fmt.Errorf("%s database locale: unexpected output %q", mode, stdout.String())
	}
	return res, nil
}

func lastLine(s string) string {
	s = string(bytes.TrimSpace([]byte(s)))
	if i := bytes.LastIndexByte([]byte(s), '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
