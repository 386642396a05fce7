package sim

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hook-tool fidelity: for a known model, each tool's --format=json output
// matches the shapes in reference/juju-hook-tools.md §4 (and Juju 3.6's
// jujuc), and bad use fails as Juju does: "ERROR <message>" on stderr, exit
// 2 for a usage error, 1 for a failure.

// knownModel is two units (synapse/0 the leader) and postgresql-k8s on
// database.
func knownModel(t *testing.T) (*Model, int) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	id := integrate(t, m, postgresApp(), "database")
	return m, id
}

func TestRelationIDs(t *testing.T) {
	m, id := knownModel(t)
	assert.Equal(t, 1, id)
	assert.Equal(t, "[\"database:1\"]\n", mustTool(t, m, "synapse/0", "relation-ids", "--format=json", "database"))
	assert.Equal(t, "[\"synapse-peers:0\"]\n", mustTool(t, m, "synapse/1", "relation-ids", "synapse-peers", "--format=json"))
	assert.Equal(t, "[]\n", mustTool(t, m, "synapse/0", "relation-ids", "--format=json", "redis"))
	assert.Equal(t, "database:1\n", mustTool(t, m, "synapse/0", "relation-ids", "database"), "smart format: one per line")

	res := tool(t, m, "synapse/0", "relation-ids", "--format=json")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR no endpoint name specified\n", res.Stderr)

	// In a relation context the endpoint defaults to the hook's.
	res = toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"relation-ids", "--format=json"}, Relation: "database:1"})
	assert.Equal(t, "[\"database:1\"]\n", res.Stdout)
}

func TestRelationList(t *testing.T) {
	m, _ := knownModel(t)
	assert.Equal(t, "[\"postgresql-k8s/0\"]\n", mustTool(t, m, "synapse/0", "relation-list", "--format=json", "-r", "database:1"))
	assert.Equal(t, "[\"postgresql-k8s/0\"]\n", mustTool(t, m, "synapse/0", "relation-list", "--format=json", "-r", "1"))
	assert.Equal(t, "[\"postgresql-k8s/0\"]\n", mustTool(t, m, "synapse/0", "relation-list", "--format=json", "-r1"))
	assert.Equal(t, "\"postgresql-k8s\"\n", mustTool(t, m, "synapse/0", "relation-list", "--format=json", "--app", "-r", "database:1"))
	assert.Equal(t, "[\"synapse/1\"]\n", mustTool(t, m, "synapse/0", "relation-list", "--format=json", "-r", "synapse-peers:0"))
	assert.Equal(t, "\"synapse\"\n", mustTool(t, m, "synapse/0", "relation-list", "--app", "-r", "synapse-peers:0", "--format=json"))

	res := tool(t, m, "synapse/0", "relation-list", "--format=json")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR no relation id specified\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-list", "-r", "database:99")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR invalid value \"database:99\" for flag -r: relation not found\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-list", "--relation", "db:x")
	assert.Equal(t, "ERROR invalid value \"db:x\" for flag --relation: invalid relation id\n", res.Stderr)
}

