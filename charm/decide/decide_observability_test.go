package decide_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

func TestMetricsEndpoint(t *testing.T) {
	s := ttReady(t)
	s.Metrics = []*decide.RelationView{{ID: "metrics-endpoint:10", Local: map[string]string{}, Own: map[string]string{}}}
	d := decide.Decide(s)
	app := d.Write("metrics-endpoint:10", true)
	jobs, err := relations.ParseScrapeJobs(app["scrape_jobs"])
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, "synapse-main", jobs[0].JobName)
	assert.Equal(t, []string{"synapse-0.synapse-endpoints.test.svc.cluster.local:9000"}, jobs[0].StaticConfigs[0].Targets)
	assert.Equal(t, "main", jobs[0].StaticConfigs[0].Labels["synapse_role"])
	assert.Contains(t, app["scrape_metadata"], `"application":"synapse"`)
	assert.Equal(t, ttAddr0, d.Write("metrics-endpoint:10", false)["prometheus_scrape_unit_address"])

	next := ttApply(t, s, d)
	assert.Empty(t, decide.Decide(next).Writes, "nothing rewritten when nothing changed")

	t.Run("a new leader keeps the jobs as written", func(t *testing.T) {
		leader, _ := ttTwoUnits(t, nil)
		leader.Metrics = []*decide.RelationView{{ID: "metrics-endpoint:10", Local: map[string]string{}, Own: map[string]string{}}}
		leader = ttSettle(t, leader)
		jobs, err := relations.ParseScrapeJobs(leader.Metrics[0].Local["scrape_jobs"])
		require.NoError(t, err)
		assert.Len(t, jobs, len(ttPlan(t, leader.Peer.App).Processes), "one job per process")
		other := ttPeerOf(t, leader, "synapse/1", ttAddr1)
		other.Leader = true
		other.Metrics[0].Local = ttBag(leader.Metrics[0].Local)
		assert.Nil(t, decide.Decide(other).Write("metrics-endpoint:10", true), "a leader change alone rewrites no job")
	})
}

func TestGrafanaDashboardPublishedOnce(t *testing.T) {
	s := ttReady(t)
	s.Dashboards = []*decide.RelationView{{ID: "grafana-dashboard:11", Local: map[string]string{}}}
	d := decide.Decide(s)
	first := d.Write("grafana-dashboard:11", true)["dashboards"]
	require.Contains(t, first, `"file:synapse"`)
	next := ttApply(t, s, d)
	assert.Empty(t, decide.Decide(next).Writes, "not rewritten with a new uuid")
	next.Leader = false
	assert.Empty(t, decide.Decide(next).Writes)
}

func TestNginxRouteRequestsAnIngress(t *testing.T) {
	s := ttReady(t)
	s.NginxRoute = &decide.RelationView{ID: "nginx-route:12", RemoteApp: "nginx-ingress-integrator", App: map[string]string{}, Local: map[string]string{}}
	d := decide.Decide(s)
	assert.Equal(t, decide.Active, ttStatus(d).Level)
	assert.Equal(t, map[string]string{
		"service-hostname":   "test.local",
		"service-name":       "synapse",
		"service-namespace":  "test",
		"service-port":       "8080",
		"max-body-size":      "50",
		"proxy-read-timeout": "300",
	}, d.Write("nginx-route:12", true))
	s = ttApply(t, s, d)

	s.Config = ttConfig(t, map[string]any{"public_baseurl": "https://matrix.test.local/", "max_upload_size": "1048577K"})
	d = decide.Decide(s)
	assert.Equal(t, map[string]string{"service-hostname": "matrix.test.local", "max-body-size": "1025"}, d.Write("nginx-route:12", true),
		"only what changed; rounded up to whole megabytes")
	s = ttApply(t, s, d)
	assert.Empty(t, decide.Decide(s).Writes, "nothing changed, nothing written")

	s.Leader = false
	s.Config = ttConfig(t, map[string]any{"public_baseurl": "https://chat.test.local/"})
	assert.Nil(t, decide.Decide(s).Write("nginx-route:12", true), "only the leader writes the application bag")
}

func TestIngressSetsPublicBaseURL(t *testing.T) {
	s := ttReady(t)
	s.Ingress = &decide.RelationView{ID: "ingress:9", RemoteApp: "traefik-k8s", App: map[string]string{}, Local: map[string]string{}, Own: map[string]string{}}
	d := decide.Decide(s)
	assert.Equal(t, "8080", d.Write("ingress:9", true)["port"])
	assert.Equal(t, `"synapse"`, d.Write("ingress:9", true)["name"])
	assert.Equal(t, `"`+ttAddr0+`"`, d.Write("ingress:9", false)["ip"])
	assert.Contains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "public_baseurl: https://test.local/")
	s = ttApply(t, s, d)
	assert.Empty(t, decide.Decide(s).Writes, "written once")

	s.Ingress.App = map[string]string{"ingress": `{"url": "https://matrix.example.com/"}`}
	d = decide.Decide(s)
	assert.Contains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "public_baseurl: https://matrix.example.com/")
	assert.Equal(t, decide.Active, ttStatus(d).Level)
	assert.Empty(t, d.Writes)

	s.Config = ttConfig(t, map[string]any{"public_baseurl": "https://chat.example.com/"})
	assert.Contains(t, ttFile(t, decide.Decide(s).Synapse, workload.HomeserverPath), "public_baseurl: https://chat.example.com/", "the operator's value wins")
}

// Found while writing these tests, and fixed.

func TestStatusTruncationKeepsUTF8(t *testing.T) {
	msg := strings.Repeat("é", decide.MaxMessage)
	st := decide.Decision{Items: []decide.Item{{Level: decide.Blocked, Message: msg}}}.Status()
	assert.True(t, utf8.ValidString(st.Message))
	assert.LessOrEqual(t, len(st.Message), decide.MaxMessage)
}

// A new pod's config-changed often runs before Pebble answers: the port is
// declared then anyway, and again on the pebble-ready that starts nginx.
func TestPortIsDeclaredOnceTheWorkloadIsUp(t *testing.T) {
	s := ttFresh(t)
	s.Synapse, s.Nginx = decide.ContainerFacts{}, decide.ContainerFacts{}
	d := decide.Decide(s)
	require.True(t, d.OpenPort, "config-changed declares the port even while Pebble does not answer")
	s = ttApply(t, s, d)
	s.Event.Kind = "pebble-ready"
	s.Synapse = decide.ContainerFacts{Reachable: true, State: workload.PebbleState{CanStopChecks: true}}
	s.Nginx = decide.ContainerFacts{Reachable: true, State: workload.PebbleState{CanStopChecks: true}}
	s.Image.VersionAsked = true
	d = decide.Decide(s)
	require.NotNil(t, d.Synapse)
	assert.True(t, d.OpenPort, "nginx's port is opened on the hook that first starts it")
}
