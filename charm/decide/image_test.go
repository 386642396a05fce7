package decide_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// ttProbed is a settled unit's pebble-ready on an image that lacks missing.
func ttProbed(t *testing.T, missing ...string) decide.Snapshot {
	s := ttReady(t)
	s.Event.Kind = "pebble-ready"
	s.Image.VersionAsked = true
	s.Image.Probed = true
	s.Image.Report = workload.ImageReport{Fingerprint: "0123456789abcdef", Missing: missing}
	return s
}

// An image without what every process needs blocks everything: nothing
// is pushed, nothing restarts, and the status names the need and the fix.
func TestImageLackingAnAlwaysNeedBlocksEverything(t *testing.T) {
	for name, tc := range map[string]struct {
		missing []string
		want    []string
	}{
		"synapse": {[]string{"synapse"}, []string{"the synapse image lacks the Python module synapse, which this charm always needs", "deploy an image that has it (image/build.sh builds one)"}},
		"python3": {[]string{"python3"}, []string{"the synapse image cannot run python3", "image/build.sh"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := ttProbed(t, tc.missing...)
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level, st.Message)
			assert.True(t, ttHas(st.Message, tc.want...), st.Message)
			assert.Nil(t, d.Synapse, "Synapse is left as it runs")
			assert.Nil(t, d.Nginx)
			assert.Equal(t, s.Image.Report.Encode(), d.Write(ttPeerID, false)[relations.PeerKeyImage], "the report is cached even while blocked")
		})
	}
}

// A feature's needs block only while that feature is integrated, naming
// what is missing and both fixes; Synapse keeps running as it was.
func TestImageLackingAFeatureNeedBlocksThatFeature(t *testing.T) {
	samlBag := map[string]string{"entity_id": "https://idp.example/", "metadata_url": "https://idp.example/metadata"}
	for name, tc := range map[string]struct {
		missing   []string
		integrate func(*decide.Snapshot)
		want      []string
	}{
		"s3": {[]string{"s3_storage_provider"}, func(s *decide.Snapshot) {
			s.Media = &decide.RelationView{ID: "media:5", RemoteApp: "s3-integrator", Local: map[string]string{"bucket": "relation-5"},
				App: map[string]string{"access-key": "a", "secret-key": "k", "bucket": "synapse-media"}}
		}, []string{"the synapse image lacks the Python module s3_storage_provider needed by the media integration: deploy an image that has it (image/build.sh builds one), or juju remove-relation synapse:media s3-integrator"}},
		"saml": {[]string{"saml2", "xmlsec1"}, func(s *decide.Snapshot) {
			s.SAML = &decide.RelationView{ID: "saml:7", RemoteApp: "saml-integrator", App: samlBag}
		}, []string{"the synapse image lacks the Python module saml2 and the program xmlsec1 needed by the saml integration", "deploy an image that has them", "juju remove-relation synapse:saml saml-integrator"}},
		"database": {[]string{"psycopg2"}, func(s *decide.Snapshot) {
			s.Database = ttDatabase()
			s.DatabaseLocale, s.SQLite = ttCLocale(), ttEmptySQLite()
		}, []string{"the synapse image lacks the Python module psycopg2 needed by the database integration", "juju remove-relation synapse:database postgresql-k8s"}},
		"redis": {[]string{"txredisapi"}, func(s *decide.Snapshot) {
			s.Redis = ttRedis()
		}, []string{"the synapse image lacks the Python module txredisapi needed by the redis integration", "juju remove-relation synapse:redis redis-k8s"}},
	} {
		t.Run(name, func(t *testing.T) {
			// Not integrated: the missing needs cost nothing.
			s := ttProbed(t, tc.missing...)
			d := decide.Decide(s)
			assert.Equal(t, decide.Active, ttStatus(d).Level, ttStatus(d).Message)
			assert.False(t, ttTouches(d.Synapse), "nothing to change")

			// Integrated: blocked, Synapse as it was.
			s = ttApply(t, s, d)
			s.Event.Kind = "relation-changed"
			tc.integrate(&s)
			d = decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level, st.Message)
			assert.True(t, ttHas(st.Message, tc.want...), st.Message)
			assert.LessOrEqual(t, len(st.Message), 300)
			assert.Nil(t, d.Synapse, "the running Synapse keeps its configuration")
			assert.Nil(t, d.Write(ttPeerID, false), "the cached report is not written again")
		})
	}
}

// Needs the charm can do without only inform: the user (Pebble runs
// Synapse as 991 by number) and the CA certificates.
func TestImageLackingAnInformingNeedStaysActive(t *testing.T) {
	s := ttProbed(t, "/etc/ssl/certs")
	s.Image.NoSynapseUser = true
	s.Image.Report.Missing = append(s.Image.Report.Missing, workload.SynapseUserNeed)
	d := decide.Decide(s)
	st := ttStatus(d)
	assert.Equal(t, decide.Active, st.Level)
	assert.Contains(t, st.Message, "the synapse image lacks /etc/ssl/certs")
	assert.Contains(t, st.Message, "Synapse runs as uid 991, which the synapse image's /etc/passwd does not list")
	assert.NotContains(t, st.Message, "user 991 in /etc/passwd", "said once")
}

// A settled unit with a cached report decides from it and writes nothing.
func TestImageReportFromTheCacheWritesNothing(t *testing.T) {
	s := ttProbed(t)
	s = ttApply(t, s, decide.Decide(s))
	assert.Equal(t, "0123456789abcdef::", s.Peer.Own[relations.PeerKeyImage])
	s.Image.Probed = false
	d := decide.Decide(s)
	assert.Equal(t, decide.Active, ttStatus(d).Level)
	assert.False(t, ttWrites(d), "%+v", d.Writes)
}

// TestCachedImage: the cached report is trusted except where the synapse
// container may run another image, and only when it is whole.
func TestCachedImage(t *testing.T) {
	good := workload.ImageReport{Fingerprint: "0123456789abcdef", Missing: []string{"txredisapi"}, SynapseVersion: "1.160.0"}
	noSynapse := workload.ImageReport{Fingerprint: "0123456789abcdef", Missing: []string{"synapse"}}
	for _, tc := range []struct {
		bag             string
		kind, container string
		trusted         bool
	}{
		{good.Encode(), "update-status", "", true},
		{good.Encode(), "pebble-ready", workload.NginxContainer, true},
		{good.Encode(), "pebble-ready", workload.SynapseContainer, false},
		{good.Encode(), "upgrade-charm", "", false},
		{good.Encode(), "install", "", false},
		{good.Encode(), "start", "", false},
		{noSynapse.Encode(), "update-status", "", true},
		{workload.ImageReport{Fingerprint: "0123456789abcdef"}.Encode(), "update-status", "", false}, // no version, nothing missing
		{"garbage", "update-status", "", false},
		{"", "update-status", "", false},
	} {
		got, ok := decide.CachedImage(map[string]string{relations.PeerKeyImage: tc.bag}, tc.kind, tc.container)
		assert.Equal(t, tc.trusted, ok, "%q in %s %s", tc.bag, tc.kind, tc.container)
		if ok {
			assert.Equal(t, tc.bag, got.Encode())
		}
	}
}