func TestRelationGet(t *testing.T) {
	m, _ := knownModel(t)
	assert.JSONEq(t, `{"endpoints":"pg:5432","database":"synapse"}`,
		mustTool(t, m, "synapse/1", "relation-get", "--format=json", "-r", "database:1", "--app", "-", "postgresql-k8s"))
	// --app with a unit name reads that unit's application.
	assert.JSONEq(t, `{"endpoints":"pg:5432","database":"synapse"}`,
		mustTool(t, m, "synapse/1", "relation-get", "--format=json", "-r", "database:1", "--app", "-", "postgresql-k8s/0"))
	assert.Equal(t, "\"synapse\"\n", mustTool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "--app", "database", "postgresql-k8s"))
	assert.Equal(t, "null\n", mustTool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "--app", "nope", "postgresql-k8s"))
	assert.Equal(t, "", mustTool(t, m, "synapse/0", "relation-get", "-r", "database:1", "--app", "nope", "postgresql-k8s"), "smart prints nothing for a missing key")

	// A remote unit's bag holds what Juju seeds (addresses) and what it wrote.
	var bag map[string]string
	require.NoError(t, json.Unmarshal([]byte(mustTool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "-", "postgresql-k8s/0")), &bag))
	assert.Equal(t, map[string]string{"role": "primary", "private-address": "127.0.0.1", "ingress-address": "127.0.0.1", "egress-subnets": "127.0.0.1/32"}, bag)

	// Our own unit bag: seeded with our ingress address, the application's
	// service address on Kubernetes, when we entered scope.
	svc := m.ServiceAddress()
	out := mustTool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "-", "synapse/0")
	assert.JSONEq(t, `{"egress-subnets":"`+svc+`/32","ingress-address":"`+svc+`","private-address":"`+svc+`"}`, out)

	// Our own application bag: the leader may read it, a non-leader only on
	// a peer relation.
	assert.Equal(t, "{}\n", mustTool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "--app", "-", "synapse"))
	res := tool(t, m, "synapse/1", "relation-get", "--format=json", "-r", "database:1", "--app", "-", "synapse")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR permission denied\n", res.Stderr)
	assert.Equal(t, "{}\n", mustTool(t, m, "synapse/1", "relation-get", "--format=json", "-r", "synapse-peers:0", "--app", "-", "synapse"))

	// Bad use.
	res = tool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "-", "postgresql-k8s")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR expected unit name, got application name \"postgresql-k8s\"\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1")
	assert.Equal(t, "ERROR no unit or application specified\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-get", "--format=json", "-r", "database:1", "-", "redis-k8s/0")
	assert.Equal(t, "ERROR permission denied\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-get", "--format=xml", "-r", "database:1", "-", "postgresql-k8s/0")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR invalid value \"xml\" for flag --format: unknown format \"xml\"\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-get", "--nope")
	assert.Equal(t, "ERROR flag provided but not defined: --nope\n", res.Stderr)

	// In a relation hook context the remote unit is the default.
	res = toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"relation-get", "--format=json", "role"}, Relation: "database:1", RemoteUnit: "postgresql-k8s/0"})
	assert.Equal(t, "\"primary\"\n", res.Stdout)
}

func TestRelationSet(t *testing.T) {
	m, _ := knownModel(t)
	// --app by a non-leader is refused.
	res := tool(t, m, "synapse/1", "relation-set", "-r", "database:1", "--app", "database=synapse")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR cannot write relation settings\n", res.Stderr)

	// --file - takes JSON (YAML) on stdin; k=v override it; "" deletes.
	res = toolOpts(t, m, "synapse/0", ExecOptions{
		Command: []string{"relation-set", "-r", "database:1", "--app", "--file", "-", "extra-user-roles=SUPERUSER"},
		Stdin:   []byte(`{"database": "synapse", "requested-secrets": "[\"username\", \"password\"]", "extra-user-roles": "x"}`),
	})
	require.Equal(t, 0, res.Code, res.Stderr)
	rel, _ := m.Relation(1)
	assert.Equal(t, map[string]string{"database": "synapse", "requested-secrets": `["username", "password"]`, "extra-user-roles": "SUPERUSER"}, rel.AppData)
	mustTool(t, m, "synapse/0", "relation-set", "-r", "database:1", "--app", "extra-user-roles=")
	rel, _ = m.Relation(1)
	assert.NotContains(t, rel.AppData, "extra-user-roles")

	// Values are stored as strings: a YAML number is its text.
	res = toolOpts(t, m, "synapse/1", ExecOptions{Command: []string{"relation-set", "-r", "database:1", "--file=-"}, Stdin: []byte("port: 5432\nname: x\n")})
	require.Equal(t, 0, res.Code, res.Stderr)
	rel, _ = m.Relation(1)
	assert.Equal(t, "5432", rel.UnitData["synapse/1"]["port"])

	// A nested value is not a string.
	res = toolOpts(t, m, "synapse/1", ExecOptions{Command: []string{"relation-set", "-r", "database:1", "--file", "-"}, Stdin: []byte(`{"a": {"b": "c"}}`)})
	assert.Equal(t, 1, res.Code)
	assert.Contains(t, res.Stderr, "cannot unmarshal !!map into string")

	res = tool(t, m, "synapse/0", "relation-set", "-r", "database:1", "novalue")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR expected \"key=value\", got \"novalue\"\n", res.Stderr)
	res = tool(t, m, "synapse/0", "relation-set", "-r", "database:1", "a=1", "a=2")
	assert.Equal(t, "ERROR key \"a\" specified more than once\n", res.Stderr)

	// A write followed by a read in the same context sees the write; a
	// command that then fails commits nothing.
	script := "relation-set -r database:1 k=v && relation-get --format=json -r database:1 k synapse/0 && exit 3"
	res = toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"/bin/sh", "-c", script}})
	assert.Equal(t, 3, res.Code)
	assert.Equal(t, "\"v\"\n", res.Stdout)
	rel, _ = m.Relation(1)
	assert.NotContains(t, rel.UnitData["synapse/0"], "k")
}

