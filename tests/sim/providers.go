package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
)

// Simulated provider charms. Each writes exactly the databag keys the real
// charm writes (see reference/relations.md), pointing at real servers the
// test supplies through a small interface (tests/bed's servers satisfy
// them), and reacts when it would: postgresql-k8s when the requirer's
// application bag gains "database", redis-k8s at once, s3-integrator once
// "bucket" (track 1) or "lib-version"/"bucket" (track 2) is written.

// StaticApp is a remote application that writes fixed bags when the
// relation is created and otherwise does only what OnChanged does.
type StaticApp struct {
	// AppName, CharmName, EndpointName and InterfaceName describe it, e.g.
	// "postgresql-k8s", "postgresql-k8s", "database", "postgresql_client".
	AppName, CharmName, EndpointName, InterfaceName string
	// UnitCount is the number of units (default 1).
	UnitCount int
	// AppData is written to its application bag at relation-created.
	AppData map[string]string
	// UnitData is written to its units' bags at relation-created, by unit
	// index.
	UnitData map[int]map[string]string
	// OnChanged, if set, runs as its relation-changed.
	OnChanged func(ctx context.Context, r *RemoteRelation) error
}

// Name implements RemoteApp.
func (a *StaticApp) Name() string { return a.AppName }

// Charm implements RemoteApp.
func (a *StaticApp) Charm() string {
	if a.CharmName == "" {
		return a.AppName
	}
	return a.CharmName
}

// Endpoint implements RemoteApp.
func (a *StaticApp) Endpoint() string { return a.EndpointName }

// Interface implements RemoteApp.
func (a *StaticApp) Interface() string { return a.InterfaceName }

// Units implements RemoteApp.
func (a *StaticApp) Units() int {
	if a.UnitCount < 1 {
		return 1
	}
	return a.UnitCount
}

// Created implements RemoteApp.
func (a *StaticApp) Created(ctx context.Context, r *RemoteRelation) error {
	if len(a.AppData) > 0 {
		r.UpdateAppData(a.AppData)
	}
	for i, data := range a.UnitData {
		if err := r.UpdateUnitData(fmt.Sprintf("%s/%d", a.AppName, i), data); err != nil {
			return err
		}
	}
	return nil
}

// Changed implements RemoteApp.
func (a *StaticApp) Changed(ctx context.Context, r *RemoteRelation) error {
	if a.OnChanged != nil {
		return a.OnChanged(ctx, r)
	}
	return nil
}

// Broken implements RemoteApp.
func (a *StaticApp) Broken(ctx context.Context, r *RemoteRelation) error { return nil }

// PostgresServer is the PostgreSQL server a simulated postgresql-k8s
// manages (*bed.Postgres is one).
type PostgresServer interface {
	// Host and Port are where it listens.
	Host() string
	Port() int
	// CreateRole creates a login role.
	CreateRole(ctx context.Context, name, password string, superuser bool) error
	// CreateDatabase creates a database owned by owner; collateC false
	// gives the server's default, non-C collation, as postgresql-k8s does.
	CreateDatabase(ctx context.Context, name, owner string, collateC bool) error
	// Exec runs SQL as the superuser in database db.
	Exec(ctx context.Context, db, sql string) (string, error)
}

// PostgreSQL simulates postgresql-k8s (data_interfaces v0 provider).
type PostgreSQL struct {
	// AppName is the application name (default "postgresql-k8s").
	AppName string
	// Server is the database server.
	Server PostgresServer
	// Hostname, if set, is the host name written into endpoints and URIs
	// instead of Server.Host(); the simulator makes it resolve to
	// Server.Host() inside the containers (the real charm writes
	// "<app>-primary.<namespace>.svc.cluster.local"). The charm process
	// itself runs on the host and cannot resolve it.
	Hostname string
	// UnitCount is the number of units (default 1).
	UnitCount int

	mu       sync.Mutex
	answered map[int]string // relation id -> user created
}

func (p *PostgreSQL) name() string {
	if p.AppName == "" {
		return "postgresql-k8s"
	}
	return p.AppName
}

// Name implements RemoteApp.
func (p *PostgreSQL) Name() string { return p.name() }

// Charm implements RemoteApp.
func (p *PostgreSQL) Charm() string { return "postgresql-k8s" }

