package workload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// threeUnits is a cluster of three units: main and a persister on unit 0,
// one generic worker on each of units 1 and 2.
func threeUnits() workload.NginxInput {
	return workload.NginxInput{
		BindAddress:   "10.1.0.1",
		MaxUploadSize: "50M",
		Processes: []workload.NginxProcess{
			{Name: "main", Role: workload.RoleMain, IP: "10.1.0.1"},
			{Name: "event-persister-1", Role: workload.RoleEventPersister, IP: "10.1.0.1", Index: 1},
			{Name: "generic-2", Role: workload.RoleGeneric, IP: "10.1.0.2", Index: 2},
			{Name: "generic-3", Role: workload.RoleGeneric, IP: "10.1.0.3", Index: 3},
			{Name: "federation-sender-4", Role: workload.RoleFederationSend, IP: "10.1.0.2", Index: 4},
		},
	}
}

func withMedia(in workload.NginxInput) workload.NginxInput {
	in.Processes = append(append([]workload.NginxProcess(nil), in.Processes...),
		workload.NginxProcess{Name: "media-5", Role: workload.RoleMedia, IP: "10.1.0.3", Index: 5})
	return in
}

// everyRole is a cluster with one process of every role of the table.
func everyRole() workload.NginxInput {
	in := workload.NginxInput{BindAddress: "10.1.0.1", MaxUploadSize: "50M",
		Processes: []workload.NginxProcess{{Name: "main", Role: workload.RoleMain, IP: "10.1.0.1"}}}
	for i, r := range workload.Roles {
		in.Processes = append(in.Processes, workload.NginxProcess{Name: fmt.Sprintf("%s-%d", r.Role, i+1), Role: r.Role, IP: "10.1.0.2", Index: i + 1})
	}
	return in
}

func monolith() workload.NginxInput {
	return workload.NginxInput{BindAddress: "10.1.0.1", MaxUploadSize: "50M"}
}

var upstreamBlock = regexp.MustCompile(`(?s)upstream (\S+) \{(.*?)\}`)
var serverLine = regexp.MustCompile(`server (\S+);`)

// upstreams parses the rendered pools: name -> server addresses.
func upstreams(t *testing.T, conf []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range upstreamBlock.FindAllStringSubmatch(string(conf), -1) {
		for _, s := range serverLine.FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], s[1])
		}
	}
	require.NotEmpty(t, out)
	return out
}

func TestMonolithSendsEveryPoolToMain(t *testing.T) {
	conf, err := workload.RenderNginx(monolith())
	require.NoError(t, err)
	ups := upstreams(t, conf)
	for _, name := range []string{"synapse_main", "synapse_generic", "synapse_sync", "synapse_initial_sync", "synapse_federation_inbound", "synapse_room", "synapse_media"} {
		assert.Equal(t, []string{"10.1.0.1:8008"}, ups[name], name)
	}
	assert.Len(t, ups, 7)
	s := string(conf)
	assert.Contains(t, s, "listen 10.1.0.1:8080;")
	assert.Contains(t, s, "client_max_body_size 50M;")
	assert.Equal(t, 1, strings.Count(s, "error_page 502 504 = @synapse_busy;"), "main fails: 429, once for the server")
	assert.NotContains(t, s, "error_page 502 504 = @synapse_main", "an empty pool is main already")
	assert.NotContains(t, s, "hash ", "an empty pool has one server")
}

func TestClusterPoolsHoldTheWorkersOfEveryUnit(t *testing.T) {
	conf, err := workload.RenderNginx(threeUnits())
	require.NoError(t, err)
	ups := upstreams(t, conf)
	workers := []string{"10.1.0.2:8102", "10.1.0.3:8103"}
	assert.Equal(t, []string{"10.1.0.1:8008"}, ups["synapse_main"])
	for _, name := range []string{"synapse_generic", "synapse_sync", "synapse_initial_sync", "synapse_federation_inbound", "synapse_room"} {
		assert.Equal(t, workers, ups[name], name)
	}
	assert.Equal(t, []string{"10.1.0.1:8008"}, ups["synapse_media"], "no media worker: main serves media")
	s := string(conf)
	assert.Contains(t, s, "upstream synapse_sync {\n        # No process in the pool: generic serves it.\n        hash $synapse_user consistent;")
	assert.Contains(t, s, "upstream synapse_federation_inbound {\n        # No process in the pool: generic serves it.\n        hash $synapse_origin consistent;")
	assert.Contains(t, s, "upstream synapse_room {\n        # No process in the pool: generic serves it.\n        hash $synapse_room consistent;")
	assert.NotContains(t, s, "backup", "nginx refuses backup with hash; main is the error_page fallback")
	assert.Contains(t, s, "upstream synapse_initial_sync {\n        # No process in the pool: generic serves it.\n        hash $synapse_user consistent;")
	assert.Contains(t, s, "location ~ \"^/_matrix/client/(r0|v3)/sync$\" {\n            proxy_pass http://$synapse_by_since_initial_sync_else_sync;\n            error_page 502 504 = $synapse_by_since_initial_sync_else_sync_next;\n        }")
	assert.Contains(t, s, "location ~ \"^/_matrix/client/(api/v1|r0|v3)/events$\" {\n            proxy_pass http://synapse_sync;\n            error_page 502 504 = @synapse_main;\n        }")
	assert.Contains(t, s, "location @synapse_main {\n            proxy_pass http://synapse_main;\n        }", "main fails: the server's 429")
	assert.Contains(t, s, "location ^~ /_synapse/replication {\n            return 404;")
	assert.NotContains(t, s, ":8200", "no replication port")
	assert.NotContains(t, s, ":8035", "no replication port")
}