func TestConfigGet(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	require.NoError(t, m.ConfigSet(map[string]string{"server_name": "example.com", "workers": "4"}))
	assert.JSONEq(t, `{"server_name":"example.com","enable_registration":false,"workers":4,"ratio":0.5,"motd":"hello"}`,
		mustTool(t, m, "synapse/0", "config-get", "--format=json"))
	assert.Equal(t, "4\n", mustTool(t, m, "synapse/0", "config-get", "--format=json", "workers"))
	assert.Equal(t, "false\n", mustTool(t, m, "synapse/0", "config-get", "--format=json", "enable_registration"))
	assert.Equal(t, "null\n", mustTool(t, m, "synapse/0", "config-get", "--format=json", "unknown"))
	assert.Equal(t, "example.com\n", mustTool(t, m, "synapse/0", "config-get", "server_name"))
	require.NoError(t, m.ConfigReset("server_name"))
	assert.JSONEq(t, `{"enable_registration":false,"workers":4,"ratio":0.5,"motd":"hello"}`, mustTool(t, m, "synapse/0", "config-get", "--format=json"))
	assert.JSONEq(t, `{"server_name":null,"enable_registration":false,"workers":4,"ratio":0.5,"motd":"hello"}`, mustTool(t, m, "synapse/0", "config-get", "--format=json", "--all"))
	res := tool(t, m, "synapse/0", "config-get", "-a", "workers")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR cannot use argument --all together with key \"workers\"\n", res.Stderr)
	assert.Error(t, m.ConfigSet(map[string]string{"workers": "many"}))
	assert.Error(t, m.ConfigSet(map[string]string{"nope": "1"}))
}

func TestIsLeader(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	assert.Equal(t, "true\n", mustTool(t, m, "synapse/0", "is-leader", "--format=json"))
	assert.Equal(t, "false\n", mustTool(t, m, "synapse/1", "is-leader", "--format=json"))
	assert.Equal(t, "True\n", mustTool(t, m, "synapse/0", "is-leader"))
}

