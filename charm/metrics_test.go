package charm_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

// TestMetricsEndpointPublishesEveryProcess: the scrape jobs in the relation
// name every process, and the target answers with Prometheus text.
func TestMetricsEndpointPublishesEveryProcess(t *testing.T) {
	u := newUnit(t)
	id := u.mem.AddRelation("metrics-endpoint", "prometheus-k8s", "prometheus-k8s/0")
	u.run("config-changed")
	app := u.mem.RelationData(id, "synapse", true)
	jobs, err := relations.ParseScrapeJobs(app["scrape_jobs"])
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, "synapse-main", jobs[0].JobName)
	assert.Equal(t, []string{"synapse-0.synapse-endpoints.test.svc.cluster.local:9000"}, jobs[0].StaticConfigs[0].Targets)
	assert.Equal(t, "main", jobs[0].StaticConfigs[0].Labels["synapse_role"])
	assert.Contains(t, app["scrape_metadata"], `"application":"synapse"`)
	assert.Equal(t, u.addr, u.mem.RelationData(id, "synapse/0", false)["prometheus_scrape_unit_address"])

	// The target (reached at the unit's address, as the DNS name would
	// resolve in the cluster) answers with Prometheus text.
	resp, err := http.Get("http://" + u.addr + ":9000/_synapse/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, 200, resp.StatusCode)
	assert.True(t, strings.Contains(string(body), "# TYPE synapse_"), "Prometheus text from Synapse")

	calls := u.mem.TotalCalls()
	u.run("update-status")
	setCalls := 0
	for _, argv := range u.mem.Argv()[calls:] {
		if len(argv) > 0 && argv[0] == "relation-set" {
			setCalls++
		}
	}
	assert.Zero(t, setCalls, "nothing rewritten when nothing changed")
}

// TestIngressSetsPublicBaseURL: the charm publishes nginx's port to the
// ingress, and public_baseurl follows the URL it gets back unless the
// operator set one.
func TestIngressSetsPublicBaseURL(t *testing.T) {
	u := newUnit(t)
	u.mem.SetConfig(map[string]any{"server_name": "test.local"})
	id := u.mem.AddRelation("ingress", "traefik-k8s", "traefik-k8s/0")
	u.run("ingress-relation-joined")
	assert.Equal(t, "8080", u.mem.RelationData(id, "synapse", true)["port"])
	assert.Equal(t, `"synapse"`, u.mem.RelationData(id, "synapse", true)["name"])
	assert.Equal(t, `"`+u.addr+`"`, u.mem.RelationData(id, "synapse/0", false)["ip"])
	assert.Contains(t, u.file("/data/homeserver.yaml"), "public_baseurl: https://test.local/")

	u.mem.SetRelationData(id, "traefik-k8s", true, map[string]string{"ingress": `{"url": "https://matrix.example.com/"}`})
	u.run("ingress-relation-changed")
	assert.Contains(t, u.file("/data/homeserver.yaml"), "public_baseurl: https://matrix.example.com/")
	assert.Equal(t, "active", string(u.mem.UnitStatus().Status))
}

// TestGrafanaDashboardPublishedOnce: the leader publishes the dashboard,
// and does not rewrite it (with a new uuid) when nothing changed.
func TestGrafanaDashboardPublishedOnce(t *testing.T) {
	u := newUnit(t)
	id := u.mem.AddRelation("grafana-dashboard", "grafana-k8s", "grafana-k8s/0")
	u.run("config-changed")
	first := u.mem.RelationData(id, "synapse", true)["dashboards"]
	require.Contains(t, first, `"file:synapse"`)
	u.run("update-status")
	assert.Equal(t, first, u.mem.RelationData(id, "synapse", true)["dashboards"])
}
