package sim

import (
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The simulated providers, driven by a fake requirer (a script charm that
// writes what the real requirer libraries write).

type fakePostgres struct {
	mu    sync.Mutex
	roles map[string]fakeRole
	dbs   map[string]fakeDB
	execs []string
}

type fakeRole struct {
	password  string
	superuser bool
}

type fakeDB struct {
	owner    string
	collateC bool
}

func (f *fakePostgres) Host() string { return "127.0.0.1" }
func (f *fakePostgres) Port() int    { return 5433 }

func (f *fakePostgres) CreateRole(_ context.Context, name, password string, superuser bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.roles == nil {
		f.roles = map[string]fakeRole{}
	}
	f.roles[name] = fakeRole{password, superuser}
	return nil
}

func (f *fakePostgres) CreateDatabase(_ context.Context, name, owner string, collateC bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dbs == nil {
		f.dbs = map[string]fakeDB{}
	}
	f.dbs[name] = fakeDB{owner, collateC}
	return nil
}

func (f *fakePostgres) Exec(_ context.Context, db, sql string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, sql)
	switch {
	case sql == "SHOW server_version":
		return "15.18 (Debian 15.18-0+deb12u1)", nil
	case strings.HasPrefix(sql, "SELECT datname"):
		var out []string
		for name, d := range f.dbs {
			if strings.Contains(sql, "'"+d.owner+"'") {
				out = append(out, name)
			}
		}
		return strings.Join(out, "\n"), nil
	}
	return "", nil
}

// requirerCharm asks for a database on relation-created, as the Python
// data_interfaces requirer does (one write, on the leader).
func requirerCharm(request string) string {
	return `
case "$JUJU_DISPATCH_PATH" in
hooks/database-relation-created)
  if [ "$(is-leader)" = True ]; then
    relation-set -r "$JUJU_RELATION_ID" --app --file - <<'EOF'
` + request + `
EOF
  fi ;;
esac
exit 0
`
}

func TestPostgreSQLWithSecrets(t *testing.T) {
	pg := &fakePostgres{}
	m := newModel(t, requirerCharm(`{"database": "synapse", "extra-user-roles": "SUPERUSER", "requested-secrets": "[\"username\", \"password\", \"tls\", \"tls-ca\", \"uris\", \"read-only-uris\"]"}`), Options{})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	id := integrate(t, m, &PostgreSQL{Server: pg}, "database")

	require.Contains(t, pg.roles, "relation_id_1")
	assert.True(t, pg.roles["relation_id_1"].superuser)
	assert.Regexp(t, `^[A-Za-z0-9]{16}$`, pg.roles["relation_id_1"].password)
	assert.Equal(t, fakeDB{owner: "relation_id_1", collateC: false}, pg.dbs["synapse"], "the server's default, non-C collation")

	rel, _ := m.Relation(id)
	app := rel.RemoteAppData
	assert.Equal(t, "127.0.0.1:5433", app["endpoints"])
	assert.Equal(t, "127.0.0.1:5433", app["read-only-endpoints"])
	assert.Equal(t, "15.18", app["version"])
	assert.Equal(t, "synapse", app["database"])
	assert.NotContains(t, app, "username")
	assert.NotContains(t, app, "password")
	assert.NotContains(t, app, "tls")
	assert.Regexp(t, `^secret://`+m.UUID()+`/[0-9a-v]{20}$`, app["secret-user"])
	assert.Regexp(t, `^secret://`+m.UUID()+`/[0-9a-v]{20}$`, app["secret-tls"])

	// Any unit of ours reads the credentials (the grant is to the
	// relation), with the long URI form as written.
	out := mustTool(t, m, "synapse/1", "secret-get", "--format=json", app["secret-user"])
	pw := pg.roles["relation_id_1"].password
	assert.JSONEq(t, `{"username":"relation_id_1","password":"`+pw+`","uris":"postgresql://relation_id_1:`+pw+`@127.0.0.1:5433/synapse","read-only-uris":"postgresql://relation_id_1:`+pw+`@127.0.0.1:5433/synapse"}`, out)
	assert.JSONEq(t, `{"tls":"False"}`, mustTool(t, m, "synapse/0", "secret-get", "--format=json", app["secret-tls"]))

	// Our units heard of the answer.
	hooks := hookNames(m, mark)
	for _, u := range []string{"synapse/0", "synapse/1"} {
		assert.Contains(t, unitHooks(hooks, u), "database-relation-changed postgresql-k8s", u)
	}

	// Only the first request is answered.
	mustTool(t, m, "synapse/0", "relation-set", "-r", "database:1", "--app", "database=other")
	waitIdle(t, m)
	assert.NotContains(t, pg.dbs, "other")
	assert.Len(t, pg.roles, 1)

	// relation-broken drops the relation user.
	require.NoError(t, m.RemoveRelation(testCtx(t), id))
	waitIdle(t, m)
	assert.Contains(t, strings.Join(pg.execs, "\n"), `DROP ROLE IF EXISTS "relation_id_1"`)
	_, ok := m.Secret(app["secret-user"])
	assert.True(t, ok, "the provider's secret stays with the provider")
	res := tool(t, m, "synapse/0", "secret-get", app["secret-user"])
	assert.Equal(t, "ERROR permission denied\n", res.Stderr, "the grant went with the relation")
}

func TestPostgreSQLWithoutSecrets(t *testing.T) {
	pg := &fakePostgres{}
	m := newModel(t, requirerCharm(`{"database": "synapse"}`), Options{})
	deploy(t, m, 1)
	id := integrate(t, m, &PostgreSQL{Server: pg, Hostname: "postgresql-k8s-primary.sim.svc.cluster.local"}, "database")
	rel, _ := m.Relation(id)
	app := rel.RemoteAppData
	assert.False(t, pg.roles["relation_id_1"].superuser)
	assert.Equal(t, "relation_id_1", app["username"])
	assert.Equal(t, pg.roles["relation_id_1"].password, app["password"])
	assert.Equal(t, "False", app["tls"])
	assert.Equal(t, "postgresql-k8s-primary.sim.svc.cluster.local:5433", app["endpoints"])
	assert.NotContains(t, app, "secret-user")
	hosts, err := os.ReadFile(m.HostsFile())
	require.NoError(t, err)
	assert.Contains(t, string(hosts), "127.0.0.1\tpostgresql-k8s-primary.sim.svc.cluster.local\n")
}

func TestPostgreSQLWaitsForTheRequest(t *testing.T) {
	pg := &fakePostgres{}
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	id := integrate(t, m, &PostgreSQL{Server: pg}, "database")
	assert.Empty(t, pg.roles)
	rel, _ := m.Relation(id)
	assert.Empty(t, rel.RemoteAppData)
	mustTool(t, m, "synapse/0", "relation-set", "-r", "database:1", "--app", "database=synapse")
	waitIdle(t, m)
	assert.Contains(t, pg.roles, "relation_id_1")
}

type fakeRedis struct{}

func (fakeRedis) Host() string { return "127.0.0.1" }
func (fakeRedis) Port() int    { return 6380 }

func TestRedis(t *testing.T) {
	m := newModel(t, quietCharm, Options{ModelName: "matrix"})
	deploy(t, m, 2)
	mark := len(m.Recorder().Hooks())
	id := integrate(t, m, &Redis{Server: fakeRedis{}}, "redis")
	rel, _ := m.Relation(id)
	fqdn := "redis-k8s-0.redis-k8s-endpoints.matrix.svc.cluster.local"
	assert.Equal(t, map[string]string{"leader-host": fqdn}, rel.RemoteAppData)
	assert.Equal(t, "127.0.0.1", rel.RemoteUnitData["redis-k8s/0"]["hostname"])
	assert.Equal(t, "6380", rel.RemoteUnitData["redis-k8s/0"]["port"])
	assert.NotContains(t, rel.RemoteUnitData["redis-k8s/0"], "password")
	hosts, _ := os.ReadFile(m.HostsFile())
	assert.Contains(t, string(hosts), "127.0.0.1\t"+fqdn+"\n")
	assert.Equal(t, []string{
		"redis-relation-created", "redis-relation-changed redis-k8s", "redis-relation-joined redis-k8s/0", "redis-relation-changed redis-k8s/0",
	}, unitHooks(hookNames(m, mark), "synapse/1"))
}

type fakeS3 struct {
	mu      sync.Mutex
	buckets []string
}

func (f *fakeS3) Endpoint() string  { return "http://127.0.0.1:9000" }
func (f *fakeS3) AccessKey() string { return "AKEXAMPLE" }
func (f *fakeS3) SecretKey() string { return "sk-example" }
func (f *fakeS3) Region() string    { return "us-east-1" }
func (f *fakeS3) CreateBucket(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buckets = append(f.buckets, name)
	return nil
}

func TestS3Track1AnswersOnceBucketIsWritten(t *testing.T) {
	s3 := &fakeS3{}
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	id := integrate(t, m, &S3Integrator{Server: s3, Path: "synapse"}, "media")
	rel, _ := m.Relation(id)
	assert.Empty(t, rel.RemoteAppData, "nothing until the requirer writes bucket")
	mustTool(t, m, "synapse/0", "relation-set", "-r", "media:1", "--app", "bucket=relation-1")
	waitIdle(t, m)
	rel, _ = m.Relation(id)
	assert.Equal(t, map[string]string{
		"access-key": "AKEXAMPLE", "secret-key": "sk-example", "bucket": "relation-1",
		"endpoint": "http://127.0.0.1:9000", "region": "us-east-1", "path": "synapse", "s3-uri-style": "path",
	}, rel.RemoteAppData)
	assert.Empty(t, s3.buckets, "track 1 creates no bucket")
}

func TestS3Track2CredentialsInASecret(t *testing.T) {
	s3 := &fakeS3{}
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	id := integrate(t, m, &S3Integrator{Server: s3, Track: 2}, "media")
	rel, _ := m.Relation(id)
	assert.Equal(t, map[string]string{"lib-version": "1.0"}, rel.RemoteAppData)
	res := toolOpts(t, m, "synapse/0", ExecOptions{
		Command: []string{"relation-set", "-r", "media:1", "--app", "--file", "-"},
		Stdin:   []byte(`{"bucket": "synapse-media", "lib-version": "1.0", "requested-secrets": "[\"access-key\", \"secret-key\"]"}`),
	})
	require.Equal(t, 0, res.Code, res.Stderr)
	waitIdle(t, m)
	rel, _ = m.Relation(id)
	app := rel.RemoteAppData
	assert.Equal(t, "synapse-media", app["bucket"])
	assert.NotContains(t, app, "access-key")
	assert.Regexp(t, regexp.MustCompile(`^secret://`), app["secret-extra"])
	assert.JSONEq(t, `{"access-key":"AKEXAMPLE","secret-key":"sk-example"}`, mustTool(t, m, "synapse/0", "secret-get", "--format=json", app["secret-extra"]))
	assert.Equal(t, []string{"synapse-media"}, s3.buckets, "track 2 creates the requested bucket")
}

func TestStatusDocument(t *testing.T) {
	m := newModel(t, `
case "$JUJU_DISPATCH_PATH" in
hooks/start) status-set active "ready"; application-version-set 1.160.0; open-port 8080 ;;
esac
exit 0
`, Options{})
	deploy(t, m, 2)
	integrate(t, m, &Redis{Server: fakeRedis{}}, "redis")
	doc := m.Status()
	assert.Equal(t, "caas", doc.Model.Type)
	assert.Equal(t, "3.6.25", doc.Model.Version)
	app := doc.Applications["synapse"]
	assert.Equal(t, 2, app.Scale)
	assert.Equal(t, "1.160.0", app.Version)
	assert.Equal(t, "active", app.ApplicationStatus.Current, "derived from the units")
	u0 := app.Units["synapse/0"]
	assert.True(t, u0.Leader)
	assert.Equal(t, StatusInfo{Current: "active", Message: "ready", Since: u0.WorkloadStatus.Since}, u0.WorkloadStatus)
	assert.Equal(t, "idle", u0.JujuStatus.Current)
	assert.Equal(t, []string{"8080/tcp"}, u0.OpenPorts)
	assert.Regexp(t, `^\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\dZ$`, u0.WorkloadStatus.Since)
	assert.Equal(t, []RelatedApp{{RelatedApplication: "redis-k8s", Interface: "redis", Scope: "global"}}, app.Relations["redis"])
	assert.Equal(t, []RelatedApp{{RelatedApplication: "synapse", Interface: "synapse-instance", Scope: "global"}}, app.Relations["synapse-peers"])
	redis := doc.Applications["redis-k8s"]
	assert.Equal(t, []RelatedApp{{RelatedApplication: "synapse", Interface: "redis", Scope: "global"}}, redis.Relations["redis"])
	assert.True(t, redis.Units["redis-k8s/0"].Leader)
}