func TestMediaWorkerServesMediaWithoutFallback(t *testing.T) {
	conf, err := workload.RenderNginx(withMedia(threeUnits()))
	require.NoError(t, err)
	ups := upstreams(t, conf)
	assert.Equal(t, []string{"10.1.0.3:8105"}, ups["synapse_media"])
	assert.Equal(t, []string{"10.1.0.2:8102", "10.1.0.3:8103"}, ups["synapse_generic"], "the media worker serves no generic route")
	assert.Contains(t, string(conf), "location ~ \"^/_matrix/client/v1/media/\" {\n            proxy_pass http://synapse_media;\n        }",
		"main has no media repository when a media worker exists")
}

func TestEveryRoleGetsItsPool(t *testing.T) {
	conf, err := workload.RenderNginx(everyRole())
	require.NoError(t, err)
	ups := upstreams(t, conf)
	in := everyRole()
	for pool, role := range map[string]workload.Role{
		"synapse_generic": workload.RoleGeneric, "synapse_sync": workload.RoleSync, "synapse_initial_sync": workload.RoleInitialSync,
		"synapse_federation_inbound": workload.RoleFederationInbound, "synapse_room": workload.RoleEventCreator, "synapse_media": workload.RoleMedia,
		"synapse_stream_typing": workload.RoleTyping, "synapse_stream_to_device": workload.RoleToDevice, "synapse_stream_account_data": workload.RoleAccountData,
		"synapse_stream_receipts": workload.RoleReceipts, "synapse_stream_presence": workload.RolePresence, "synapse_stream_push_rules": workload.RolePushRules,
		"synapse_stream_device_lists": workload.RoleDeviceLists, "synapse_stream_thread_subscriptions": workload.RoleThreadSubs,
	} {
		i := slices.IndexFunc(in.Processes, func(p workload.NginxProcess) bool { return p.Role == role })
		require.Positive(t, i, role)
		port, _, _ := workload.Ports(in.Processes[i].Index)
		assert.Equal(t, []string{fmt.Sprintf("10.1.0.2:%d", port)}, ups[pool], "%s holds %s", pool, in.Processes[i].Name)
	}
	s := string(conf)
	assert.Contains(t, s, "location @synapse_sync {\n            proxy_pass http://synapse_sync;\n            error_page 502 504 = @synapse_generic;\n        }",
		"an initial sync falls back to the sync pool, then generic, then main")
	assert.Contains(t, s, "location ~ \"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing\" {\n            proxy_pass http://synapse_stream_typing;\n        }",
		"only the typing writer serves typing")
	assert.Contains(t, s, "map $request_method $synapse_by_method_generic_else_stream_account_data_next {\n        \"GET\" @synapse_main;\n        \"HEAD\" @synapse_main;\n        default @synapse_main;\n    }")
	assert.Contains(t, s, "map $request_method $synapse_by_method_generic_else_stream_push_rules_next {\n        \"GET\" @synapse_main;\n        \"HEAD\" @synapse_main;\n        default @synapse_busy;\n    }")
}

func TestRenderNginxIsDeterministic(t *testing.T) {
	in := withMedia(threeUnits())
	first, err := workload.RenderNginx(in)
	require.NoError(t, err)
	for range 10 {
		rand.Shuffle(len(in.Processes), func(i, j int) { in.Processes[i], in.Processes[j] = in.Processes[j], in.Processes[i] })
		again, err := workload.RenderNginx(in)
		require.NoError(t, err)
		assert.Equal(t, string(first), string(again))
	}
}

