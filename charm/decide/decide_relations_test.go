package decide_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func TestDatabase(t *testing.T) {
	t.Run("the leader writes the request once", func(t *testing.T) {
		s := ttReady(t)
		s.Database = &decide.RelationView{ID: ttDBID, RemoteApp: "postgresql-k8s", App: map[string]string{}, Local: map[string]string{}}
		d := decide.Decide(s)
		req := d.Write(ttDBID, true)
		assert.Equal(t, relations.DatabaseRequest("synapse"), req)
		assert.Equal(t, "SUPERUSER", req["extra-user-roles"])
		st := ttStatus(d)
		assert.Equal(t, decide.Active, st.Level, "keeps serving on SQLite while waiting")
		assert.Equal(t, "main, 1 process; serving on SQLite until postgresql-k8s creates the database", st.Message)
		assert.False(t, ttTouches(d.Synapse), "SQLite stays as it was")

		next := ttApply(t, s, d)
		assert.Nil(t, decide.Decide(next).Write(ttDBID, true), "written once")
		next.Leader = false
		next.Database.Local = nil
		assert.Nil(t, decide.Decide(next).Write(ttDBID, true), "a non-leader never writes it")
	})

	t.Run("pending relation", func(t *testing.T) {
		s := ttReady(t)
		s.Database = &decide.RelationView{ID: ttDBID, RemoteApp: "postgresql-k8s", Pending: true}
		d := decide.Decide(s)
		assert.Empty(t, d.Writes)
		assert.Equal(t, "main, 1 process; joining the database relation", ttStatus(d).Message)
	})

	t.Run("malformed blocks and keeps the request", func(t *testing.T) {
		s := ttReady(t)
		s.Database = &decide.RelationView{ID: ttDBID, RemoteApp: "postgresql-k8s", Local: map[string]string{},
			App: map[string]string{"username": "u", "password": "p", "endpoints": "{garbage"}}
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Blocked, st.Level)
		assert.True(t, ttHas(st.Message, "database relation from postgresql-k8s is malformed", "endpoints"), st.Message)
		assert.Nil(t, d.Synapse, "workload untouched")
		assert.Equal(t, "synapse", d.Write(ttDBID, true)["database"], "the request was written")
	})

	locale := func(collate string, tables int, superuser bool) *workload.DatabaseLocale {
		return &workload.DatabaseLocale{Collate: collate, CType: collate, Tables: tables, Superuser: superuser}
	}
	for _, tc := range []struct {
		name    string
		locale  *workload.DatabaseLocale
		err     error
		level   decide.Level
		want    string
		fix     bool
		applied bool
	}{
		{"C locale", locale("C", 0, false), nil, decide.Active, "main, 1 process", false, true},
		{"non-C with tables", locale("en_US.UTF-8", 3, true), nil, decide.Blocked,
			"database synapse has collation en_US.UTF-8 and already holds tables; Synapse needs C: recreate it with LC_COLLATE=C LC_CTYPE=C", false, false},
		{"non-C empty with superuser", locale("en_US.UTF-8", 0, true), nil, decide.Active, "main, 1 process", true, true},
		{"non-C empty without superuser", locale("en_US.UTF-8", 0, false), nil, decide.Blocked,
			"database synapse has collation en_US.UTF-8 and the charm may not change it: grant SUPERUSER or recreate it with LC_COLLATE=C", false, false},
		{"unreachable", nil, errors.New("connection refused"), decide.Waiting, "cannot reach the database yet: connection refused", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ttReady(t)
			s.Database = ttDatabase()
			s.DatabaseLocale, s.DatabaseLocaleErr, s.SQLite = tc.locale, tc.err, ttEmptySQLite()
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, tc.level, st.Level, st.Message)
			assert.Equal(t, tc.want, st.Message)
			if tc.fix {
				require.NotNil(t, d.FixDatabase)
				assert.Equal(t, relations.Database{Host: ttDBHost, Port: 5432, Name: "synapse", User: "relation_id_3", Password: ttDBPass}, *d.FixDatabase)
			} else {
				assert.Nil(t, d.FixDatabase)
			}
			if !tc.applied {
				assert.Nil(t, d.Synapse, "still serving, untouched")
				assert.NotContains(t, d.Write(ttPeerID, true), decide.DatabaseReadyKey)
				return
			}
			assert.Equal(t, "synapse@"+ttDBHost, d.Write(ttPeerID, true)[decide.DatabaseReadyKey], "the locale is checked once")
			hs := ttFile(t, d.Synapse, workload.HomeserverPath)
			assert.Contains(t, hs, "name: psycopg2")
			assert.NotContains(t, hs, ttDBPass, "the password is not in homeserver.yaml")
			assert.Equal(t, []string{workload.MainService}, d.Synapse.Changes.Restart, "synapse restarts onto PostgreSQL")
			assert.NotEmpty(t, d.Write(ttPeerID, true)[decide.DataHomeKey], "the data home follows the database")

			// A second hook restarts nothing and fixes nothing again.
			next := ttApply(t, s, d)
			d = decide.Decide(next)
			assert.Nil(t, d.FixDatabase)
			assert.False(t, ttTouches(d.Synapse))
			assert.Empty(t, d.Writes)
		})
	}

	t.Run("a non-leader serves on SQLite until the leader prepared the database", func(t *testing.T) {
		s := ttReady(t)
		s.Leader = false
		s.Database = ttDatabase()
		s.Database.Local = nil
		d := decide.Decide(s)
		assert.Nil(t, d.FixDatabase)
		assert.Equal(t, "main, 1 process; serving on SQLite until the leader has prepared the database", ttStatus(d).Message)
		assert.False(t, ttTouches(d.Synapse))
	})

	used := func(t *testing.T) decide.Snapshot {
		s := ttReady(t)
		s.Database, s.DatabaseLocale, s.SQLite = ttDatabase(), ttCLocale(), ttEmptySQLite()
		return ttSettle(t, ttApply(t, s, decide.Decide(s)))
	}
	t.Run("removed after it was used blocks", func(t *testing.T) {
		s := used(t)
		s.Database = nil
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Blocked, st.Level)
		assert.Equal(t, "the database relation was removed; Synapse keeps its last configuration until it is back: juju integrate synapse postgresql-k8s", st.Message)
		assert.Nil(t, d.Synapse, "no restart onto an empty SQLite")
	})
	t.Run("credentials gone after it was used waits", func(t *testing.T) {
		s := used(t)
		s.Database.App = map[string]string{}
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Waiting, st.Level)
		assert.Equal(t, "waiting for postgresql-k8s to provide the database credentials again", st.Message)
		assert.Nil(t, d.Synapse)
	})
}