// Endpoint implements RemoteApp.
func (p *PostgreSQL) Endpoint() string { return "database" }

// Interface implements RemoteApp.
func (p *PostgreSQL) Interface() string { return "postgresql_client" }

// Units implements RemoteApp.
func (p *PostgreSQL) Units() int { return max(p.UnitCount, 1) }

// UnitAddress implements UnitAddresser.
func (p *PostgreSQL) UnitAddress(int) string { return p.Server.Host() }

// Created implements RemoteApp: postgresql-k8s writes nothing yet.
func (p *PostgreSQL) Created(ctx context.Context, r *RemoteRelation) error {
	if p.Hostname != "" {
		return r.AddHost(p.Hostname, p.Server.Host())
	}
	return nil
}

// reservedDatabases are names postgresql-k8s refuses.
var reservedDatabases = []string{"databases", "postgres", "template0", "template1"}

// Changed implements RemoteApp: on the first request (the requirer's
// application bag has "database") it creates the user relation_id_<id>
// with a random 16-character password and the database owned by it, with
// the server's default collation; honours extra-user-roles (SUPERUSER,
// CREATEDB, CREATEROLE); and answers in one write: the credentials in an
// application-owned secret granted to the relation ("secret-user") if the
// requirer listed them in requested-secrets, else plainly; then endpoints,
// read-only-endpoints, tls, version and database. Later requests are
// ignored, as the real charm ignores a changed "database".
func (p *PostgreSQL) Changed(ctx context.Context, r *RemoteRelation) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.answered == nil {
		p.answered = map[int]string{}
	}
	if _, done := p.answered[r.ID()]; done {
		return nil
	}
	req := r.RemoteAppData()
	db := req["database"]
	if db == "" {
		return nil
	}
	if contains(reservedDatabases, db) {
		// The real charm sets itself Blocked and answers nothing.
		return nil
	}
	superuser, extra := false, []string{}
	for _, role := range strings.Split(req["extra-user-roles"], ",") {
		role = strings.ToLower(strings.TrimSpace(role))
		switch role {
		case "":
		case "superuser":
			superuser = true
		case "createdb", "createrole":
			extra = append(extra, strings.ToUpper(role))
		default:
			return nil // invalid role: Blocked, no answer
		}
	}
	var requested []string
	if s := req["requested-secrets"]; s != "" {
		if err := json.Unmarshal([]byte(s), &requested); err != nil {
			requested = nil
		}
	}
	user := fmt.Sprintf("relation_id_%d", r.ID())
	password := randomAlnum(16)
	if err := p.Server.CreateRole(ctx, user, password, superuser); err != nil {
		return err
	}
	if len(extra) > 0 {
		if _, err := p.Server.Exec(ctx, "postgres", fmt.Sprintf("ALTER ROLE %s %s", quoteIdent(user), strings.Join(extra, " "))); err != nil {
			return err
		}
	}
	if err := p.Server.CreateDatabase(ctx, db, user, false); err != nil {
		return err
	}
	p.answered[r.ID()] = user
	version := "15"
	if out, err := p.Server.Exec(ctx, "postgres", "SHOW server_version"); err == nil {
		if f := strings.Fields(out); len(f) > 0 {
			version = f[0]
		}
	}
	host := p.Server.Host()
	if p.Hostname != "" {
		host = p.Hostname
	}
	endpoint := net.JoinHostPort(host, itoa(p.Server.Port()))
	uri := fmt.Sprintf("postgresql://%s:%s@%s/%s", user, password, endpoint, db)
	fields := map[string]string{"username": user, "password": password, "uris": uri}
	userSecret, tlsSecret, plain := map[string]string{}, map[string]string{}, map[string]string{}
	for _, k := range []string{"username", "password", "uris"} {
		if contains(requested, k) {
			userSecret[k] = fields[k]
		} else {
			plain[k] = fields[k]
		}
	}
	if contains(requested, "read-only-uris") {
		userSecret["read-only-uris"] = uri
	}
	if contains(requested, "tls") {
		tlsSecret["tls"] = "False"
	} else {
		plain["tls"] = "False"
	}
	if len(userSecret) > 0 {
		uri := r.AddSecret(userSecret, fmt.Sprintf("database.%d.user.secret", r.ID()))
		if err := r.GrantSecret(uri); err != nil {
			return err
		}
		plain["secret-user"] = uri
	}
	if len(tlsSecret) > 0 {
		uri := r.AddSecret(tlsSecret, fmt.Sprintf("database.%d.tls.secret", r.ID()))
		if err := r.GrantSecret(uri); err != nil {
			return err
		}
		plain["secret-tls"] = uri
	}
	plain["endpoints"] = endpoint
	plain["read-only-endpoints"] = endpoint
	plain["version"] = version
	plain["database"] = db
	r.UpdateAppData(plain)
	return nil
}

