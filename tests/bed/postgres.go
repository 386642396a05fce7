package bed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NonCLocale is the locale CreateDatabase gives a database when collateC is
// false. The host offers only C, POSIX and C.UTF-8, so C.UTF-8 it is: like
// the en_US.UTF-8 databases that postgresql-k8s creates, it is not "C", and
// Synapse refuses to start on it ("Database has incorrect collation").
const NonCLocale = "C.UTF-8"

// Postgres is a private PostgreSQL cluster listening on 127.0.0.1 only,
// with trust authentication, started by StartPostgres.
type Postgres struct {
	dir  string
	bin  string
	port int
	cred *syscall.Credential

	mu   sync.Mutex // guards proc across Stop and Restart
	proc *process
}

// StartPostgres creates a cluster in dir/data (initdb -N, UTF8, locale C,
// trust auth; reused if it already exists) and starts it on a free port of
// 127.0.0.1, with fsync off and no unix socket. The server runs as the
// postgres user: dir is chowned to it, and any ancestor of dir that others
// cannot traverse gets o+x (for example the 0700 directories of t.TempDir).
// The superuser is "postgres", with no password.
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	if err := EnsureHostPackages(ctx); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	bin, err := postgresBinDir()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	cred, err := userCredential("postgres")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := makeTraversable(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	pg := &Postgres{dir: dir, bin: bin, cred: cred}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); os.IsNotExist(err) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-N", "-D", filepath.Join(dir, "data"),
			"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("start postgres: initdb: %w: %s", err, out)
		}
	}
	// A free port may be taken between choosing and binding it: try again.
	for attempt := 0; ; attempt++ {
		if pg.port, err = FreePort("127.0.0.1"); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		if err = pg.start(ctx); err == nil {
			return pg, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}
}

// start runs the postmaster on pg.port and waits until it accepts queries.
func (pg *Postgres) start(ctx context.Context) error {
	cmd := exec.Command(filepath.Join(pg.bin, "postgres"), "-D", filepath.Join(pg.dir, "data"),
		"-p", itoa(pg.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Dir = pg.dir
	// Fast shutdown if the test process dies without stopping us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred, Pdeathsig: syscall.SIGINT}
	proc, err := startProcess("postgres", cmd, filepath.Join(pg.dir, "postgres.log"))
	if err != nil {
		return err
	}
	pg.proc = proc
	ctx, cancel := withDeadline(ctx, 30*time.Second)
	defer cancel()
	err = proc.waitReady(ctx, func(ctx context.Context) error {
		_, err := pg.Exec(ctx, "postgres", "SELECT 1")
		return err
	})
	if err != nil {
		_ = proc.stop(syscall.SIGQUIT, 5*time.Second)
		return err
	}
	return nil
}

// Host is the address the server listens on: 127.0.0.1.
func (pg *Postgres) Host() string { return "127.0.0.1" }

// Port is the TCP port the server listens on.
func (pg *Postgres) Port() int { return pg.port }

// PID is the host PID of the postmaster.
func (pg *Postgres) PID() int {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.proc.pid()
}

// Exec runs sql (one or more statements) in database db as the superuser
// through psql, and returns what it printed: unaligned, tuples only, fields
// separated by '|', one row per line, without the trailing newline.
func (pg *Postgres) Exec(ctx context.Context, db, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, "psql"), "-X", "-q", "-A", "-t",
		"-v", "ON_ERROR_STOP=1", "-h", pg.Host(), "-p", itoa(pg.port), "-U", "postgres", "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("postgres exec in %s: %w: %s", db, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(stdout.String(), "\n"), nil
}

// CreateRole creates a login role with this password, a superuser if asked.
func (pg *Postgres) CreateRole(ctx context.Context, name, password string, superuser bool) error {
	sql := fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", QuoteIdent(name), QuoteLiteral(password))
	if superuser {
		sql += " SUPERUSER"
	}
	if _, err := pg.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("create role %s: %w", name, err)
	}
	return nil
}

// CreateDatabase creates a UTF8 database from template0, owned by owner (the
// superuser when empty). With collateC its collation and ctype are "C", as
// Synapse requires; without, they are NonCLocale, as a database created by
// postgresql-k8s would have, which Synapse refuses.
func (pg *Postgres) CreateDatabase(ctx context.Context, name, owner string, collateC bool) error {
	locale := "C"
	if !collateC {
		locale = NonCLocale
	}
	if owner == "" {
		owner = "postgres"
	}
	sql := fmt.Sprintf("CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE %s LC_CTYPE %s TEMPLATE template0 OWNER %s",
		QuoteIdent(name), QuoteLiteral(locale), QuoteLiteral(locale), QuoteIdent(owner))
	if _, err := pg.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops a database if it exists, disconnecting its clients.
func (pg *Postgres) DropDatabase(ctx context.Context, name string) error {
	sql := fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", QuoteIdent(name))
	if _, err := pg.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: clients are disconnected) and
// waits for it to exit. The data directory stays. Stopping twice is fine.
func (pg *Postgres) Stop() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.stop()
}

func (pg *Postgres) stop() error {
	if pg.proc == nil {
		return nil
	}
	if err := pg.proc.stop(syscall.SIGINT, 30*time.Second); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	return nil
}

// Restart stops the server and starts it again on the same port with the
// same data, as a database outage would; clients see their connections drop.
func (pg *Postgres) Restart(ctx context.Context) error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if err := pg.stop(); err != nil {
		return err
	}
	if err := pg.start(ctx); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	return nil
}

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes a PostgreSQL string literal.
func QuoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// postgresBinDir finds the server binaries: version 15 if installed, else
// the newest under /usr/lib/postgresql.
func postgresBinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		return "", fmt.Errorf("no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)")
	}
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	for _, m := range matches {
		if version(m) == 15 {
			return filepath.Dir(m), nil
		}
	}
	return filepath.Dir(matches[0]), nil
}

// userCredential returns the uid and gid of a local user.
func userCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// makeTraversable adds o+x to dir and each of its ancestors that lack it.
func makeTraversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("make %s traversable: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