func TestStatusSetGet(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	mustTool(t, m, "synapse/1", "status-set", "--application=false", "blocked", "--", "-needs a database")
	assert.Equal(t, "blocked\n", mustTool(t, m, "synapse/1", "status-get"))
	assert.Equal(t, "{\"status\":\"blocked\"}\n", mustTool(t, m, "synapse/1", "status-get", "--format=json"))
	assert.JSONEq(t, `{"message":"-needs a database","status":"blocked","status-data":{}}`,
		mustTool(t, m, "synapse/1", "status-get", "--include-data", "--format=json", "--application=false"))

	res := tool(t, m, "synapse/0", "status-set", "error", "boom")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n", res.Stderr)
	res = tool(t, m, "synapse/1", "status-set", "--application", "active")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR this unit is not the leader\n", res.Stderr)

	mustTool(t, m, "synapse/0", "status-set", "--application", "active", "all good")
	assert.JSONEq(t, `{"application-status":{"message":"all good","status":"active","status-data":{},"units":{"synapse/0":{"message":"","status":"unknown","status-data":{}},"synapse/1":{"message":"-needs a database","status":"blocked","status-data":{}}}}}`,
		mustTool(t, m, "synapse/0", "status-get", "--application", "--include-data", "--format=json"))
	assert.Equal(t, Status{Status: "active", Message: "all good"}, withoutSince(m.AppStatus()))

	// status-set acts at once: a failing command keeps it.
	res = toolOpts(t, m, "synapse/1", ExecOptions{Command: []string{"/bin/sh", "-c", "status-set maintenance working; exit 1"}})
	assert.Equal(t, 1, res.Code)
	u1, _ := m.Unit("synapse/1")
	assert.Equal(t, Status{Status: "maintenance", Message: "working"}, withoutSince(u1.WorkloadStatus))
}

func withoutSince(s Status) Status { return Status{Status: s.Status, Message: s.Message} }

func TestNetworkGet(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	u1, _ := m.Unit("synapse/1")
	a := u1.Address
	cidr := regexp.MustCompile(`\.\d+$`).ReplaceAllString(a, ".0/24")
	svc := m.ServiceAddress()
	assert.Equal(t,
		`{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":"`+a+`","cidr":"`+cidr+`"}]}],"egress-subnets":["`+svc+`/32"],"ingress-addresses":["`+svc+`"]}`+"\n",
		mustTool(t, m, "synapse/1", "network-get", "--format=json", "synapse-peers"))
	assert.Equal(t, "\""+a+"\"\n", mustTool(t, m, "synapse/1", "network-get", "--format=json", "--bind-address", "database"))
	assert.JSONEq(t, `{"bind-address":"`+a+`","ingress-address":"`+svc+`"}`,
		mustTool(t, m, "synapse/1", "network-get", "--format=json", "--bind-address", "--ingress-address", "juju-info"))
	res := tool(t, m, "synapse/1", "network-get", "--format=json", "nope")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR binding name \"nope\" not defined by the unit's charm\n", res.Stderr)
	res = tool(t, m, "synapse/1", "network-get")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR no arguments specified\n", res.Stderr)
}

func TestState(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	assert.Equal(t, "{}\n", mustTool(t, m, "synapse/0", "state-get", "--format=json"))
	res := toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"state-set", "--file", "-", "b=2"}, Stdin: []byte(`{"a": "1", "b": "x"}`)})
	require.Equal(t, 0, res.Code, res.Stderr)
	assert.JSONEq(t, `{"a":"1","b":"2"}`, mustTool(t, m, "synapse/0", "state-get", "--format=json"))
	assert.Equal(t, "\"1\"\n", mustTool(t, m, "synapse/0", "state-get", "--format=json", "a"))
	assert.Equal(t, "\"\"\n", mustTool(t, m, "synapse/0", "state-get", "--format=json", "missing"))
	res = tool(t, m, "synapse/0", "state-get", "--strict", "missing")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR \"missing\" not found\n", res.Stderr)
	mustTool(t, m, "synapse/0", "state-delete", "a")
	assert.Equal(t, map[string]string{"b": "2"}, mustUnit(t, m, "synapse/0").State)
	// Uncommitted on failure.
	res = toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"/bin/sh", "-c", "state-set c=3 && state-get c && exit 1"}})
	assert.Equal(t, "3\n", res.Stdout)
	assert.Equal(t, map[string]string{"b": "2"}, mustUnit(t, m, "synapse/0").State)
}

