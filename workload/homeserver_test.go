package workload_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func mustConfig(t *testing.T, raw map[string]any) config.Config {
	t.Helper()
	c, err := config.Parse(raw)
	require.NoError(t, err)
	return c
}

func renderDoc(t *testing.T, h workload.Homeserver) map[string]any {
	t.Helper()
	out, err := workload.RenderHomeserver(h)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(out, &doc))
	return doc
}

func TestHomeserverMonolithOnSQLite(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	doc := renderDoc(t, workload.Homeserver{Config: cfg, PublicBaseURL: workload.PublicBaseURL(cfg, ""), BindAddress: "10.1.2.3"})
	assert.Equal(t, "example.com", doc["server_name"])
	assert.Equal(t, "https://example.com/", doc["public_baseurl"])
	assert.Equal(t, true, doc["enable_metrics"])
	assert.Equal(t, map[string]any{"name": "sqlite3", "args": map[string]any{"database": "/data/homeserver.db"}}, doc["database"])
	listeners := doc["listeners"].([]any)
	require.Len(t, listeners, 2)
	client := listeners[0].(map[string]any)
	assert.Equal(t, 8008, client["port"])
	assert.Equal(t, true, client["x_forwarded"])
	assert.Equal(t, []any{"10.1.2.3"}, client["bind_addresses"])
	assert.Equal(t, "metrics", listeners[1].(map[string]any)["type"])
	assert.Equal(t, 9000, listeners[1].(map[string]any)["port"])
	for _, key := range []string{"signing_key_path", "macaroon_secret_key_path", "registration_shared_secret_path", "form_secret_path"} {
		assert.Contains(t, doc[key], "/data/secrets/", key)
	}
	assert.NotContains(t, doc, "redis")
	assert.NotContains(t, doc, "password_config")
	assert.NotContains(t, doc, "trusted_key_servers")
}

func TestHomeserverPostgresKeepsPasswordOutOfTheFile(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	pg := &relations.Database{Host: "db", Port: 5432, Name: "synapse", User: "relation_id_3", Password: "s3cr3tpassw0rd"}
	out, err := workload.RenderHomeserver(workload.Homeserver{Config: cfg, PublicBaseURL: "https://m/", BindAddress: "127.0.0.1", Postgres: pg})
	require.NoError(t, err)
	assert.NotContains(t, string(out), "s3cr3tpassw0rd")
	assert.Contains(t, string(out), "passfile: /data/secrets/pgpass")
	assert.Equal(t, "db:5432:synapse:relation_id_3:s3cr3tpassw0rd\n", string(workload.RenderPGPass(pg)))
	assert.Equal(t, `h\:1:5432:d:u:p\\w\:x`+"\n", string(workload.RenderPGPass(&relations.Database{Host: "h:1", Port: 5432, Name: "d", User: "u", Password: `p\w:x`})))
}

func TestHomeserverOptions(t *testing.T) {
	cfg := mustConfig(t, map[string]any{
		"server_name":                   "example.com",
		"enable_password_config":        false,
		"trusted_key_servers":           "matrix.org,example.net",
		"publish_rooms_allowlist":       "alice:example.com",
		"limit_remote_rooms_complexity": 2.5,
	})
	doc := renderDoc(t, workload.Homeserver{Config: cfg, PublicBaseURL: "https://x/", BindAddress: "::1"})
	assert.Equal(t, map[string]any{"enabled": false}, doc["password_config"])
	assert.Equal(t, []any{map[string]any{"server_name": "matrix.org"}, map[string]any{"server_name": "example.net"}}, doc["trusted_key_servers"])
	assert.Equal(t, []any{
		map[string]any{"user_id": "@alice:example.com", "action": "allow"},
		map[string]any{"action": "deny"},
	}, doc["room_list_publication_rules"])
	assert.Equal(t, map[string]any{"enabled": true, "complexity": 2.5}, doc["limit_remote_rooms"])
}

func TestHomeserverRenderIsDeterministic(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com", "federation_domain_whitelist": "a.org,b.org"})
	h := workload.Homeserver{Config: cfg, PublicBaseURL: "https://x/", BindAddress: "1.2.3.4"}
	first, err := workload.RenderHomeserver(h)
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		again, err := workload.RenderHomeserver(h)
		require.NoError(t, err)
		require.Equal(t, string(first), string(again))
	}
}

func TestPublicBaseURL(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	assert.Equal(t, "https://example.com/", workload.PublicBaseURL(cfg, ""))
	assert.Equal(t, "http://ingress/model-synapse/", workload.PublicBaseURL(cfg, "http://ingress/model-synapse"))
	cfg.PublicBaseURL = "https://chat.example.com/"
	assert.Equal(t, "https://chat.example.com/", workload.PublicBaseURL(cfg, "http://ingress/x"))
}

func TestSecretsRoundTripAndFiles(t *testing.T) {
	s, err := workload.GenerateSecrets()
	require.NoError(t, err)
	require.NoError(t, workload.ValidateSigningKey(s.SigningKey))
	assert.True(t, strings.HasPrefix(s.SigningKey, "ed25519 a_"))
	back, err := workload.SecretsFromContent(s.Content())
	require.NoError(t, err)
	assert.Equal(t, s, back)
	for _, f := range s.Files() {
		assert.Equal(t, "-rw-------", f.Mode.String(), f.Path)
	}
	other, err := workload.GenerateSecrets()
	require.NoError(t, err)
	assert.NotEqual(t, s.Macaroon, other.Macaroon)

	content := s.Content()
	delete(content, "form-secret")
	_, err = workload.SecretsFromContent(content)
	assert.ErrorContains(t, err, "form-secret")
	content = s.Content()
	content["signing-key"] = "ed25519 a_x notbase64!!"
	_, err = workload.SecretsFromContent(content)
	assert.Error(t, err)
}

func TestRenderSynapseHashFollowsFiles(t *testing.T) {
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	in := workload.SynapseInput{Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://a/", BindAddress: "127.0.1.2"}, Secrets: secrets}
	first, err := workload.RenderSynapse(in)
	require.NoError(t, err)
	same, err := workload.RenderSynapse(in)
	require.NoError(t, err)
	hash := func(c workload.Container) string {
		return c.Layer.Services[workload.MainService].Environment["SYNAPSE_CHARM_CONFIG_HASH"]
	}
	assert.Equal(t, hash(first), hash(same))
	in.Homeserver.PublicBaseURL = "https://b/"
	changed, err := workload.RenderSynapse(in)
	require.NoError(t, err)
	assert.NotEqual(t, hash(first), hash(changed))

	assert.Equal(t, "http://127.0.1.2:8008/health", first.Layer.Checks["synapse-ready"].HTTP.URL)
	assert.Equal(t, "ready", first.Layer.Checks["synapse-ready"].Level)
	assert.Equal(t, "alive", first.Layer.Checks["synapse-alive"].Level)
	assert.Equal(t, "2m0s", first.Layer.Checks["synapse-alive"].Period)
	assert.Equal(t, "restart", first.Layer.Services["synapse"].OnCheckFailure["synapse-alive"])
	layerYAML, err := first.Layer.YAML()
	require.NoError(t, err)
	assert.NotContains(t, string(layerYAML), secrets.Registration, "no secret in the layer")
}