func TestRenderNginxRejectsWhatItCannotRoute(t *testing.T) {
	for name, mutate := range map[string]func(*workload.NginxInput){
		"no bind address":     func(in *workload.NginxInput) { in.BindAddress = "" },
		"bind is a name":      func(in *workload.NginxInput) { in.BindAddress = "synapse-0.example" },
		"bad upload size":     func(in *workload.NginxInput) { in.MaxUploadSize = "50M; evil" },
		"empty IP":            func(in *workload.NginxInput) { in.Processes[2].IP = "" },
		"no main":             func(in *workload.NginxInput) { in.Processes = in.Processes[1:] },
		"two mains":           func(in *workload.NginxInput) { in.Processes[1].Role = workload.RoleMain },
		"unknown role":        func(in *workload.NginxInput) { in.Processes[2].Role = "sorcerer" },
		"duplicate worker":    func(in *workload.NginxInput) { in.Processes[3].Name = in.Processes[2].Name },
		"name with a newline": func(in *workload.NginxInput) { in.Processes[3].Name = "generic-3\n}" },
	} {
		in := threeUnits()
		mutate(&in)
		_, err := workload.RenderNginx(in)
		assert.Error(t, err, name)
	}
	in := threeUnits()
	in.Processes[2].IP = "fd00::2"
	in.BindAddress = "fd00::1"
	conf, err := workload.RenderNginx(in)
	require.NoError(t, err)
	assert.Contains(t, string(conf), "server [fd00::2]:8102;")
	assert.Contains(t, string(conf), "listen [fd00::1]:8080;")
}

func TestNginxContainerReloadsInsteadOfRestarting(t *testing.T) {
	c, err := workload.RenderNginxContainer(threeUnits())
	require.NoError(t, err)
	assert.Equal(t, "synapse-nginx", c.Name)
	require.Len(t, c.Files, 1)
	assert.Equal(t, "/etc/nginx/nginx.conf", c.Files[0].Path)
	assert.Equal(t, os.FileMode(0o644), c.Files[0].Mode)
	svc := c.Layer.Services["nginx"]
	assert.Equal(t, "/usr/sbin/nginx -p /tmp/ -e stderr -c /etc/nginx/nginx.conf", svc.Command)
	assert.Equal(t, "enabled", svc.Startup)
	assert.Empty(t, svc.Environment, "no config hash: a change must not restart nginx")
	assert.Equal(t, map[string][]string{"nginx": {"/etc/nginx/nginx.conf"}}, c.Reload)
	assert.Equal(t, "http://10.1.0.1:8080/health", c.Layer.Checks["nginx-ready"].HTTP.URL)
	assert.Equal(t, &workload.TCPCheck{Port: 8080, Host: "10.1.0.1"}, c.Layer.Checks["nginx-alive"].TCP)
	assert.Equal(t, map[string]string{"nginx-alive": "restart"}, svc.OnCheckFailure)
	assert.Equal(t, []string{"nginx-ready"}, c.ReadyChecks)

	other, err := workload.RenderNginxContainer(withMedia(threeUnits()))
	require.NoError(t, err)
	assert.Equal(t, c.Layer, other.Layer, "a new cluster changes the file, not the layer")
	assert.NotEqual(t, c.Files[0].Content, other.Files[0].Content)
}

// nginxBinary is the host's nginx, or the test is skipped.
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	t.Skip("nginx is not installed")
	return ""
}

// nginxDir is a directory nginx's prefix can be: its workers (nobody when
// the master is root) must reach the temporary directories inside.
func nginxDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "synapse-nginx-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestRenderedNginxConfPassesNginxT(t *testing.T) {
	bin := nginxBinary(t)
	for name, in := range map[string]workload.NginxInput{
		"monolith":     monolith(),
		"three units":  threeUnits(),
		"media worker": withMedia(threeUnits()),
		"every role":   everyRole(),
	} {
		// nginx -t binds the listen address: one this host has.
		in.BindAddress = "127.88.2.1"
		conf, err := workload.RenderNginx(in)
		require.NoError(t, err)
		dir := nginxDir(t)
		path := filepath.Join(dir, "nginx.conf")
		require.NoError(t, os.WriteFile(path, conf, 0o644))
		out, err := exec.Command(bin, "-t", "-p", dir+"/", "-e", "stderr", "-c", path).CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
		assert.Contains(t, string(out), "test is successful", name)
		assert.NotContains(t, string(out), "[warn]", name)
	}
}

// backend stands in for one Synapse process: it answers with its name and
// what it received, and holds requests that carry ?hold= until released.
type backend struct {
	name    string
	srv     *httptest.Server
	hits    atomic.Int64
	holding chan struct{} // a held request arrived
	release chan struct{}
	once    sync.Once
}

type reply struct {
	Backend, URI, XFF, Proto, Host, XFHost string
	Body                                   int
}

// twoWorkerRouter is the host's nginx on <net>.1 with a rendered cluster
// config, in front of stand-ins for main (<net>.2) and two generic workers
// (<net>.3, <net>.4) at the ports Ports gives them.
type twoWorkerRouter struct {
	router
	in           workload.NginxInput
	dir          string
	nginx        *exec.Cmd
	main, g1, g2 *backend
}

