package decide_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// The application secret made by the leader holds a random admin name;
// two applications never share it.
func TestNewSecretHoldsARandomAdminName(t *testing.T) {
	d := decide.Decide(ttFresh(t))
	require.NotNil(t, d.CreateSecret)
	name := d.CreateSecret.Content[workload.SecretKeyAdminLocalpart]
	assert.Regexp(t, `^synapse-charm-[a-z0-9]{24}$`, name)
	assert.NotEqual(t, "synapse-charm-admin", name)
	other := decide.Decide(ttFresh(t)).CreateSecret.Content[workload.SecretKeyAdminLocalpart]
	assert.NotEqual(t, name, other)
}

// A secret made before the charm kept an admin name gets one from the
// leader with secret-set (every other key as it was); other units and a
// secret that has one change nothing.
func TestLeaderAddsTheAdminNameToAnOlderSecret(t *testing.T) {
	s := ttReady(t)
	delete(s.AppSecret.Content, workload.SecretKeyAdminLocalpart)
	s.AppSecret.FreshAdminLocalpart = "synapse-charm-0123456789abcdefghijklmn"
	d := decide.Decide(s)
	require.NotNil(t, d.UpdateSecret)
	assert.Equal(t, s.AppSecret.ID, d.UpdateSecret.ID)
	want := maps.Clone(s.AppSecret.Content)
	want[workload.SecretKeyAdminLocalpart] = s.AppSecret.FreshAdminLocalpart
	assert.Equal(t, want, d.UpdateSecret.Content)
	assert.False(t, ttTouches(d.Synapse), "no file depends on the admin name: nothing changes")

	s.Leader = false
	assert.Nil(t, decide.Decide(s).UpdateSecret, "only the leader writes the secret")

	s = ttReady(t)
	s.AppSecret.FreshAdminLocalpart = "synapse-charm-0123456789abcdefghijklmn"
	assert.Nil(t, decide.Decide(s).UpdateSecret, "a secret with a name keeps it")
}

// Synapse fetches the IdP's metadata from the URL only when the provider
// gives no metadata: a plain http URL then blocks, naming the option that
// allows it; https, inline metadata and the option do not.
func TestSAMLMetadataURLMustBeHTTPS(t *testing.T) {
	bag := func(url string, inline bool) map[string]string {
		b := map[string]string{"entity_id": "https://idp.example/", "metadata_url": url}
		if inline {
			b["metadata"] = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/"/>`
		}
		return b
	}
	run := func(app map[string]string, options map[string]any) decide.Decision {
		s := ttReady(t)
		s.Config = ttConfig(t, options)
		s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator", App: app}
		s.Image.Modules = map[string]bool{decide.SAMLModule: true}
		return decide.Decide(s)
	}

	d := run(bag("http://idp.example/metadata", false), nil)
	st := ttStatus(d)
	assert.Equal(t, decide.Blocked, st.Level)
	assert.Contains(t, st.Message, "plain http URL (http://idp.example/metadata)")
	assert.Contains(t, st.Message, "juju config synapse saml_allow_insecure_metadata_url=true")
	assert.Nil(t, d.Synapse, "the running Synapse keeps its configuration")

	for name, d := range map[string]decide.Decision{
		"https":           run(bag("https://idp.example/metadata", false), nil),
		"inline metadata": run(bag("http://idp.example/metadata", true), nil),
		"allowed":         run(bag("http://idp.example/metadata", false), map[string]any{"saml_allow_insecure_metadata_url": true}),
	} {
		assert.Equal(t, decide.Active, ttStatus(d).Level, "%s: %s", name, ttStatus(d).Message)
	}
}

// A 200 KiB value in any provider's bag gives a blocked status of a
// readable length, and no log line carries it.
func TestHugeBagValueBlocksWithAShortStatus(t *testing.T) {
	huge := "https://x/" + strings.Repeat("a", 200<<10)
	for name, set := range map[string]func(*decide.Snapshot){
		"database": func(s *decide.Snapshot) {
			s.Database = &decide.RelationView{ID: ttDBID, RemoteApp: "postgresql-k8s", App: map[string]string{"endpoints": huge, "secret-user": huge}, Local: map[string]string{}}
		},
		"redis": func(s *decide.Snapshot) {
			s.Redis = &decide.RelationView{ID: ttRedisID, RemoteApp: "redis-k8s", Units: map[string]map[string]string{"redis-k8s/0": {"hostname": huge, "port": "6379"}}}
		},
		"media": func(s *decide.Snapshot) {
			s.Media = &decide.RelationView{ID: "media:1", RemoteApp: "s3-integrator", App: map[string]string{"bucket": "b", "secret-extra": huge}, Local: map[string]string{}}
		},
		"smtp": func(s *decide.Snapshot) {
			s.SMTP = &decide.RelationView{ID: "smtp:2", RemoteApp: "smtp-integrator", App: map[string]string{"host": "mail", "port": "25", "password_id": huge}}
		},
		"saml": func(s *decide.Snapshot) {
			s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator", App: map[string]string{"entity_id": "x", "metadata_url": huge}}
		},
		"ingress": func(s *decide.Snapshot) {
			s.Ingress = &decide.RelationView{ID: "ingress:3", RemoteApp: "traefik-k8s", App: map[string]string{"ingress": huge}, Local: map[string]string{}}
		},
	} {
		s := ttReady(t)
		s.Image.Modules = map[string]bool{decide.SAMLModule: true}
		set(&s)
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Blocked, st.Level, "%s: %s", name, st.Message)
		assert.LessOrEqual(t, len(st.Message), decide.MaxMessage, name)
		for _, l := range d.Logs {
			assert.LessOrEqual(t, len(l.Message), 1024, name)
		}
	}
}
