// Package nginxexporter serves nginx's stub_status counters as Prometheus
// text, with the metric names of nginx-prometheus-exporter so existing
// dashboards work. The nginx image ships no exporter, so the charm's own
// static binary runs this in the nginx container (`dispatch nginx-exporter`).
package nginxexporter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Status is one reading of nginx's stub_status page.
type Status struct {
	Active, Accepted, Handled, Requests, Reading, Writing, Waiting int64
}

// Parse reads stub_status output:
//
//	Active connections: 2
//	server accepts handled requests
//	 16 16 31
//	Reading: 0 Writing: 1 Waiting: 1
func Parse(data []byte) (Status, error) {
	var s Status
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 {
		return s, fmt.Errorf("stub_status: want 4 lines, got %d", len(lines))
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[0]), "Active connections: %d", &s.Active); err != nil {
		return s, fmt.Errorf("stub_status line 1 %q: %w", lines[0], err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[2]), "%d %d %d", &s.Accepted, &s.Handled, &s.Requests); err != nil {
		return s, fmt.Errorf("stub_status line 3 %q: %w", lines[2], err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[3]), "Reading: %d Writing: %d Waiting: %d", &s.Reading, &s.Writing, &s.Waiting); err != nil {
		return s, fmt.Errorf("stub_status line 4 %q: %w", lines[3], err)
	}
	return s, nil
}

// metric is one exported series: data, not code, so names and help stay
// together.
type metric struct {
	name, kind, help string
	value            func(Status) int64
}

var metrics = []metric{
	{"nginx_connections_accepted", "counter", "Accepted client connections.", func(s Status) int64 { return s.Accepted }},
	{"nginx_connections_active", "gauge", "Active client connections.", func(s Status) int64 { return s.Active }},
	{"nginx_connections_handled", "counter", "Handled client connections.", func(s Status) int64 { return s.Handled }},
	{"nginx_connections_reading", "gauge", "Connections where nginx is reading the request header.", func(s Status) int64 { return s.Reading }},
	{"nginx_connections_waiting", "gauge", "Idle client connections.", func(s Status) int64 { return s.Waiting }},
	{"nginx_connections_writing", "gauge", "Connections where nginx is writing the response back to the client.", func(s Status) int64 { return s.Writing }},
	{"nginx_http_requests_total", "counter", "Total http requests.", func(s Status) int64 { return s.Requests }},
}

// Write renders Prometheus text: nginx_up, and the counters when up.
func Write(w io.Writer, s Status, up bool) error {
	var b bytes.Buffer
	upValue := 0
	if up {
		upValue = 1
	}
	fmt.Fprintf(&b, "# HELP nginx_up Status of the last metric scrape (1 when nginx answered its status page).\n# TYPE nginx_up gauge\nnginx_up %d\n", upValue)
	if up {
		for _, m := range metrics {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.kind, m.name, m.value(s))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Handler answers /metrics by reading statusURL at each scrape, so the
// numbers are never older than the scrape.
func Handler(statusURL string, client *http.Client, logf func(format string, args ...any)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		s, err := fetch(r.Context(), client, statusURL)
		if err != nil {
			logf("read %s: %v", statusURL, err)
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = Write(w, s, err == nil)
	})
	return mux
}

func fetch(ctx context.Context, client *http.Client, url string) (Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Status{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return Status{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("status %s", resp.Status)
	}
	return Parse(data)
}

// Main runs the exporter until SIGTERM or SIGINT: `nginx-exporter --listen
// ADDR --status-url URL`. It returns the process exit code.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("nginx-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "address to serve /metrics on, host:port")
	statusURL := fs.String("status-url", "", "nginx stub_status URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *listen == "" || *statusURL == "" {
		fmt.Fprintln(stderr, "nginx-exporter: --listen and --status-url are required")
		return 2
	}
	logger := bufio.NewWriter(stderr)
	logf := func(format string, args ...any) {
		fmt.Fprintf(logger, "nginx-exporter: "+format+"\n", args...)
		_ = logger.Flush()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logf("%v", err)
		return 1
	}
	srv := &http.Server{
		Handler:           Handler(*statusURL, &http.Client{Timeout: 5 * time.Second}, logf),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logf("serving %s/metrics from %s", ln.Addr(), *statusURL)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logf("%v", err)
		return 1
	}
	return 0
}
