package charm_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

var (
	charmBinaryOnce sync.Once
	charmBinaryPath string
	charmBinaryErr  error
)

// charmBinary builds cmd/charm as the charm is shipped (static, no cgo),
// once per test run.
func charmBinary(t testing.TB) string {
	t.Helper()
	charmBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "charm-bin")
		if err != nil {
			charmBinaryErr = err
			return
		}
		charmBinaryPath = filepath.Join(dir, "dispatch")
		cmd := exec.Command("go", "build", "-trimpath", "-o", charmBinaryPath, "../cmd/charm")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			charmBinaryErr = err
			t.Logf("go build: %s", out)
		}
	})
	require.NoError(t, charmBinaryErr)
	return charmBinaryPath
}

// TestNginxExporterServesNginxCounters: the charm copies its own binary
// into the nginx container and runs it as the nginx exporter; the scrape
// jobs name it next to the Synapse processes, and it answers Prometheus
// text whose request counter follows the traffic through nginx. A hook
// that changes nothing copies nothing.
func TestNginxExporterServesNginxCounters(t *testing.T) {
	u := newUnit(t)
	u.exporter = charmBinary(t)
	id := u.mem.AddRelation("metrics-endpoint", "prometheus-k8s", "prometheus-k8s/0")
	u.run("config-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)

	jobs, err := relations.ParseScrapeJobs(u.mem.RelationData(id, "synapse", true)["scrape_jobs"])
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	assert.Equal(t, "synapse-main", jobs[0].JobName)
	assert.Equal(t, "nginx-synapse-0", jobs[1].JobName)
	assert.Equal(t, "/metrics", jobs[1].MetricsPath)
	assert.Equal(t, []string{"synapse-0.synapse-endpoints.test.svc.cluster.local:9113"}, jobs[1].StaticConfigs[0].Targets)
	assert.Equal(t, map[string]string{"juju_unit": "synapse/0", "synapse_process": "nginx", "synapse_role": "router"}, jobs[1].StaticConfigs[0].Labels)

	requests := func() int {
		t.Helper()
		resp, err := http.Get("http://" + u.addr + ":9113/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, string(body), "nginx_up 1\n")
		m := regexp.MustCompile(`(?m)^nginx_http_requests_total (\d+)$`).FindStringSubmatch(string(body))
		require.NotNil(t, m, string(body))
		n, _ := strconv.Atoi(m[1])
		return n
	}
	before := requests()
	for range 5 {
		resp, err := http.Get("http://" + u.addr + ":8080/_matrix/client/versions")
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.GreaterOrEqual(t, requests()-before, 5, "the counter follows the requests through nginx")

	// The status page is not served to others (the ingress reaches 8080 only).
	resp, err := http.Get("http://" + u.addr + ":8080/stub_status")
	require.NoError(t, err)
	resp.Body.Close()
	assert.NotEqual(t, http.StatusOK, resp.StatusCode)

	// Nothing to copy on a settled unit: the versioned binary is there,
	// untouched, and the exporter keeps running.
	pc, err := client.New(&client.Config{Socket: filepath.Join(u.dir, "containers", workload.NginxContainer, "pebble.socket")})
	require.NoError(t, err)
	binaries := func() []*client.FileInfo {
		t.Helper()
		infos, err := pc.ListFiles(&client.ListFilesOptions{Path: workload.NginxExporterDir})
		require.NoError(t, err)
		return infos
	}
	first := binaries()
	require.Len(t, first, 1)
	assert.Equal(t, "-rwxr-xr-x", first[0].Mode().String())
	svc, err := pc.Services(&client.ServicesOptions{Names: []string{workload.NginxExporterService}})
	require.NoError(t, err)
	require.Len(t, svc, 1)
	u.run("update-status")
	again := binaries()
	require.Len(t, again, 1)
	assert.Equal(t, first[0].ModTime(), again[0].ModTime(), "copied again")
	svc2, err := pc.Services(&client.ServicesOptions{Names: []string{workload.NginxExporterService}})
	require.NoError(t, err)
	assert.Equal(t, client.StatusActive, svc2[0].Current)
	assert.Equal(t, svc[0].CurrentSince, svc2[0].CurrentSince, "exporter restarted")
}
