package charm_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// withoutSynapseUser removes uid 991 from this container's /etc/passwd.
func (u *unit) withoutSynapseUser() {
	u.t.Helper()
	passwd := u.file("/etc/passwd")
	var kept []string
	for _, line := range strings.Split(passwd, "\n") {
		if !strings.HasPrefix(line, "synapse:") {
			kept = append(kept, line)
		}
	}
	require.NoError(u.t, u.container.Client().Push(&client.PushOptions{Path: "/etc/passwd", Source: strings.NewReader(strings.Join(kept, "\n"))}))
}

// TestImageContractNamesWhatTheImageLacks: the image is checked once per
// image (pebble-ready) and the report kept in the peer bag; an image
// without the S3 provider, pysaml2 or the Synapse user gets a status
// naming it, and Synapse stays as it runs.
func TestImageContractNamesWhatTheImageLacks(t *testing.T) {
	u := newUnit(t)
	u.run("pebble-ready")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	peer := u.mem.RelationIDs("synapse-peers")[0]
	report, ok := workload.ParseImageReport(u.mem.RelationData(peer, "synapse/0", false)[relations.PeerKeyImage])
	require.True(t, ok, "the report is cached in the peer bag")
	assert.Empty(t, report.Missing)
	hs := u.file(workload.HomeserverPath)
	since := u.service().CurrentSince

	// Take away, in this container's overlay, what other images lack.
	u.withoutSynapseUser()
	sites, err := filepath.Glob(filepath.Join(bed.ImagePath(), "usr/local/lib/python3.*/dist-packages"))
	require.NoError(t, err)
	require.Len(t, sites, 1)
	site := strings.TrimPrefix(sites[0], bed.ImagePath())
	for _, p := range []string{"/usr/lib/python3/dist-packages/saml2", site + "/s3_storage_provider.py"} {
		require.NoError(t, u.container.Client().RemovePath(&client.RemovePathOptions{Path: p, Recursive: true}), p)
	}
	u.run("update-status")
	assert.NotContains(t, u.mem.UnitStatus().Message, "991", "a settled unit does not ask its image again")

	// A new image fires pebble-ready: the user is missing, which Pebble
	// does without (it runs uid 991 by number): a note only.
	u.run("pebble-ready")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Active, st.Status)
	assert.Contains(t, st.Message, "Synapse runs as uid 991, which the synapse image's /etc/passwd does not list")
	report, _ = workload.ParseImageReport(u.mem.RelationData(peer, "synapse/0", false)[relations.PeerKeyImage])
	assert.Equal(t, []string{workload.SynapseUserNeed, "s3_storage_provider", "saml2"}, report.Missing)

	for _, tc := range []struct {
		endpoint, remote string
		bag              map[string]string
		want             string
	}{
		{"media", "s3-integrator", map[string]string{"access-key": "a", "secret-key": "k", "bucket": "synapse-media", "endpoint": "http://127.0.0.1:1"},
			"the synapse image lacks the Python module s3_storage_provider needed by the media integration: deploy an image that has it (image/build.sh builds one), or juju remove-relation synapse:media s3-integrator"},
		{"saml", "saml-integrator", map[string]string{"entity_id": "https://idp.example/", "metadata_url": "https://idp.example/metadata"},
			"the synapse image lacks the Python module saml2 needed by the saml integration: deploy an image that has it (image/build.sh builds one), or juju remove-relation synapse:saml saml-integrator"},
	} {
		id := u.mem.AddRelation(tc.endpoint, tc.remote, tc.remote+"/0")
		u.mem.SetRelationData(id, tc.remote, true, tc.bag)
		u.run(tc.endpoint + "-relation-changed")
		st := u.mem.UnitStatus()
		assert.Equal(t, juju.Blocked, st.Status, tc.endpoint)
		assert.Contains(t, st.Message, tc.want)
		assert.Equal(t, hs, u.file(workload.HomeserverPath), "Synapse's configuration stays as it was")
		assert.Equal(t, since, u.service().CurrentSince, "Synapse not restarted")

		u.mem.RemoveRelation(id)
		u.runEvent(juju.Event{Name: tc.endpoint + "-relation-broken", Unit: "synapse/0", App: "synapse", Model: "test", RelationID: id})
		assert.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	}
	assert.Equal(t, since, u.service().CurrentSince, "Synapse never restarted")
}