func startTwoWorkerRouter(t *testing.T, subnet string) *twoWorkerRouter {
	t.Helper()
	bin := nginxBinary(t)
	listenIP := subnet + ".1"
	tw := &twoWorkerRouter{in: workload.NginxInput{
		BindAddress:   listenIP,
		MaxUploadSize: "1M",
		Processes: []workload.NginxProcess{
			{Name: "main", Role: workload.RoleMain, IP: subnet + ".2"},
			{Name: "generic-1", Role: workload.RoleGeneric, IP: subnet + ".3", Index: 1},
			{Name: "generic-2", Role: workload.RoleGeneric, IP: subnet + ".4", Index: 2},
		},
	}}
	backends := []**backend{&tw.main, &tw.g1, &tw.g2}
	for i, p := range tw.in.Processes {
		port, _, _ := workload.Ports(p.Index)
		*backends[i] = startBackend(t, p.IP, port, p.Name)
	}
	conf, err := workload.RenderNginx(tw.in)
	require.NoError(t, err)
	tw.dir = nginxDir(t)
	listen := net.JoinHostPort(listenIP, strconv.Itoa(workload.NginxPort))
	tw.nginx = runNginx(t, bin, tw.dir, conf, listen)
	tw.router = router{t: t, base: "http://" + listen}
	return tw
}

// reload renders in, writes it and has nginx reload it (SIGHUP).
func (tw *twoWorkerRouter) reload(t *testing.T, in workload.NginxInput) {
	t.Helper()
	conf, err := workload.RenderNginx(in)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tw.dir, "nginx.conf"), conf, 0o644))
	require.NoError(t, tw.nginx.Process.Signal(syscall.SIGHUP))
}

func startBackend(t *testing.T, ip string, port int, name string) *backend {
	t.Helper()
	b := &backend{name: name, holding: make(chan struct{}, 16), release: make(chan struct{})}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	require.NoError(t, err)
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if code, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
			// Synapse's own error answer, e.g. 503 while MAS is unreachable.
			w.WriteHeader(code)
			_, _ = fmt.Fprintf(w, `{"errcode":"M_UNKNOWN","backend":%q}`, name)
			return
		}
		if r.URL.Query().Get("hold") != "" {
			b.holding <- struct{}{}
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			}
		}
		_ = json.NewEncoder(w).Encode(reply{
			Backend: name, URI: r.RequestURI, XFF: r.Header.Get("X-Forwarded-For"),
			Proto: r.Header.Get("X-Forwarded-Proto"), Host: r.Host, XFHost: r.Header.Get("X-Forwarded-Host"), Body: len(body),
		})
	}))
	b.srv.Listener = ln
	b.srv.Start()
	t.Cleanup(b.stop)
	return b
}

// stop closes the backend: new connections are refused.
func (b *backend) stop() {
	b.once.Do(func() {
		close(b.release)
		b.srv.CloseClientConnections()
		b.srv.Close()
	})
}

// runNginx starts nginx on conf in dir and waits for its /health.
func runNginx(t *testing.T, bin, dir string, conf []byte, listen string) *exec.Cmd {
	t.Helper()
	path := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(path, conf, 0o644))
	cmd := exec.Command(bin, "-p", dir+"/", "-e", "stderr", "-c", path)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + listen + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "nginx answers /health")
	return cmd
}

// router sends requests through nginx.
type router struct {
	t    *testing.T
	base string
}

// try sends a request as do does, but returns a transport error instead of
// failing the test: a reload closes the old workers' keep-alive
// connections, which a wait loop then retries.
func (r router) try(method, path string, header map[string]string, body string) (reply, error) {
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	var rep reply
	err = json.NewDecoder(resp.Body).Decode(&rep)
	return rep, err
}

func (r router) do(method, path string, header map[string]string, body string) (int, reply) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	require.NoError(r.t, err)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	var rep reply
	if resp.StatusCode == http.StatusOK && path != "/health" {
		require.NoError(r.t, json.Unmarshal(data, &rep), "%s %s: %s", method, path, data)
	}
	return resp.StatusCode, rep
}

// via returns the backend that served a request that must succeed.
func (r router) via(method, path string, header map[string]string) string {
	r.t.Helper()
	status, rep := r.do(method, path, header, "")
	require.Equal(r.t, http.StatusOK, status, "%s %s", method, path)
	return rep.Backend
}

func bearer(user string) map[string]string {
	return map[string]string{"Authorization": "Bearer syt_" + user + "_AbCdEfGhIjKlMnOpQrSt_0a1b2c"}
}

func origin(server string) map[string]string {
	return map[string]string{"Authorization": `X-Matrix origin="` + server + `",destination="hs.example",key="ed25519:a",sig="c2ln"`}
}

