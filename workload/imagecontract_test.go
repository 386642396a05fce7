package workload_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// The document operators read names every need the probe checks, with
// the feature that needs it, in the synapse container's table.
func TestImageContractDocumentNamesEveryNeed(t *testing.T) {
	doc, err := os.ReadFile("../docs/image-contract.md")
	require.NoError(t, err)
	start := strings.Index(string(doc), "## `synapse` container")
	end := strings.Index(string(doc), "## `synapse-nginx` container")
	require.True(t, start >= 0 && end > start, "the synapse container's section")
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc[start:end]), "\n") {
		if strings.HasPrefix(line, "|") {
			rows[line] = line
		}
	}
	for _, n := range workload.SynapseImageContract {
		found := false
		for line := range rows {
			if strings.Contains(line, "`"+n.Name+"`") && strings.Contains(line, "probe") && strings.Contains(line, string(n.Feature)) {
				found = true
			}
		}
		assert.True(t, found, "docs/image-contract.md has no row naming `%s` for %s and the probe", n.Name, n.Feature)
	}
}

// Every need has a unique name (its ID in reports), a known kind and
// feature; the features are the ones the charm decides on.
func TestImageContractIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range workload.SynapseImageContract {
		assert.False(t, seen[n.Name], "need %s twice", n.Name)
		seen[n.Name] = true
		assert.NotContains(t, n.Name, ",", "names are joined with commas in the peer bag")
		assert.NotContains(t, n.Name, ":")
		assert.NotEmpty(t, n.Package, n.Name)
		switch n.Kind {
		case workload.NeedPython, workload.NeedModule, workload.NeedProgram, workload.NeedUser, workload.NeedPath:
		default:
			t.Errorf("need %s: unknown kind %q", n.Name, n.Kind)
		}
	}
	assert.Equal(t, strconv.Itoa(workload.SynapseUserID), workload.SynapseUserNeed)
	for _, f := range []workload.Feature{workload.FeatureAlways, workload.FeatureDatabase, workload.FeatureRedis, workload.FeatureMedia, workload.FeatureSAML} {
		assert.NotEmpty(t, workload.ImageNeeds(f), f)
	}
	var redis []string
	for _, n := range workload.ImageNeeds(workload.FeatureRedis) {
		redis = append(redis, n.Name)
	}
	assert.Equal(t, []string{"txredisapi", "hiredis"}, redis)
}

// The cached form reads back; anything else is asked again.
func TestImageReportRoundTrip(t *testing.T) {
	for _, r := range []workload.ImageReport{
		{Fingerprint: "0123456789abcdef"},
		{Fingerprint: "0123456789abcdef", Missing: []string{"s3_storage_provider", "saml2", "991"}, SynapseVersion: "1.160.0"},
		{Fingerprint: "0123456789abcdef", SynapseVersion: "1.160.0 (b=main:abc,dirty)"},
	} {
		got, ok := workload.ParseImageReport(r.Encode())
		assert.True(t, ok, r.Encode())
		assert.Equal(t, r, got)
	}
	for _, bad := range []string{"", "no-colon", "abc:saml2", ":saml2:1.160.0", "abc:not_a_need:", "abc:saml2,:"} {
		_, ok := workload.ParseImageReport(bad)
		assert.False(t, ok, bad)
	}
	r := workload.ImageReport{Fingerprint: "x", Missing: []string{"saml2"}}
	assert.True(t, r.Lacks("saml2"))
	assert.False(t, r.Lacks("saml"))
}

// The probe takes the contract's needs as its argument and its output is
// checked before it is believed.
func TestImageProbeCommand(t *testing.T) {
	cmd := workload.ImageProbe()
	require.Len(t, cmd, 4)
	assert.Equal(t, []string{"python3", "-c"}, cmd[:2])
	assert.Contains(t, cmd[2], "importlib.util.find_spec", "looked up, not imported")
	var needs [][2]string
	require.NoError(t, json.Unmarshal([]byte(cmd[3]), &needs))
	assert.Len(t, needs, len(workload.SynapseImageContract))
	assert.Contains(t, needs, [2]string{"module", "s3_storage_provider"})

	res, err := workload.ParseImageProbe([]byte(`{"missing": ["saml2"], "fingerprint": "ab12", "synapse_version": "1.160.0", "synapse_error": ""}`))
	require.NoError(t, err)
	assert.Equal(t, workload.ImageProbeResult{Report: workload.ImageReport{Fingerprint: "ab12", Missing: []string{"saml2"}, SynapseVersion: "1.160.0"}}, res)
	for _, bad := range []string{`not json`, `{"missing": [], "fingerprint": ""}`, `{"missing": ["rm -rf"], "fingerprint": "ab"}`, `{"fingerprint": "a:b"}`} {
		_, err := workload.ParseImageProbe([]byte(bad))
		assert.Error(t, err, bad)
	}
}
