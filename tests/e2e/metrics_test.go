package e2e

import (
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// scrapeJobsCoverEveryProcess: with prometheus-k8s integrated on a
// scaled cluster, the leader's scrape jobs name every Synapse process of
// the plan and every unit's nginx exporter, each labelled with its unit,
// process and role, and every target answers with Prometheus text. After
// a scale-down by one unit the jobs follow the plan.
func scrapeJobsCoverEveryProcess(t *testing.T, d *deployment) {
	d.integrateWith("prometheus", &sim.StaticApp{
		AppName: "prometheus-k8s", EndpointName: "metrics-endpoint", InterfaceName: "prometheus_scrape",
	}, "metrics-endpoint")

	check := func(units []string) {
		t.Helper()
		rel, ok := d.m.RelationOn("metrics-endpoint")
		require.True(t, ok)
		jobs, err := relations.ParseScrapeJobs(rel.AppData["scrape_jobs"])
		require.NoError(t, err)

		var want, got []string
		for _, p := range d.plan().Processes {
			want = append(want, p.Unit+" "+p.Name+" "+string(p.Role))
		}
		for _, u := range units {
			want = append(want, u+" nginx router")
		}
		client := &http.Client{Timeout: 10 * time.Second}
		for _, j := range jobs {
			require.Len(t, j.StaticConfigs, 1, j.JobName)
			sc := j.StaticConfigs[0]
			l := sc.Labels
			got = append(got, l["juju_unit"]+" "+l["synapse_process"]+" "+l["synapse_role"])
			require.Len(t, sc.Targets, 1)
			host, port, err := net.SplitHostPort(sc.Targets[0])
			require.NoError(t, err)
			// In Kubernetes the target is the unit's stable DNS name; on the
			// bed it resolves to the unit's address.
			assert.True(t, strings.HasPrefix(host, strings.ReplaceAll(l["juju_unit"], "/", "-")+"."), host)
			url := "http://" + net.JoinHostPort(d.unit(l["juju_unit"]).Address, port) + j.MetricsPath
			resp, err := client.Get(url)
			require.NoError(t, err, j.JobName)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "%s %s", j.JobName, url)
			assert.Contains(t, string(body), "# TYPE ", "%s answers Prometheus text", j.JobName)
			if l["synapse_process"] == "nginx" {
				assert.Contains(t, string(body), "nginx_up 1\n", j.JobName)
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		assert.Equal(t, want, got)
	}
	units := func() []string {
		var out []string
		for _, u := range d.m.Units() {
			out = append(out, u.Name)
		}
		return out
	}
	before := units()
	require.GreaterOrEqual(t, len(before), 3, "a cluster of 3 units or more")
	check(before)

	require.NoError(t, d.m.Scale(d.ctx, len(before)-1))
	d.waitIdle()
	d.requireActive()
	require.Equal(t, before[:len(before)-1], units(), "the highest unit left")
	check(units())
}