// Broken implements RemoteApp: the relation user is dropped; its database
// stays.
func (p *PostgreSQL) Broken(ctx context.Context, r *RemoteRelation) error {
	p.mu.Lock()
	user, ok := p.answered[r.ID()]
	delete(p.answered, r.ID())
	p.mu.Unlock()
	if !ok {
		return nil
	}
	dbs, err := p.Server.Exec(ctx, "postgres", fmt.Sprintf(
		"SELECT datname FROM pg_database d JOIN pg_roles r ON d.datdba = r.oid WHERE r.rolname = %s", quoteLiteral(user)))
	if err != nil {
		return err
	}
	for _, db := range strings.Fields(dbs) {
		if _, err := p.Server.Exec(ctx, db, fmt.Sprintf("REASSIGN OWNED BY %s TO postgres; DROP OWNED BY %s", quoteIdent(user), quoteIdent(user))); err != nil {
			return err
		}
		if _, err := p.Server.Exec(ctx, "postgres", fmt.Sprintf("ALTER DATABASE %s OWNER TO postgres", quoteIdent(db))); err != nil {
			return err
		}
	}
	_, err = p.Server.Exec(ctx, "postgres", "DROP ROLE IF EXISTS "+quoteIdent(user))
	return err
}

func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// RedisServer is the Redis server a simulated redis-k8s points at
// (*bed.Redis is one).
type RedisServer interface {
	Host() string
	Port() int
}

// Redis simulates redis-k8s (lib redis_k8s v0): every unit writes its
// "hostname" (an IP) and "port" into its unit bag; the leader writes
// "leader-host", the master's FQDN, which the simulator makes resolve to
// the server inside the containers. No password is sent.
type Redis struct {
	// AppName is the application name (default "redis-k8s").
	AppName string
	// Server is the Redis server.
	Server RedisServer
	// UnitCount is the number of units (default 1).
	UnitCount int
}

func (rd *Redis) name() string {
	if rd.AppName == "" {
		return "redis-k8s"
	}
	return rd.AppName
}

// Name implements RemoteApp.
func (rd *Redis) Name() string { return rd.name() }

// Charm implements RemoteApp.
func (rd *Redis) Charm() string { return "redis-k8s" }

// Endpoint implements RemoteApp.
func (rd *Redis) Endpoint() string { return "redis" }

// Interface implements RemoteApp.
func (rd *Redis) Interface() string { return "redis" }

// Units implements RemoteApp.
func (rd *Redis) Units() int { return max(rd.UnitCount, 1) }

// UnitAddress implements UnitAddresser.
func (rd *Redis) UnitAddress(int) string { return rd.Server.Host() }

// Created implements RemoteApp.
func (rd *Redis) Created(ctx context.Context, r *RemoteRelation) error {
	fqdn := fmt.Sprintf("%s-0.%s-endpoints.%s.svc.cluster.local", rd.name(), rd.name(), r.ModelName())
	if err := r.AddHost(fqdn, rd.Server.Host()); err != nil {
		return err
	}
	r.UpdateAppData(map[string]string{"leader-host": fqdn})
	return rd.Changed(ctx, r)
}

// Changed implements RemoteApp.
func (rd *Redis) Changed(ctx context.Context, r *RemoteRelation) error {
	for _, u := range r.UnitNames() {
		if err := r.UpdateUnitData(u, map[string]string{"hostname": rd.Server.Host(), "port": itoa(rd.Server.Port())}); err != nil {
			return err
		}
	}
	return nil
}

// Broken implements RemoteApp.
func (rd *Redis) Broken(ctx context.Context, r *RemoteRelation) error { return nil }

