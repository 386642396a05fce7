package charm_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// TestLogsForwardedToLoki: with a logging relation, Pebble itself pushes
// every service's logs, with the Juju topology labels, to the Loki push
// URL the Loki unit published (a stand-in HTTP endpoint here).
func TestLogsForwardedToLoki(t *testing.T) {
	var mu sync.Mutex
	var pushed []string
	loki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err == nil {
				body = gz
			}
		}
		data, _ := io.ReadAll(body)
		mu.Lock()
		pushed = append(pushed, r.URL.Path+" "+string(data))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer loki.Close()

	u := newUnit(t)
	id := u.mem.AddRelation("logging", "loki-k8s", "loki-k8s/0")
	u.mem.SetRelationData(id, "loki-k8s/0", false, map[string]string{"endpoint": `{"url": "` + loki.URL + `/loki/api/v1/push"}`})
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		all := strings.Join(pushed, "\n")
		mu.Unlock()
		if strings.Contains(all, `"juju_unit":"synapse/0"`) && strings.Contains(all, "synapse") && strings.Contains(all, `"pebble_service":"synapse"`) {
			assert.Contains(t, all, "/loki/api/v1/push")
			break
		}
		require.True(t, time.Now().Before(deadline), "no Synapse log line reached Loki; got %d pushes: %.500s", len(pushed), all)
		time.Sleep(200 * time.Millisecond)
	}

	// The Loki unit leaves: Pebble stops forwarding to it, nothing restarts.
	since := u.service().CurrentSince
	u.mem.RemoveRelation(id)
	u.run("logging-relation-broken")
	assert.Equal(t, since, u.service().CurrentSince)
	plan, err := u.container.Client().PlanBytes(nil)
	require.NoError(t, err)
	assert.Contains(t, string(plan), "- -all", "the departed Loki unit's target forwards nothing")
}
