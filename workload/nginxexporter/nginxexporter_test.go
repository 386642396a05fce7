package nginxexporter_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload/nginxexporter"
)

// What nginx 1.30's stub_status answers.
const stub = "Active connections: 3 \nserver accepts handled requests\n 17 16 42 \nReading: 0 Writing: 1 Waiting: 2 \n"

func TestParse(t *testing.T) {
	s, err := nginxexporter.Parse([]byte(stub))
	require.NoError(t, err)
	assert.Equal(t, nginxexporter.Status{Active: 3, Accepted: 17, Handled: 16, Requests: 42, Reading: 0, Writing: 1, Waiting: 2}, s)

	for _, bad := range []string{"", "Active connections: x\na\n1 2 3\nReading: 0 Writing: 0 Waiting: 0", "<html>502 Bad Gateway</html>"} {
		_, err := nginxexporter.Parse([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain; version=0.0.4")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// TestHandler: each scrape reads the status page; with nginx down only
// nginx_up 0 is exported, never stale counters.
func TestHandler(t *testing.T) {
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, stub)
	}))
	logf := func(string, ...any) {}
	body := scrape(t, nginxexporter.Handler(status.URL, http.DefaultClient, logf))
	for _, line := range []string{
		"nginx_up 1", "# TYPE nginx_http_requests_total counter", "nginx_http_requests_total 42",
		"nginx_connections_accepted 17", "nginx_connections_handled 16", "nginx_connections_active 3",
		"nginx_connections_reading 0", "nginx_connections_writing 1", "nginx_connections_waiting 2",
	} {
		assert.Contains(t, body, line+"\n")
	}
	// Every sample line is "name value", every name has HELP and TYPE.
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		require.Len(t, f, 2, line)
		assert.Contains(t, body, "# TYPE "+f[0]+" ")
	}

	status.Close()
	body = scrape(t, nginxexporter.Handler(status.URL, http.DefaultClient, logf))
	assert.Contains(t, body, "nginx_up 0\n")
	assert.NotContains(t, body, "nginx_http_requests_total")
}

func TestMainNeedsFlags(t *testing.T) {
	var stderr strings.Builder
	assert.Equal(t, 2, nginxexporter.Main(nil, &stderr))
	assert.Contains(t, stderr.String(), "--listen and --status-url are required")
}