func TestMalformedRelationsBlock(t *testing.T) {
	samlBag := map[string]string{"entity_id": "https://idp.example/", "metadata_url": "https://idp.example/metadata"}
	for _, tc := range []struct {
		name   string
		modify func(*decide.Snapshot)
		want   []string
	}{
		{"redis", func(s *decide.Snapshot) {
			s.Redis = ttRedis()
			s.Redis.Units["redis-k8s/0"]["port"] = "http"
		}, []string{`redis relation from redis-k8s is malformed: port "http" of redis-k8s/0 is not a TCP port`}},
		{"media", func(s *decide.Snapshot) {
			s.Media = &decide.RelationView{ID: "media:5", RemoteApp: "s3-integrator", Local: map[string]string{"bucket": "relation-5"},
				App: map[string]string{"access-key": "a", "secret-key": "k", "bucket": "b", "s3-uri-style": "sideways"}}
		}, []string{`media relation from s3-integrator is malformed: s3-uri-style "sideways"`}},
		{"smtp password in clear", func(s *decide.Snapshot) {
			s.SMTP = &decide.RelationView{ID: "smtp:6", RemoteApp: "smtp-integrator", Secret: map[string]string{"password": "Sm7pPassw0rdValue"},
				App: map[string]string{"host": "mail.example", "port": "25", "user": "synapse", "password_id": "secret:smtp", "auth_type": "plain", "transport_security": "none"}}
		}, []string{"smtp relation from smtp-integrator", "juju config smtp-integrator transport_security=starttls"}},
		{"smtp skip verify", func(s *decide.Snapshot) {
			s.SMTP = &decide.RelationView{ID: "smtp:6", RemoteApp: "smtp-integrator",
				App: map[string]string{"host": "mail.example", "auth_type": "none", "skip_ssl_verify": "true"}}
		}, []string{"smtp relation from smtp-integrator asks to skip TLS verification", "juju config smtp-integrator skip_ssl_verify=false"}},
		{"smtp auth type", func(s *decide.Snapshot) {
			s.SMTP = &decide.RelationView{ID: "smtp:6", RemoteApp: "smtp-integrator", App: map[string]string{"host": "mail.example", "auth_type": "cram-md5"}}
		}, []string{`smtp relation from smtp-integrator is malformed: auth_type "cram-md5" is not supported`, "juju remove-relation synapse:smtp smtp-integrator"}},
		{"saml", func(s *decide.Snapshot) {
			s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator",
				App: map[string]string{"entity_id": "https://idp.example/", "metadata_url": "ftp://idp.example/metadata"}}
		}, []string{`saml relation from saml-integrator is malformed: metadata_url "ftp://idp.example/metadata" is not an http(s) URL`, "juju remove-relation synapse:saml saml-integrator"}},
		{"logging", func(s *decide.Snapshot) {
			s.Logging = &decide.RelationView{ID: "logging:8", RemoteApp: "loki-k8s", Units: map[string]map[string]string{"loki-k8s/0": {"endpoint": "not json"}}}
		}, []string{"logging relation from loki-k8s is malformed: endpoint of loki-k8s/0 is not JSON with a url"}},
		{"ingress", func(s *decide.Snapshot) {
			s.Ingress = &decide.RelationView{ID: "ingress:9", RemoteApp: "traefik-k8s", App: map[string]string{"ingress": `{"url": "gopher://x"}`}}
		}, []string{`ingress relation from traefik-k8s is malformed: ingress url "gopher://x" is not an http(s) URL`}},
		{"S3 module missing", func(s *decide.Snapshot) {
			s.Media = &decide.RelationView{ID: "media:5", RemoteApp: "s3-integrator", Local: map[string]string{"bucket": "relation-5"},
				App: map[string]string{"access-key": "a", "secret-key": "k", "bucket": "synapse-media"}}
			s.Image.Modules = map[string]bool{decide.S3ProviderModule: false}
		}, []string{"S3 media needs the s3_storage_provider Python module (synapse-s3-storage-provider) in the synapse image", "juju remove-relation synapse:media s3-integrator"}},
		{"SAML module missing", func(s *decide.Snapshot) {
			s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator", App: samlBag}
			s.Image.Modules = map[string]bool{decide.SAMLModule: false}
		}, []string{"SAML single sign-on needs pysaml2 (the saml2 Python module) and xmlsec1 in the synapse image", "juju remove-relation synapse:saml saml-integrator"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ttReady(t)
			tc.modify(&s)
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level, st.Message)
			assert.True(t, ttHas(st.Message, tc.want...), st.Message)
			assert.NotContains(t, st.Message, "Sm7pPassw0rdValue")
			assert.Nil(t, d.Synapse, "the running Synapse keeps its configuration")
		})
	}

	t.Run("module present", func(t *testing.T) {
		s := ttReady(t)
		s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator", App: samlBag}
		s.Image.Modules = map[string]bool{decide.SAMLModule: true}
		d := decide.Decide(s)
		assert.Equal(t, decide.Active, ttStatus(d).Level)
		hs := ttFile(t, d.Synapse, workload.HomeserverPath)
		assert.Contains(t, hs, "url: https://idp.example/metadata")
		assert.Contains(t, hs, "entityid: https://test.local/_synapse/client/saml2/metadata.xml")
	})
}

