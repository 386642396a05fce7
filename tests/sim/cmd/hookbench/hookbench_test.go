package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMedianAndBreakdown(t *testing.T) {
	if got := median([]int{5, 1, 3}); got != 3 {
		t.Errorf("median odd = %d", got)
	}
	if got := median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("median even = %d, want the lower middle", got)
	}
	got := breakdown([]map[string]int{{"relation-ids": 12, "is-leader": 1}, {"relation-ids": 12}, {"relation-ids": 12, "is-leader": 1}})
	if want := "relation-ids 12, is-leader 1 [0–1]"; got != want {
		t.Errorf("breakdown = %q, want %q", got, want)
	}
}

// collect joins a hook with the tools its process ran: the charm's own CPU
// is wait4's less the tools', start-up the earliest parent CPU reported.
func TestCollectJoinsToolsByParent(t *testing.T) {
	dir := t.TempDir()
	b := &bench{hooksFile: filepath.Join(dir, "h"), toolsFile: filepath.Join(dir, "t")}
	write := func(file, s string) {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	write(b.toolsFile, `{"pid":11,"ppid":10,"tool":"is-leader","utime-ns":3000000,"stime-ns":1000000,"parent-ns":21000000}
{"pid":12,"ppid":10,"tool":"relation-ids","utime-ns":2000000,"stime-ns":2000000,"parent-ns":20000000}
{"pid":13,"ppid":99,"tool":"relation-ids","utime-ns":1,"stime-ns":1,"parent-ns":1,"moved-ns":0}
`)
	write(b.hooksFile, `{"unit":"synapse/0","hook":"update-status","pid":10,"wall-ns":400000000,"utime-ns":60000000,"stime-ns":40000000,"exit":0}
{"unit":"synapse/0","hook":"upda`) // a line still being written
	got, err := b.collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d samples", len(got))
	}
	s := got[0]
	if s.TotalCPU != 100*time.Millisecond || s.CharmCPU != 92*time.Millisecond || s.Startup != 20*time.Millisecond ||
		s.ToolCalls != 2 || s.Tools["relation-ids"] != 1 || s.Wall != 400*time.Millisecond {
		t.Errorf("sample %+v", s)
	}
	if s.ToolsExact {
		t.Error("exact without a cgroup")
	}
	// With the tools' cgroup: their CPU at the move plus the cgroup's.
	write(b.hooksFile, "te-status\",\"pid\":99,\"utime-ns\":10000000,\"exit\":0,\"tools-cgroup-ns\":5000000}\n")
	got, err = b.collect()
	if err != nil || len(got) != 1 {
		t.Fatalf("second read: %+v, %v", got, err)
	}
	if s := got[0]; s.ToolCalls != 1 || !s.ToolsExact || s.ToolsCPU != 5*time.Millisecond || s.CharmCPU != 5*time.Millisecond {
		t.Errorf("second sample %+v", s)
	}
}

// The proxy forwards to the real socket, counts requests by the client's
// pid, and puts the socket back when closed.
func TestPebbleProxyCountsByClient(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "pebble.socket")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.URL.Path)) })}
	go srv.Serve(ln)
	defer srv.Close()
	p, err := startPebbleProxy(sock)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	get := func(path string) string {
		resp, err := c.Get("http://pebble" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return string(b[:n])
	}
	if got := get("/v1/services"); got != "/v1/services" {
		t.Errorf("forwarded %q", got)
	}
	get("/v1/files?action=read&path=/x")
	get("/v1/files?action=read&path=/y")
	got := p.take(os.Getpid())
	if got["GET /v1/services"] != 1 || got["GET /v1/files?action=read"] != 2 || len(got) != 2 {
		t.Errorf("counts %v", got)
	}
	if again := p.take(os.Getpid()); len(again) != 0 {
		t.Errorf("take did not forget: %v", again)
	}
	c.CloseIdleConnections()
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	if got := get("/v1/plan"); got != "/v1/plan" {
		t.Errorf("after close: %q", got)
	}
}
