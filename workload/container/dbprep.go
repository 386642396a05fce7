package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
foreign = 0
cur.execute("SELECT to_regclass('public.users') IS NOT NULL")
if cur.fetchone()[0]:
    cur.execute("SELECT count(*) FROM users WHERE name NOT LIKE %s", ("%:" + p["server_name"].replace("%", r"\%").replace("_", r"\_"),))
    foreign = cur.fetchone()[0]
cur.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
ident = str(cur.fetchone()[0])
try:
    cur.execute("SELECT system_identifier FROM pg_control_system()")
    ident = str(cur.fetchone()[0]) + "/" + ident
except psycopg2.Error:
    pass
print(json.dumps({"collate": coll, "ctype": ctype, "tables": tables, "superuser": bool(row and row[0]), "foreign_users": foreign, "identity": ident}))
`

// CheckDatabaseLocale reads the database's collation and ctype, whether it
// holds tables or users of another server_name, and whether our user may
// change the locale. It changes nothing.
func CheckDatabaseLocale(ctx context.Context, c *client.Client, db *relations.Database, serverName string) (DatabaseLocale, error) {
	return runLocale(ctx, c, db, serverName, "check")
}

// FixDatabaseLocale gives an empty database the C collation and ctype that
// Synapse requires (postgresql-k8s creates databases with the cluster's
// default locale), and returns the locale it then has.
func FixDatabaseLocale(ctx context.Context, c *client.Client, db *relations.Database, serverName string) (DatabaseLocale, error) {
	return runLocale(ctx, c, db, serverName, "fix")
}

func runLocale(ctx context.Context, c *client.Client, db *relations.Database, serverName, mode string) (DatabaseLocale, error) {
	in, err := json.Marshal(map[string]any{
		"host": db.Host, "port": db.Port, "user": db.User, "password": db.Password, "database": db.Name, "mode": mode, "server_name": serverName,
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

// sqliteScript counts what a SQLite database holds; a missing database
// holds nothing.
const sqliteScript = `
import json, os, sqlite3, sys
path = sys.argv[1]
out = {"users": 0, "rooms": 0}
if os.path.exists(path):
    conn = sqlite3.connect("file:" + path + "?mode=ro", uri=True, timeout=30)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "users" in names:
        out["users"] = conn.execute("SELECT count(*) FROM users").fetchone()[0]
    if "rooms" in names:
        out["rooms"] = conn.execute("SELECT count(*) FROM rooms").fetchone()[0]
print(json.dumps(out))
`

// SQLiteContent counts the users and rooms of the unit's SQLite database,
// read-only while Synapse runs.
func SQLiteContent(ctx context.Context, c *client.Client) (workload.SQLiteContent, error) {
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", sqliteScript, workload.SQLitePath},
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: time.Minute,
	})
	if err != nil {
		return workload.SQLiteContent{}, fmt.Errorf("read the SQLite database: %w", err)
	}
	if err := proc.Wait(); err != nil {
		return workload.SQLiteContent{}, fmt.Errorf("read the SQLite database: %w: %s", err, lastLine(stderr.String()))
	}
	var out workload.SQLiteContent
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return workload.SQLiteContent{}, fmt.Errorf("read the SQLite database: unexpected output %q", stdout.String())
	}
	return out, nil
}

// VolumeID reads the ID the charm wrote on this unit's /data volume, ""
// when there is none yet.
func VolumeID(c *client.Client) (string, error) {
	var buf bytes.Buffer
	if err := c.Pull(&client.PullOptions{Path: workload.VolumeIDPath, Target: &buf}); err != nil {
		if isNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("read %s: %w", workload.VolumeIDPath, err)
	}
	return strings.TrimSpace(buf.String()), nil
}

// WriteVolumeID names this unit's /data volume.
func WriteVolumeID(c *client.Client, id string) error {
	if err := c.Push(&client.PushOptions{Source: strings.NewReader(id + "\n"), Path: workload.VolumeIDPath, Permissions: 0o644}); err != nil {
		return fmt.Errorf("write %s: %w", workload.VolumeIDPath, err)
	}
	return nil
}