// TestNginxRoutesThroughTheCluster runs the host's nginx on a rendered
// config in front of stand-ins for main and two generic workers on
// distinct loopback addresses, at the ports Ports gives them.
func TestNginxRoutesThroughTheCluster(t *testing.T) {
	tw := startTwoWorkerRouter(t, "127.88.0")
	r, in, mainB, g1, g2 := tw.router, tw.in, tw.main, tw.g1, tw.g2
	g2IP := in.Processes[2].IP

	// /health is nginx's own.
	hits := mainB.hits.Load() + g1.hits.Load() + g2.hits.Load()
	status, _ := r.do("GET", "/health", nil, "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, hits, mainB.hits.Load()+g1.hits.Load()+g2.hits.Load(), "no backend asked")

	// One user's syncs stay on one worker, whichever way the token comes;
	// users spread over the workers.
	alice := r.via("GET", "/_matrix/client/v3/sync?timeout=0", bearer("alice"))
	assert.Contains(t, []string{"generic-1", "generic-2"}, alice)
	for range 10 {
		assert.Equal(t, alice, r.via("GET", "/_matrix/client/v3/sync?since=s1", bearer("alice")))
	}
	assert.Equal(t, alice, r.via("GET", "/_matrix/client/v3/sync?access_token=syt_alice_XyZ_123", nil))
	assert.Equal(t, alice, r.via("GET", "/_matrix/client/v3/events", bearer("alice")))
	spread := map[string]bool{}
	userOf := map[string]string{}
	for i := range 24 {
		u := fmt.Sprintf("user%d", i)
		userOf[u] = r.via("GET", "/_matrix/client/v3/sync", bearer(u))
		spread[userOf[u]] = true
	}
	assert.Equal(t, map[string]bool{"generic-1": true, "generic-2": true}, spread)

	// Inbound federation by origin server, rooms by room ID.
	first := r.via("PUT", "/_matrix/federation/v1/send/1", origin("a.example"))
	for i := range 5 {
		assert.Equal(t, first, r.via("PUT", fmt.Sprintf("/_matrix/federation/v1/send/%d", i+2), origin("a.example")))
	}
	spread = map[string]bool{}
	for i := range 24 {
		spread[r.via("PUT", "/_matrix/federation/v1/send/1", origin(fmt.Sprintf("s%d.example", i)))] = true
	}
	assert.Len(t, spread, 2, "origins spread")
	inRoom := r.via("GET", "/_matrix/client/v3/rooms/!abc:hs.example/messages?dir=b", nil)
	assert.Equal(t, inRoom, r.via("PUT", "/_matrix/client/v3/rooms/!abc:hs.example/send/m.room.message/t1", nil))
	assert.Equal(t, inRoom, r.via("PUT", "/_matrix/client/v3/rooms/%21abc%3Ahs.example/send/m.room.message/t2", nil), "encoded room ID")
	spread = map[string]bool{}
	for i := range 24 {
		spread[r.via("GET", fmt.Sprintf("/_matrix/client/v3/rooms/!r%d:hs.example/messages", i), nil)] = true
	}
	assert.Len(t, spread, 2, "rooms spread")

	// Main only, GET-only rows, never routed.
	assert.Equal(t, "main", r.via("GET", "/_synapse/admin/v1/users/@a:hs.example", nil))
	assert.Equal(t, "main", r.via("PUT", "/_matrix/client/v3/rooms/!abc:hs.example/typing/@a:hs.example", nil))
	assert.Equal(t, "main", r.via("PUT", "/_matrix/client/v3/pushrules/global/override/x", nil))
	assert.Contains(t, []string{"generic-1", "generic-2"}, r.via("GET", "/_matrix/client/v3/pushrules/", nil))
	assert.Equal(t, "main", r.via("GET", "/_matrix/client/v1/media/download/hs.example/m1", nil), "no media worker")
	hits = mainB.hits.Load() + g1.hits.Load() + g2.hits.Load()
	for _, p := range []string{"/_synapse/replication/send_event/x", "/_synapse/replication", "/_synapse//replication/x", "/_synapse/metrics"} {
		status, _ = r.do("POST", p, nil, "{}")
		assert.Equal(t, http.StatusNotFound, status, p)
	}
	assert.Equal(t, hits, mainB.hits.Load()+g1.hits.Load()+g2.hits.Load(), "replication never reaches a process")

	// Forwarded headers, the body limit.
	const login = `{"type":"m.login.password"}`
	forwarded := map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "forged.example", "Host": "matrix.example"}
	_, rep := r.do("POST", "/_matrix/client/v3/login", forwarded, login)
	assert.Equal(t, "127.0.0.1", rep.XFF, "a client's own X-Forwarded-For is ignored: the peer is the client")
	assert.Equal(t, "http", rep.Proto, "and so is its X-Forwarded-Proto")
	assert.Equal(t, "matrix.example", rep.Host)
	assert.Equal(t, "matrix.example", rep.XFHost)
	assert.Equal(t, len(login), rep.Body)
	// From a trusted proxy, the last address it did not add is the client.
	trusted := in
	trusted.TrustedProxies = []string{"127.0.0.1/32", "198.51.100.0/24"}
	tw.reload(t, trusted)
	require.Eventually(t, func() bool {
		got, err := r.try("POST", "/_matrix/client/v3/login", forwarded, login)
		rep = got
		return err == nil && rep.XFF != "127.0.0.1"
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "203.0.113.7", rep.XFF)
	assert.Equal(t, "https", rep.Proto)
	assert.Equal(t, "forged.example", rep.XFHost)
	tw.reload(t, in)
	require.Eventually(t, func() bool {
		got, err := r.try("POST", "/_matrix/client/v3/login", forwarded, login)
		rep = got
		return err == nil && rep.XFF == "127.0.0.1"
	}, 10*time.Second, 20*time.Millisecond)
	_, rep = r.do("GET", "/_matrix/client/versions?x=1", nil, "")
	assert.Equal(t, "http", rep.Proto)
	assert.Equal(t, "/_matrix/client/versions?x=1", rep.URI, "the request URI passes unchanged")
	status, _ = r.do("POST", "/_matrix/media/v3/upload", nil, strings.Repeat("x", 2<<20))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)

	// A config change applied by SIGHUP keeps an in-flight long-poll:
	// here generic-2 leaves the cluster while a sync waits on some worker.
	held := make(chan reply, 1)
	go func() {
		_, rep := r.do("GET", "/_matrix/client/v3/sync?hold=1", bearer("alice"), "")
		held <- rep
	}()
	heldOn := map[string]*backend{"generic-1": g1, "generic-2": g2}[alice]
	select {
	case <-heldOn.holding:
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not reach its worker")
	}
	in.Processes = in.Processes[:2]
	tw.reload(t, in)
	require.Eventually(t, func() bool {
		for u := range userOf {
			if r.via("GET", "/_matrix/client/v3/sync", bearer(u)) != "generic-1" {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "the reloaded config has generic-1 alone")
	select {
	case rep := <-held:
		t.Fatalf("the long-poll ended during the reload: %+v", rep)
	default:
	}
	heldOn.release <- struct{}{}
	select {
	case rep := <-held:
		assert.Equal(t, alice, rep.Backend, "the long-poll completed where it started")
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not complete")
	}

	// Back to two workers; stopping one passes its users to the other
	// without an error, stopping both passes everything to main.
	in.Processes = append(in.Processes, workload.NginxProcess{Name: "generic-2", Role: workload.RoleGeneric, IP: g2IP, Index: 2})
	tw.reload(t, in)
	require.Eventually(t, func() bool {
		for u, w := range userOf {
			if r.via("GET", "/_matrix/client/v3/sync", bearer(u)) != w {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "users are back on their workers")
	g1.stop()
	for u := range userOf {
		assert.Equal(t, "generic-2", r.via("GET", "/_matrix/client/v3/sync", bearer(u)), u)
	}
	for i := range 6 {
		assert.Equal(t, "generic-2", r.via("GET", "/_matrix/client/versions", nil), "round robin %d", i)
	}
	g2.stop()
	assert.Equal(t, "main", r.via("GET", "/_matrix/client/v3/sync", bearer("alice")))
	assert.Equal(t, "main", r.via("PUT", "/_matrix/federation/v1/send/9", origin("a.example")))
	assert.Equal(t, "main", r.via("GET", "/_matrix/client/v3/rooms/!abc:hs.example/messages", nil))
	status, rep = r.do("POST", "/_matrix/client/v3/login", nil, login)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "main", rep.Backend)
	assert.Equal(t, len(login), rep.Body, "the body reaches main on fallback")
}

// TestApplyReloadsNginxOnConfigChange runs nginx under a real Pebble and
// applies the rendered container: a new cluster reloads nginx (SIGHUP),
// never restarts it, and an in-flight long-poll survives.
func TestApplyReloadsNginxOnConfigChange(t *testing.T) {
	bed.RequireRoot(t)
	bin := nginxBinary(t)
	ctx := context.Background()
	pc := bed.StartHostPebble(t)
	dir := nginxDir(t)
	const listenIP, mainIP, g1IP, g2IP = "127.88.1.1", "127.88.1.2", "127.88.1.3", "127.88.1.4"
	mainPort, _, _ := workload.Ports(0)
	g1Port, _, _ := workload.Ports(1)
	g2Port, _, _ := workload.Ports(2)
	startBackend(t, mainIP, mainPort, "main")
	g1 := startBackend(t, g1IP, g1Port, "generic-1")
	startBackend(t, g2IP, g2Port, "generic-2")
	in := workload.NginxInput{BindAddress: listenIP, MaxUploadSize: "50M", Processes: []workload.NginxProcess{
		{Name: "main", Role: workload.RoleMain, IP: mainIP},
		{Name: "generic-1", Role: workload.RoleGeneric, IP: g1IP, Index: 1},
	}}
	// The rendered container, with its file in the test's directory.
	render := func() workload.Container {
		c, err := workload.RenderNginxContainer(in)
		require.NoError(t, err)
		conf := filepath.Join(dir, "nginx.conf")
		c.Files[0].Path = conf
		svc := c.Layer.Services[workload.NginxService]
		svc.Command = strings.NewReplacer(workload.NginxBinary, bin, workload.NginxPrefix, dir+"/", workload.NginxConfigPath, conf).Replace(svc.Command)
		c.Layer.Services[workload.NginxService] = svc
		c.Reload = map[string][]string{workload.NginxService: {conf}}
		return c
	}
	want := render()
	res, err := container.Apply(ctx, pc, want, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, []string{"nginx"}, res.Started)
	assert.Empty(t, res.Reloaded, "a service started now read its files")
	readiness, err := container.WaitReady(ctx, pc, want, http.DefaultClient, 20*time.Second)
	require.NoError(t, err)
	require.Empty(t, readiness.NotReady)
	_, since := serviceSince(t, pc, "nginx")
	pid, err := os.ReadFile(filepath.Join(dir, "nginx.pid"))
	require.NoError(t, err)

	r := router{t: t, base: "http://" + net.JoinHostPort(listenIP, strconv.Itoa(workload.NginxPort))}
	held := make(chan int, 1)
	go func() {
		status, _ := r.do("GET", "/_matrix/client/v3/sync?hold=1", bearer("alice"), "")
		held <- status
	}()
	select {
	case <-g1.holding:
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not reach generic-1")
	}

	// A unit joins: generic-2.
	in.Processes = append(in.Processes, workload.NginxProcess{Name: "generic-2", Role: workload.RoleGeneric, IP: g2IP, Index: 2})
	want = render()
	res, err = container.Apply(ctx, pc, want, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "nginx.conf")}, res.Pushed)
	assert.Equal(t, []string{"nginx"}, res.Reloaded)
	assert.Empty(t, res.Restarted)
	assert.Empty(t, res.Started)
	assert.False(t, res.LayerChanged)
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for i := range 24 {
			seen[r.via("GET", "/_matrix/client/v3/sync", bearer(fmt.Sprintf("u%d", i)))] = true
		}
		return seen["generic-2"]
	}, 10*time.Second, 100*time.Millisecond, "the new worker takes users after the reload")
	status, again := serviceSince(t, pc, "nginx")
	assert.Equal(t, "active", string(status))
	assert.Equal(t, since, again, "nginx was not restarted")
	pidAgain, err := os.ReadFile(filepath.Join(dir, "nginx.pid"))
	require.NoError(t, err)
	assert.Equal(t, string(pid), string(pidAgain), "the same nginx master")

	select {
	case s := <-held:
		t.Fatalf("the long-poll ended during the reload: %d", s)
	default:
	}
	g1.release <- struct{}{}
	select {
	case s := <-held:
		assert.Equal(t, http.StatusOK, s, "the in-flight long-poll completed")
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not complete")
	}

	res, err = container.Apply(ctx, pc, want, 30*time.Second)
	require.NoError(t, err)
	assert.False(t, res.Changed(), "nothing to do: %+v", res)
}

func TestCheckNginxCatchesABrokenConfig(t *testing.T) {
	bed.RequireRoot(t)
	nginxBinary(t)
	if _, err := os.Stat(workload.NginxBinary); err != nil {
		t.Skipf("CheckNginx runs %s: %v", workload.NginxBinary, err)
	}
	ctx := context.Background()
	pc := bed.StartHostPebble(t)
	in := threeUnits()
	in.BindAddress = "127.88.3.1"
	conf, err := workload.RenderNginx(in)
	require.NoError(t, err)
	require.NoError(t, container.CheckNginx(ctx, pc, conf))

	broken := strings.Replace(string(conf), "proxy_pass http://synapse_sync;", "proxy_pass http://synapse_nowhere;", 1)
	err = container.CheckNginx(ctx, pc, []byte(broken))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "synapse_nowhere")
}