func mustUnit(t *testing.T, m *Model, name string) UnitView {
	t.Helper()
	u, ok := m.Unit(name)
	require.True(t, ok, name)
	return u
}

func TestPorts(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	assert.Equal(t, "[]\n", mustTool(t, m, "synapse/0", "opened-ports", "--format=json"))
	res := toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"/bin/sh", "-c", "open-port 8080 && opened-ports --format=json"}})
	assert.Equal(t, "[]\n", res.Stdout, "pending open-port is not listed")
	mustTool(t, m, "synapse/0", "open-port", "8008/tcp", "--endpoints", "database")
	assert.Equal(t, "[\"8008/tcp\",\"8080/tcp\"]\n", mustTool(t, m, "synapse/0", "opened-ports", "--format=json"))
	assert.Equal(t, "[\"8008/tcp (database)\",\"8080/tcp (*)\"]\n", mustTool(t, m, "synapse/0", "opened-ports", "--format=json", "--endpoints"))
	mustTool(t, m, "synapse/0", "close-port", "8080")
	assert.Equal(t, []string{"8008/tcp"}, mustUnit(t, m, "synapse/0").OpenedPorts)
	res = tool(t, m, "synapse/0", "open-port", "http")
	assert.Equal(t, 2, res.Code)
}

func TestGoalState(t *testing.T) {
	m, _ := knownModel(t)
	var gs struct {
		Units     map[string]map[string]string            `json:"units"`
		Relations map[string]map[string]map[string]string `json:"relations"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustTool(t, m, "synapse/0", "goal-state", "--format=json")), &gs))
	assert.Equal(t, "active", gs.Units["synapse/1"]["status"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`, gs.Units["synapse/1"]["since"])
	assert.Equal(t, "joined", gs.Relations["database"]["postgresql-k8s"]["status"])
	assert.Equal(t, "active", gs.Relations["database"]["postgresql-k8s/0"]["status"])
	assert.Contains(t, gs.Relations["synapse-peers"], "synapse/1")
}