// S3Server is the S3 server a simulated s3-integrator points at (*bed.S3 is
// one).
type S3Server interface {
	// Endpoint is the server URL, e.g. "http://127.0.0.1:9000".
	Endpoint() string
	AccessKey() string
	SecretKey() string
	Region() string
	// CreateBucket creates a bucket.
	CreateBucket(name string) error
}

// S3Integrator simulates s3-integrator, track 1 (lib s3 v0: answers once
// the requirer writes "bucket", plain credentials) or track 2 (lib s3 v1:
// writes lib-version at relation-created, answers once the requirer wrote
// lib-version or bucket, credentials in the "secret-extra" secret when the
// requirer sent requested-secrets).
type S3Integrator struct {
	// AppName is the application name (default "s3-integrator").
	AppName string
	// Track is 1 (default) or 2.
	Track int
	// Server is the S3 server.
	Server S3Server
	// Bucket is the configured bucket; empty means the requirer's.
	Bucket string
	// Path is the configured path ("" writes none).
	Path string
	// EnsureBucket creates the bucket on the server before answering, as an
	// operator would beforehand for track 1 (track 2 always creates a
	// requested bucket that is missing).
	EnsureBucket bool

	mu       sync.Mutex
	answered map[int]bool
	secrets  map[int]string
}

func (s *S3Integrator) name() string {
	if s.AppName == "" {
		return "s3-integrator"
	}
	return s.AppName
}

// Name implements RemoteApp.
func (s *S3Integrator) Name() string { return s.name() }

// Charm implements RemoteApp.
func (s *S3Integrator) Charm() string { return "s3-integrator" }

// Endpoint implements RemoteApp.
func (s *S3Integrator) Endpoint() string { return "s3-credentials" }

// Interface implements RemoteApp.
func (s *S3Integrator) Interface() string { return "s3" }

// Units implements RemoteApp.
func (s *S3Integrator) Units() int { return 1 }

// Created implements RemoteApp.
func (s *S3Integrator) Created(ctx context.Context, r *RemoteRelation) error {
	if s.Track == 2 {
		r.UpdateAppData(map[string]string{"lib-version": "1.0"})
	}
	return nil
}

// Changed implements RemoteApp.
func (s *S3Integrator) Changed(ctx context.Context, r *RemoteRelation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered == nil {
		s.answered, s.secrets = map[int]bool{}, map[int]string{}
	}
	req := r.RemoteAppData()
	data := map[string]string{
		"endpoint": s.Server.Endpoint(), "region": s.Server.Region(), "s3-uri-style": "path",
	}
	if s.Path != "" {
		data["path"] = s.Path
	}
	if s.Track != 2 {
		if s.answered[r.ID()] || req["bucket"] == "" {
			return nil
		}
		bucket := s.Bucket
		if bucket == "" {
			bucket = req["bucket"]
		}
		if s.EnsureBucket {
			s.Server.CreateBucket(bucket) // exists already: fine
		}
		data["bucket"] = bucket
		data["access-key"] = s.Server.AccessKey()
		data["secret-key"] = s.Server.SecretKey()
		s.answered[r.ID()] = true
		r.UpdateAppData(data)
		return nil
	}
	if req["lib-version"] == "" && req["bucket"] == "" {
		return nil
	}
	_, secretsRequested := req["requested-secrets"]
	bucket := s.Bucket
	if bucket == "" && secretsRequested {
		bucket = req["bucket"]
	}
	if bucket != "" {
		if s.EnsureBucket || (secretsRequested && s.Bucket == "") {
			s.Server.CreateBucket(bucket) // exists already: fine
		}
		data["bucket"] = bucket
	}
	creds := map[string]string{"access-key": s.Server.AccessKey(), "secret-key": s.Server.SecretKey()}
	if secretsRequested {
		uri, ok := s.secrets[r.ID()]
		if !ok {
			uri = r.AddSecret(creds, fmt.Sprintf("s3-credentials.%d.extra.secret", r.ID()))
			if err := r.GrantSecret(uri); err != nil {
				return err
			}
			s.secrets[r.ID()] = uri
		}
		data["secret-extra"] = uri
	} else {
		maps.Copy(data, creds)
	}
	r.UpdateAppData(data)
	return nil
}

// Broken implements RemoteApp.
func (s *S3Integrator) Broken(ctx context.Context, r *RemoteRelation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.answered, r.ID())
	delete(s.secrets, r.ID())
	return nil
}