func serviceSince(t *testing.T, pc *client.Client, name string) (client.ServiceStatus, time.Time) {
	infos, err := pc.Services(&client.ServicesOptions{Names: []string{name}})
	require.NoError(t, err)
	require.Len(t, infos, 1)
	return infos[0].Current, infos[0].CurrentSince
}

// TestNginxRoutesEveryPool runs the host's nginx in front of one stand-in
// per pool: each request reaches the pool routes.go names; a pool whose
// processes stop falls down its chain; when the chain is exhausted, or
// only a stopped process could serve the request, nginx answers 429 with
// Retry-After; Synapse's own errors pass unchanged.
func TestNginxRoutesEveryPool(t *testing.T) {
	bin := nginxBinary(t)
	const subnet = "127.88.5"
	in := workload.NginxInput{BindAddress: subnet + ".1", MaxUploadSize: "1M"}
	backends := map[string]*backend{}
	for i, p := range []struct {
		name string
		role workload.Role
	}{
		{"main", workload.RoleMain}, {"generic-1", workload.RoleGeneric}, {"sync-2", workload.RoleSync},
		{"initial-sync-3", workload.RoleInitialSync}, {"federation-inbound-4", workload.RoleFederationInbound},
		{"event-creator-5", workload.RoleEventCreator}, {"media-6", workload.RoleMedia}, {"typing-7", workload.RoleTyping},
		{"account-data-8", workload.RoleAccountData},
	} {
		proc := workload.NginxProcess{Name: p.name, Role: p.role, IP: fmt.Sprintf("%s.%d", subnet, i+2), Index: i}
		in.Processes = append(in.Processes, proc)
		port, _, _ := workload.Ports(i)
		backends[p.name] = startBackend(t, proc.IP, port, p.name)
	}
	conf, err := workload.RenderNginx(in)
	require.NoError(t, err)
	listen := net.JoinHostPort(in.BindAddress, strconv.Itoa(workload.NginxPort))
	runNginx(t, bin, nginxDir(t), conf, listen)
	r := router{t: t, base: "http://" + listen}

	const (
		sync        = "/_matrix/client/v3/sync"
		incremental = "/_matrix/client/v3/sync?since=s72_1&timeout=0"
		fedSend     = "/_matrix/federation/v1/send/1"
		roomSend    = "/_matrix/client/v3/rooms/!a:hs.example/send/m.room.message/t1"
		media       = "/_matrix/client/v1/media/download/hs.example/m1"
		typing      = "/_matrix/client/v3/rooms/!a:hs.example/typing/@u:hs.example"
		accountData = "/_matrix/client/v3/user/@u:hs.example/account_data/m.direct"
		versions    = "/_matrix/client/versions"
	)
	alice := bearer("alice")
	routes := []struct {
		method, path string
		header       map[string]string
		want         string
	}{
		{"GET", sync, alice, "initial-sync-3"},
		{"GET", "/_matrix/client/v3/initialSync", alice, "initial-sync-3"},
		{"GET", incremental, alice, "sync-2"},
		{"GET", "/_matrix/client/v3/events", alice, "sync-2"},
		{"PUT", fedSend, origin("a.example"), "federation-inbound-4"},
		{"PUT", roomSend, nil, "event-creator-5"},
		{"GET", "/_matrix/client/v3/rooms/!a:hs.example/messages", nil, "event-creator-5"},
		{"GET", versions, nil, "generic-1"},
		{"GET", media, nil, "media-6"},
		{"POST", "/_synapse/admin/v1/media/quarantine/hs.example/m1", nil, "media-6"},
		{"PUT", typing, nil, "typing-7"},
		{"PUT", accountData, nil, "account-data-8"},
		{"GET", accountData, nil, "generic-1"},
		{"POST", "/_matrix/client/v3/logout", nil, "main"},
	}
	for _, c := range routes {
		assert.Equal(t, c.want, r.via(c.method, c.path, c.header), "%s %s", c.method, c.path)
	}

	// Synapse's own errors reach the client: no fallback, no 429.
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout} {
		hits := backends["main"].hits.Load()
		resp := get(t, r.base+fmt.Sprintf("%s&status=%d", incremental, code), alice)
		assert.Equal(t, code, resp.status)
		assert.Contains(t, resp.body, `"backend":"sync-2"`)
		assert.Empty(t, resp.retryAfter)
		assert.Equal(t, hits, backends["main"].hits.Load(), "no fallback on Synapse's %d", code)
	}

	// busy asserts nginx's 429: a Matrix error with Retry-After.
	busy := func(method, path string, header map[string]string) {
		t.Helper()
		status, _ := r.do(method, path, header, "")
		require.Equal(t, http.StatusTooManyRequests, status, "%s %s", method, path)
		resp := get(t, r.base+path, header)
		assert.Equal(t, http.StatusTooManyRequests, resp.status)
		assert.Equal(t, "5", resp.retryAfter)
		assert.JSONEq(t, `{"errcode":"M_LIMIT_EXCEEDED","error":"The server is busy: try again later","retry_after_ms":5000}`, resp.body)
	}

	// Dead pools fall down their chains: initial-sync -> sync -> generic -> main.
	backends["initial-sync-3"].stop()
	assert.Equal(t, "sync-2", r.via("GET", sync, alice))
	backends["sync-2"].stop()
	assert.Equal(t, "generic-1", r.via("GET", sync, alice))
	assert.Equal(t, "generic-1", r.via("GET", incremental, alice))
	backends["federation-inbound-4"].stop()
	assert.Equal(t, "generic-1", r.via("PUT", fedSend, origin("a.example")))
	backends["event-creator-5"].stop()
	assert.Equal(t, "generic-1", r.via("PUT", roomSend, nil))
	// main hands account data to its writer over replication.
	backends["account-data-8"].stop()
	assert.Equal(t, "main", r.via("PUT", accountData, nil))
	// Only the typing writer and the media worker can serve theirs.
	mainHits := backends["main"].hits.Load()
	backends["typing-7"].stop()
	busy("PUT", typing, nil)
	backends["media-6"].stop()
	busy("GET", media, nil)
	assert.Equal(t, mainHits, backends["main"].hits.Load(), "main cannot serve typing or media here")

	backends["generic-1"].stop()
	assert.Equal(t, "main", r.via("GET", sync, alice))
	assert.Equal(t, "main", r.via("GET", versions, nil))
	assert.Equal(t, "main", r.via("PUT", fedSend, origin("a.example")))
	// The end of every chain: nobody answers.
	backends["main"].stop()
	for _, c := range routes {
		busy(c.method, c.path, c.header)
	}
}

type response struct {
	status           int
	body, retryAfter string
}

func get(t *testing.T, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, string(body), resp.Header.Get("Retry-After")}
}
