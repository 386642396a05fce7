package integration

// Tests of the suite's own pure parts; they run everywhere, with or
// without a controller.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpectedMessage(t *testing.T) {
	p := plan{Main: "synapse/0", Processes: []process{
		{Name: "main", Role: "main", Unit: "synapse/0"},
		{Name: "background-1", Role: "background", Unit: "synapse/0", Index: 1},
		{Name: "generic-1", Role: "generic", Unit: "synapse/1", Index: 1},
		{Name: "generic-2", Role: "generic", Unit: "synapse/2", Index: 1},
		{Name: "media-1", Role: "media", Unit: "synapse/2", Index: 2},
	}}
	assert.Equal(t, "main, 2 processes", expectedMessage(p, "synapse/0"))
	assert.Equal(t, "workers: generic-1", expectedMessage(p, "synapse/1"))
	assert.Equal(t, "workers: generic-2, media-1", expectedMessage(p, "synapse/2"))
	assert.Equal(t, "main, 1 process", expectedMessage(plan{Main: "synapse/0", Processes: p.Processes[:1]}, "synapse/0"))

	us := []unit{{Name: "synapse/0"}, {Name: "synapse/1"}, {Name: "synapse/2"}}
	require.NoError(t, planMatchesUnits(p, us))
	assert.ErrorContains(t, planMatchesUnits(p, us[:2]), "synapse/2, which is not a unit")
	assert.Equal(t, []string{"synapse/1", "synapse/2"}, []string{workers(p, us)[0].Name, workers(p, us)[1].Name})
}

func TestLoadSettings(t *testing.T) {
	charm := filepath.Join(t.TempDir(), "synapse_amd64.charm")
	require.NoError(t, os.WriteFile(charm, []byte("zip"), 0o600))
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}

	assert.Contains(t, skipReason(env(nil)), "JUJU_CONTROLLER is not set")
	assert.Empty(t, skipReason(env(map[string]string{"JUJU_CONTROLLER": "mk8s"})))

	s, err := loadSettings(env(map[string]string{"JUJU_CONTROLLER": "mk8s", "JUJU_MODEL": "mk8s:it", "SYNAPSE_CHARM": charm}))
	require.NoError(t, err)
	assert.Equal(t, "it", s.Model)
	assert.Equal(t, charm, s.Charm)
	assert.Equal(t, defaultSynapseImage, s.SynapseImage)
	assert.Equal(t, []string{"kubectl"}, s.Kubectl)
	assert.Nil(t, s.S3, "no S3 scenario without a bucket")

	s, err = loadSettings(env(map[string]string{"JUJU_CONTROLLER": "mk8s", "SYNAPSE_CHARM": charm,
		"SYNAPSE_IT_KUBECTL": "microk8s kubectl", "SYNAPSE_S3_ENDPOINT": "http://10.0.0.5:9000", "SYNAPSE_S3_BUCKET": "media",
		"SYNAPSE_S3_ACCESS_KEY": "AK", "SYNAPSE_S3_SECRET_KEY": "SK", "SYNAPSE_S3_PATH": "/synapse/"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"microk8s", "kubectl"}, s.Kubectl)
	require.NotNil(t, s.S3)
	assert.Equal(t, "synapse", s.S3.Path)
	assert.Equal(t, "path", s.S3.URIStyle)

	for name, kv := range map[string]map[string]string{
		"another controller": {"JUJU_MODEL": "other:it"},
		"part of S3":         {"SYNAPSE_S3_BUCKET": "media"},
		"no scheme":          {"SYNAPSE_S3_ENDPOINT": "s3.example.com", "SYNAPSE_S3_BUCKET": "b", "SYNAPSE_S3_ACCESS_KEY": "a", "SYNAPSE_S3_SECRET_KEY": "s"},
		"address only":       {"JUJU_CONTROLLER_ADDRESSES": "10.0.0.1:17070"},
		"missing charm":      {"SYNAPSE_CHARM": charm + ".missing"},
	} {
		kv["JUJU_CONTROLLER"] = "mk8s"
		if kv["SYNAPSE_CHARM"] == "" {
			kv["SYNAPSE_CHARM"] = charm
		}
		_, err := loadSettings(env(kv))
		assert.Error(t, err, name)
	}
}
