package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// DatabaseLocale is the outcome of preparing a PostgreSQL database.
type DatabaseLocale struct {
	// Result is "ok" (already C), "fixed" (set to C), "has-tables" (not C,
	// and too late to change safely) or "denied" (not C, and our user may
	// not change it).
	Result  string `json:"result"`
	Collate string `json:"collate"`
	CType   string `json:"ctype"`
	Error   string `json:"error"`
}

// prepareScript runs inside the synapse container with the image's own
// psycopg2, so the charm needs no database driver. Credentials arrive on
// stdin, never in argv or the environment.
const prepareScript = `
import json, sys
import psycopg2
p = json.load(sys.stdin)
conn = psycopg2.connect(host=p["host"], port=p["port"], user=p["user"], password=p["password"], dbname=p["database"], connect_timeout=10)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")
coll, ctype = cur.fetchone()
out = {"collate": coll, "ctype": ctype}
if coll == "C" and ctype == "C":
    out["result"] = "ok"
else:
    cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
    if cur.fetchone()[0] > 0:
        out["result"] = "has-tables"
    else:
        try:
            cur.execute("UPDATE pg_database SET datcollate = 'C', datctype = 'C' WHERE datname = current_database()")
            out["result"] = "fixed"
        except psycopg2.Error as e:
            out["result"] = "denied"
            out["error"] = str(e).strip()
print(json.dumps(out))
`

// PrepareDatabase gives an empty database the C collation and ctype that
// Synapse requires. postgresql-k8s creates databases with the cluster's
// default locale; changing the locale of a database that already holds
// tables would corrupt its indexes, so that case is only reported.
func PrepareDatabase(ctx context.Context, c *client.Client, db *workload.Postgres) (DatabaseLocale, error) {
	in, err := json.Marshal(map[string]any{
		"host": db.Host, "port": db.Port, "user": db.User, "password": db.Password, "database": db.Database,
	})
	if err != nil {
		return DatabaseLocale{}, err
	}
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", prepareScript},
		Stdin:   bytes.NewReader(in),
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: time.Minute,
	})
	if err != nil {
		return DatabaseLocale{}, fmt.Errorf("check database locale: %w", err)
	}
	if err := proc.Wait(); err != nil {
		return DatabaseLocale{}, fmt.Errorf("check database locale: %w: %s", err, lastLine(stderr.String()))
	}
	var res DatabaseLocale
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return DatabaseLocale{}, fmt.Errorf("check database locale: unexpected output %q", stdout.String())
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