func TestNotesAreAppendedInOrder(t *testing.T) {
	s := ttReady(t)
	s.Config = ttConfig(t, map[string]any{"enable_email_notifs": true})
	s.Database = &decide.RelationView{ID: ttDBID, RemoteApp: "postgresql-k8s", App: map[string]string{}, Local: relations.DatabaseRequest("synapse")}
	s.Media = &decide.RelationView{ID: "media:1", RemoteApp: "s3-integrator", App: map[string]string{}, Local: map[string]string{}}
	s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator", App: map[string]string{}}
	s.Backup = &decide.RelationView{ID: "backup:2", RemoteApp: "s3-backup", App: map[string]string{"access-key": "a", "secret-key": "k", "bucket": "b", "s3-uri-style": "x"}, Local: map[string]string{"bucket": "relation-2"}}
	d := decide.Decide(s)
	st := ttStatus(d)
	assert.Equal(t, decide.Active, st.Level)
	assert.Equal(t, "main, 1 process"+
		"; serving on SQLite until postgresql-k8s creates the database"+
		"; media stays local until s3-integrator provides a bucket"+
		"; enable_email_notifs needs an smtp integration: juju integrate synapse smtp-integrator"+
		"; single sign-on is off until saml-integrator provides the identity provider's metadata"+
		`; backups unavailable: the backup relation from s3-backup is malformed: s3-uri-style "x" is neither path nor host`, st.Message)
	assert.Equal(t, "relation-1", d.Write("media:1", true)["bucket"], "the leader asks for a bucket")
	assert.Nil(t, d.Write("backup:2", true), "asked once")

	t.Run("media removed after use", func(t *testing.T) {
		s := ttReady(t)
		s.Media = &decide.RelationView{ID: "media:1", RemoteApp: "s3-integrator", Local: map[string]string{"bucket": "relation-1"},
			App: map[string]string{"access-key": "a", "secret-key": "k", "bucket": "synapse-media", "s3-uri-style": "path", "endpoint": "http://s3.local:9000"}}
		d := decide.Decide(s)
		assert.Equal(t, "synapse-media", d.Write(ttPeerID, true)[decide.MediaBucketKey])
		assert.Contains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "media_storage_providers")
		assert.NotContains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "k\n", "the secret key lives in the credentials file")
		s = ttApply(t, s, d)
		s.Media = nil
		d = decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, decide.Active, st.Level)
		assert.Contains(t, st.Message, "media stored only in S3 bucket synapse-media is not served until S3 is integrated again")
		assert.NotContains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "media_storage_providers")
		for _, f := range d.Synapse.Want.Files {
			assert.NotEqual(t, workload.AWSCredentialsPath, f.Path, "no stale S3 credentials")
		}
	})

	t.Run("smtp relay in use", func(t *testing.T) {
		s := ttReady(t)
		s.Config = ttConfig(t, map[string]any{"enable_email_notifs": true, "notif_from": "Test Homeserver <noreply@test.local>"})
		s.SMTP = &decide.RelationView{ID: "smtp:6", RemoteApp: "smtp-integrator", Secret: map[string]string{"password": "Sm7pPassw0rdValue"},
			App: map[string]string{"host": "mail.example", "port": "587", "user": "synapse", "password_id": "secret:smtp", "auth_type": "plain", "transport_security": "starttls"}}
		d := decide.Decide(s)
		st := ttStatus(d)
		assert.Equal(t, "main, 1 process", st.Message)
		email := ttFile(t, d.Synapse, workload.EmailConfigPath)
		assert.Contains(t, email, "smtp_pass: Sm7pPassw0rdValue")
		assert.Contains(t, email, "require_transport_security: true")
		assert.NotContains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "Sm7pPassw0rdValue")
		assert.Contains(t, d.Synapse.Want.Layer.Services[workload.MainService].Command, "--config-path "+workload.EmailConfigPath)
		for _, svc := range d.Synapse.Want.Layer.Services {
			for _, v := range svc.Environment {
				assert.NotContains(t, v, "Sm7pPassw0rdValue")
			}
		}
	})
}
