package e2e

import (
	"context"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"
)

// BenchmarkNginxOverhead measures what the per-unit router adds: the same
// requests straight to Synapse's listener and through nginx, on one unit.
// It reports the median and p99 latency of each (bounded: b.N requests,
// sequential, loopback only).
//
//	go test -run XXX -bench NginxOverhead -benchtime 2000x ./tests/e2e
func BenchmarkNginxOverhead(b *testing.B) {
	d := newDeployment(b, 1)
	alice := d.register("synapse/0", "alice")
	unit := d.unit("synapse/0")
	direct := "http://" + unit.Address + ":8008"
	routed := "http://" + unit.Address + ":8080"
	for _, tc := range []struct {
		name, base, path string
		auth             bool
	}{
		{"versions/direct", direct, "/_matrix/client/versions", false},
		{"versions/nginx", routed, "/_matrix/client/versions", false},
		{"sync/direct", direct, "/_matrix/client/v3/sync?timeout=0", true},
		{"sync/nginx", routed, "/_matrix/client/v3/sync?timeout=0", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", tc.base+tc.path, nil)
				if tc.auth {
					req.Header.Set("Authorization", "Bearer "+alice.Token)
				}
				start := time.Now()
				resp, err := httpc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", tc.path, resp.StatusCode)
				}
				lat = append(lat, time.Since(start))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