func TestSecrets(t *testing.T) {
	m, _ := knownModel(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("s3cr3t-signing-key"), 0o600))

	// A non-leader cannot add an application secret.
	res := tool(t, m, "synapse/1", "secret-add", "--label", "signing", "signing-key#file="+keyFile)
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR this unit is not the leader\n", res.Stderr)

	out := mustTool(t, m, "synapse/0", "secret-add", "--label", "signing", "--owner", "application", "signing-key#file="+keyFile, "other#base64=aGVsbG8=")
	require.Regexp(t, `^secret:[0-9a-v]{20}\n$`, out)
	uri := strings.TrimSpace(out)
	id := strings.TrimPrefix(uri, "secret:")
	assert.NotContains(t, strings.Join(m.Recorder().Strings(), "\n"), "s3cr3t", "the value never reached argv")

	// Every unit of the owning application reads it, by id or label.
	assert.JSONEq(t, `{"signing-key":"s3cr3t-signing-key","other":"hello"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", uri))
	assert.JSONEq(t, `{"signing-key":"s3cr3t-signing-key","other":"hello"}`, mustTool(t, m, "synapse/0", "secret-get", "--format=json", "--label", "signing"))
	assert.Equal(t, "\"aGVsbG8=\"\n", mustTool(t, m, "synapse/0", "secret-get", "--format=json", "secret://"+m.UUID()+"/"+id, "other#base64"))
	assert.Equal(t, "other: hello\nsigning-key: s3cr3t-signing-key\n", mustTool(t, m, "synapse/0", "secret-get", id), "default format is YAML")

	assert.Equal(t, "[\""+id+"\"]\n", mustTool(t, m, "synapse/0", "secret-ids", "--format=json"))
	assert.Equal(t, "null\n", mustTool(t, m, "synapse/1", "secret-ids", "--format=json"), "Juju prints null for none")
	assert.JSONEq(t, `{"`+id+`":{"revision":1,"label":"signing","owner":"application","rotation":"never"}}`,
		mustTool(t, m, "synapse/0", "secret-info-get", "--format=json", "--label", "signing"))

	// Only the owner (the leader) changes it.
	res = tool(t, m, "synapse/1", "secret-set", uri, "signing-key=x")
	// Juju 3.6 answers ErrIsNotLeader for an application secret on a non-leader.
	assert.Equal(t, "ERROR this unit is not the leader\n", res.Stderr)
	mustTool(t, m, "synapse/0", "secret-set", uri, "signing-key=rotated")
	info, ok := m.Secret(uri)
	require.True(t, ok)
	assert.Equal(t, 2, info.Revision)

	// Grant to the relation; revoke.
	mustTool(t, m, "synapse/0", "secret-grant", uri, "-r", "database:1")
	info, _ = m.Secret(uri)
	assert.Equal(t, map[int]string{1: "postgresql-k8s"}, info.Grants)
	res = tool(t, m, "synapse/0", "secret-grant", uri, "-r", "database:1", "--unit", "redis-k8s/0")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR cannot specify unit \"redis-k8s/0\" in relation to application \"postgresql-k8s\"\n", res.Stderr)
	mustTool(t, m, "synapse/0", "secret-revoke", uri, "--relation", "database:1")
	info, _ = m.Secret(uri)
	assert.Empty(t, info.Grants)

	// Bad use.
	res = tool(t, m, "synapse/0", "secret-get")
	assert.Equal(t, "ERROR require either a secret URI or label\n", res.Stderr)
	res = tool(t, m, "synapse/0", "secret-get", "secret:nope")
	assert.Equal(t, "ERROR secret URI \"secret:nope\" not valid\n", res.Stderr)
	res = tool(t, m, "synapse/0", "secret-get", "--label", "nope")
	assert.Equal(t, "ERROR secret \"nope\" not found\n", res.Stderr)
	res = tool(t, m, "synapse/0", "secret-add", "Bad_Key=1")
	assert.Equal(t, "ERROR key \"Bad_Key\" not valid\n", res.Stderr)
	res = tool(t, m, "synapse/0", "secret-add", "--label", "signing", "key=1")
	assert.Equal(t, "ERROR secret with label \"signing\" already exists\n", res.Stderr)

	// secret-remove by the owner.
	mustTool(t, m, "synapse/0", "secret-remove", uri)
	_, ok = m.Secret(uri)
	assert.False(t, ok)
}

func TestSecretConsumerRefreshAndPeek(t *testing.T) {
	var owner *RemoteRelation
	app := &StaticApp{AppName: "vault", EndpointName: "database", InterfaceName: "postgresql_client",
		OnChanged: func(_ context.Context, r *RemoteRelation) error { owner = r; return nil }}
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 2)
	integrate(t, m, app, "database")
	require.NotNil(t, owner)
	uri := owner.AddSecret(map[string]string{"password": "one"}, "db.password")
	// Not granted yet.
	res := tool(t, m, "synapse/1", "secret-get", "--format=json", uri)
	assert.Equal(t, "ERROR permission denied\n", res.Stderr)
	require.NoError(t, owner.GrantSecret(uri))

	// The first read tracks the latest revision, and sets a consumer label.
	assert.JSONEq(t, `{"password":"one"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", uri, "--label", "database.password"))
	require.NoError(t, owner.UpdateSecret(uri, map[string]string{"password": "two"}))
	mark := len(m.Recorder().Hooks())
	waitIdle(t, m)
	assert.Equal(t, []string{"synapse/1 secret-changed"}, hookNames(m, mark), "only the consumer that read it")
	h := m.Recorder().HooksSince(mark)[0]
	id, _ := parseSecretURI(uri)
	assert.Contains(t, h.Env, "JUJU_SECRET_ID=secret:"+id)
	assert.Contains(t, h.Env, "JUJU_SECRET_LABEL=database.password")

	assert.JSONEq(t, `{"password":"one"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", "--label", "database.password"))
	assert.JSONEq(t, `{"password":"two"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", "--label", "database.password", "--peek"))
	assert.JSONEq(t, `{"password":"one"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", uri))
	assert.JSONEq(t, `{"password":"two"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", uri, "--refresh"))
	assert.JSONEq(t, `{"password":"two"}`, mustTool(t, m, "synapse/1", "secret-get", "--format=json", uri))
	res = tool(t, m, "synapse/1", "secret-get", uri, "--peek", "--refresh")
	assert.Equal(t, "ERROR specify one of --peek or --refresh but not both\n", res.Stderr)
}

func TestActionToolsOutsideAnAction(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	for _, args := range [][]string{{"action-get"}, {"action-set", "a=b"}, {"action-fail", "x"}, {"action-log", "x"}} {
		res := tool(t, m, "synapse/0", args...)
		assert.Equal(t, 1, res.Code, args)
		assert.Equal(t, "ERROR not running an action\n", res.Stderr, args)
	}
	res := tool(t, m, "synapse/0", "action-set", "Bad=1")
	assert.Equal(t, 2, res.Code)
	res = tool(t, m, "synapse/0", "action-set", "stdout=1")
	assert.Equal(t, "ERROR cannot set reserved action key \"stdout\"\n", res.Stderr)
}

func TestJujuLog(t *testing.T) {
	m, _ := knownModel(t)
	mustTool(t, m, "synapse/0", "juju-log", "--log-level", "DEBUG", "--", "-starts with a dash")
	res := toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"juju-log", "in", "relation"}, Relation: "database:1"})
	require.Equal(t, 0, res.Code)
	logs := m.Recorder().Logs()
	require.GreaterOrEqual(t, len(logs), 2)
	assert.Equal(t, LogLine{Unit: "synapse/0", Level: "DEBUG", Message: "-starts with a dash"}, logs[len(logs)-2])
	assert.Equal(t, "database:1: in relation", logs[len(logs)-1].Message)
	res = tool(t, m, "synapse/0", "juju-log")
	assert.Equal(t, 2, res.Code)
	assert.Equal(t, "ERROR no message specified\n", res.Stderr)
}

func TestApplicationVersionSet(t *testing.T) {
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	res := toolOpts(t, m, "synapse/0", ExecOptions{Command: []string{"/bin/sh", "-c", "application-version-set -- 1.160.0; exit 1"}})
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "1.160.0", m.WorkloadVersion(), "acts at once")
	assert.Equal(t, "1.160.0", m.Status().Applications["synapse"].Version)
}

func TestToolCallsAreRecorded(t *testing.T) {
	m, _ := knownModel(t)
	before := m.Recorder().ToolCallCount("synapse/1", "")
	mustTool(t, m, "synapse/1", "relation-get", "--format=json", "-r", "database:1", "--app", "-", "postgresql-k8s")
	assert.Equal(t, before+1, m.Recorder().ToolCallCount("synapse/1", ""))
	calls := m.Recorder().ToolCalls()
	last := calls[len(calls)-1]
	assert.Equal(t, "relation-get", last.Tool)
	assert.Equal(t, []string{"--format=json", "-r", "database:1", "--app", "-", "postgresql-k8s"}, last.Args)
}

func TestToolWithoutContext(t *testing.T) {
	bin, err := HookToolBinary(testCtx(t))
	require.NoError(t, err)
	m := newModel(t, quietCharm, Options{})
	deploy(t, m, 1)
	res, err := m.Exec(testCtx(t), "synapse/0", ExecOptions{Command: []string{"/bin/sh", "-c", "JUJU_CONTEXT_ID=bogus " + bin + " is-leader"}})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, "ERROR bad request: bad context: bogus\n", res.Stderr)
}
