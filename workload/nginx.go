package workload

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/internal/lazyre"
)

// The synapse-nginx container: nginx on every unit routes each request to
// the process of the cluster that serves it (routes.go), so the Kubernetes
// service and the ingress may send any request to any unit.

// nginx container, service, files and checks.
const (
	NginxContainer  = "synapse-nginx"
	NginxService    = "nginx"
	NginxConfigPath = "/etc/nginx/nginx.conf"
	// NginxPrefix is nginx's prefix (-p): the pid file and the temporary
	// directories of nginx.conf are relative to it, so a read-only image
	// works and a test can run the same file in a directory of its own.
	NginxPrefix     = "/tmp/"
	NginxBinary     = "/usr/sbin/nginx"
	NginxReadyCheck = "nginx-ready"
	NginxAliveCheck = "nginx-alive"
	// NginxStatusPort serves stub_status on the unit's address, to the
	// exporter only.
	NginxStatusPort = 9112
	// NginxExporterService serves nginx's counters as Prometheus text.
	NginxExporterService = "nginx-exporter"
	// NginxExporterDir holds the exporter program, one file per version.
	NginxExporterDir = "/usr/local/lib/synapse-charm"
)

// NginxInput is everything nginx.conf depends on.
type NginxInput struct {
	// BindAddress is the unit's address; nginx listens on it at NginxPort.
	BindAddress string
	// Processes are the Synapse processes of every unit, the main
	// included, each with the IP of its unit from the peer bags. Leave out
	// a process whose unit has not reported an IP yet: its pool falls back
	// to the others, or to main. Nil means a monolith: the main alone, on
	// this unit.
	Processes []NginxProcess
	// MaxUploadSize is the request body limit (config max_upload_size,
	// e.g. "50M").
	MaxUploadSize string
	// TrustedProxies are the address ranges (CIDR) of the proxies in
	// front of nginx (the ingress, config trusted_proxies): only a request
	// from one of them may name the client's address (X-Forwarded-For)
	// and the scheme and host it used. Any other peer is the client.
	TrustedProxies []string
	// Exporter is the program serving nginx's counters to Prometheus
	// (the charm's own binary, see package nginxexporter); nil runs none.
	Exporter *Executable
}

// NginxProcess is one Synapse process as nginx reaches it.
type NginxProcess struct {
	// Name is "main" or a slot name such as "generic-3".
	Name string
	Role Role
	// IP is the current address of the process's unit. nginx needs an
	// address, not a DNS name that may not resolve yet.
	IP string
	// Index numbers the process's ports (Ports); 0 is the main.
	Index int
}

var (
	sizeValue   = lazyre.New(`^[0-9]+[KMGkmg]?$`)
	processName = lazyre.New(`^[a-z0-9][a-z0-9-]*$`)
)

// nginx settings that do not depend on the input.
const (
	// nginxReadTimeout covers a /sync long-poll and a slow room join.
	nginxReadTimeout = "600s"
	// nginxConnectTimeout bounds the wait on a unit that vanished without
	// refusing connections, before the next server or main is tried.
	nginxConnectTimeout = "5s"
	// nginxBusyLocation answers 429 when no server answered.
	nginxBusyLocation = "@synapse_busy"
	// nginxRetryAfter (seconds) is long enough for a restarting worker to
	// come back or its pool to be reloaded without it, and short enough
	// that clients do not stall.
	nginxRetryAfter = 5
)

// RenderNginx renders nginx.conf: one upstream per pool with the processes
// of every unit, one location per routing table row, main for everything
// else. The output depends only on the input (processes are sorted).
func RenderNginx(in NginxInput) ([]byte, error) {
	if net.ParseIP(in.BindAddress) == nil {
		return nil, fmt.Errorf("render nginx.conf: bind address %q is not an IP address", in.BindAddress)
	}
	if !sizeValue().MatchString(in.MaxUploadSize) {
		return nil, fmt.Errorf("render nginx.conf: max upload size %q is not a size such as 50M", in.MaxUploadSize)
	}
	for _, cidr := range in.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return nil, fmt.Errorf("render nginx.conf: trusted proxy %q is not a CIDR range", cidr)
		}
	}
	procs := in.Processes
	if procs == nil {
		procs = []NginxProcess{{Name: string(RoleMain), Role: RoleMain, IP: in.BindAddress}}
	}
	procs = slices.Clone(procs)
	sort.Slice(procs, func(i, j int) bool { return procs[i].Name < procs[j].Name })
	var mainProc *NginxProcess
	var roles []Role
	for i, p := range procs {
		if !processName().MatchString(p.Name) {
			return nil, fmt.Errorf("render nginx.conf: process name %q is not a slot name", p.Name)
		}
		if net.ParseIP(p.IP) == nil {
			return nil, fmt.Errorf("render nginx.conf: process %s: IP %q is not an IP address", p.Name, p.IP)
		}
		if i > 0 && procs[i-1].Name == p.Name {
			return nil, fmt.Errorf("render nginx.conf: process %s is listed twice", p.Name)
		}
		if p.Role == RoleMain {
			if mainProc != nil {
				return nil, fmt.Errorf("render nginx.conf: two main processes, %s and %s", mainProc.Name, p.Name)
			}
			mainProc = &procs[i]
			continue
		}
		if _, ok := Spec(p.Role); !ok {
			return nil, fmt.Errorf("render nginx.conf: process %s: unknown role %q", p.Name, p.Role)
		}
		roles = append(roles, p.Role)
	}
	if mainProc == nil {
		return nil, errors.New("render nginx.conf: no main process")
	}
	streams := WorkerStreams(roles)
	served := Served(roles)

	// members are a pool's own processes.
	members := func(pool Pool) []NginxProcess {
		if pool == PoolMain {
			return []NginxProcess{*mainProc}
		}
		var out []NginxProcess
		for _, p := range procs {
			rs, ok := Spec(p.Role)
			if !ok || p.Role == RoleMain {
				continue
			}
			if slices.Contains(rs.Serves, pool) || (pool.Stream() != "" && slices.Contains(rs.Streams, pool.Stream())) {
				out = append(out, p)
			}
		}
		return out
	}

	// Pools in first use order, main first; each with the pools it tries.
	used := []Pool{PoolMain}
	attempts := map[Pool][]Pool{PoolMain: {PoolMain}}
	var use func(p Pool) error
	use = func(p Pool) error {
		if slices.Contains(used, p) {
			return nil
		}
		chain := Attempts(p, served)
		if len(chain) == 0 {
			return fmt.Errorf("render nginx.conf: routing table names pool %q, which no process can serve", p)
		}
		used = append(used, p)
		attempts[p] = chain
		for _, q := range chain[1:] {
			if err := use(q); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range Routes {
		for _, p := range r.Target(streams).Pools() {
			if err := use(p); err != nil {
				return nil, err
			}
		}
	}
	// A pool's fallback location serves the rest of its chain: the chain
	// of the next pool must be that rest, or the named location of the
	// next pool would send its requests elsewhere.
	for _, p := range used {
		chain := attempts[p]
		for i, q := range chain[1:] {
			if !slices.Equal(attempts[q], chain[i+1:]) {
				return nil, fmt.Errorf("render nginx.conf: pool %s falls back through %v, but %s through %v", p, chain, q, attempts[q])
			}
		}
	}
	// next is the named location that takes a pool's failed requests.
	next := func(p Pool) string {
		if chain := attempts[p]; len(chain) > 1 {
			return "@" + upstreamName(chain[1])
		}
		return nginxBusyLocation
	}

	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# nginx.conf of the synapse-nginx container, rendered by the synapse charm")
	w("# from workload/routes.go (Synapse 1.160.0). Do not edit: the charm overwrites it.")
	w("# Run as: nginx -p %s -e stderr -c %s", NginxPrefix, NginxConfigPath)
	w("daemon off;")
	w("worker_processes 2;")
	w("pid nginx.pid;")
	w("error_log stderr warn;")
	w("# A reload lets old workers finish in-flight long-polls, up to this long.")
	w("worker_shutdown_timeout 11m;")
	w("")
	w("events {")
	w("    worker_connections 4096;")
	w("}")
	w("")
	w("http {")
	w("    server_tokens off;")
	w("    # No query string in the log: it may carry an access_token.")
	w(`    log_format synapse '$remote_addr peer=$realip_remote_addr "$http_x_forwarded_for" [$time_local] "$request_method $uri $server_protocol" $status $body_bytes_sent $request_time upstream=$upstream_addr';`)
	w("    access_log /proc/self/fd/1 synapse;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		w("    %s_temp_path nginx-%s;", t, strings.ReplaceAll(t, "_", "-"))
	}
	w("    client_max_body_size %s;", in.MaxUploadSize)
	w("    large_client_header_buffers 4 32k;")
	w("    # Room for the long names of the route maps (synapse_by_...).")
	w("    variables_hash_bucket_size 128;")
	w("")
	w("    # The client's address: the peer, unless the peer is a trusted proxy")
	w("    # (config trusted_proxies), whose X-Forwarded-For names it: the last")
	w("    # entry that no trusted proxy added. $remote_addr is then that address,")
	w("    # $realip_remote_addr the peer. A client's own X-Forwarded-For is ignored.")
	for _, cidr := range in.TrustedProxies {
		w("    set_real_ip_from %s;", cidr)
	}
	if len(in.TrustedProxies) > 0 {
		w("    real_ip_header X-Forwarded-For;")
		w("    real_ip_recursive on;")
	}
	w("    geo $realip_remote_addr $synapse_trusted_peer {")
	w("        default 0;")
	for _, cidr := range in.TrustedProxies {
		w("        %s 1;", cidr)
	}
	w("    }")
	w("")
	w("    # Affinity keys (synapse-workers.md §9).")
	w("    # The user of the access token: syt_<localpart>_..., from the header, else the query.")
	w("    map $http_authorization $synapse_header_user {")
	w(`        "~^Bearer syt_(?<synapse_header_localpart>[^_]+)_" $synapse_header_localpart;`)
	w("        default $http_authorization;")
	w("    }")
	w("    map $arg_access_token $synapse_query_user {")
	w(`        "~^syt_(?<synapse_query_localpart>[^_]+)_" $synapse_query_localpart;`)
	w("        default $arg_access_token;")
	w("    }")
	w("    map $synapse_header_user $synapse_user {")
	w(`        "" $synapse_query_user;`)
	w("        default $synapse_header_user;")
	w("    }")
	w("    # The origin server of a federation request, else the client address.")
	w("    map $http_authorization $synapse_origin {")
	w(`        '~^X-Matrix .*origin="?(?<synapse_origin_name>[^",]+)' $synapse_origin_name;`)
	w("        default $remote_addr;")
	w("    }")
	w("    # The room in the path (decoded), else the whole path.")
	w("    map $uri $synapse_room {")
	w(`        "~^/_matrix/client/(?:api/v1|r0|v3|unstable)/rooms/(?<synapse_room_id>[^/]+)/" $synapse_room_id;`)
	w(`        "~^/_matrix/client/(?:api/v1|r0|v3|unstable)/(?:join|knock)/(?<synapse_room_or_alias>[^/]+)" $synapse_room_or_alias;`)
	w("        default $uri;")
	w("    }")
	w("    # Forwarded headers: keep what a trusted proxy set, ignore a client's.")
	w("    map $synapse_trusted_peer$http_x_forwarded_proto $synapse_forwarded_proto {")
	w(`        "~^1(?<synapse_proto>.+)$" $synapse_proto;`)
	w("        default $scheme;")
	w("    }")
	w("    map $synapse_trusted_peer$http_x_forwarded_host $synapse_forwarded_host {")
	w(`        "~^1(?<synapse_fwd_host>.+)$" $synapse_fwd_host;`)
	w("        default $host;")
	w("    }")

	// Maps of the rows whose requests go to two pools: the upstream, and
	// the named location of the upstream's fallback.
	var splits []Target
	for _, r := range Routes {
		t := r.Target(streams)
		if len(t.Pools()) < 2 || slices.ContainsFunc(splits, func(s Target) bool { return splitVar(s) == splitVar(t) }) {
			continue
		}
		splits = append(splits, t)
		w("    map %s $%s {", t.Var, splitVar(t))
		for _, v := range t.Values {
			w("        %q %s;", v, upstreamName(t.When))
		}
		w("        default %s;", upstreamName(t.Pool))
		w("    }")
		w("    map %s $%s_next {", t.Var, splitVar(t))
		for _, v := range t.Values {
			w("        %q %s;", v, next(t.When))
		}
		w("        default %s;", next(t.Pool))
		w("    }")
	}
	w("")
	w("    # Pools: the processes of every unit. An empty pool holds the servers")
	w("    # of the first pool of its chain that has any, with its own affinity.")
	for _, p := range used {
		spec, _ := SpecOf(p)
		first := attempts[p][0]
		list := members(first)
		w("    upstream %s {", upstreamName(p))
		if first != p {
			w("        # No process in the pool: %s serves it.", first)
		}
		switch {
		case first == PoolMain:
		case spec.Affinity == AffinityUser:
			w("        hash $synapse_user consistent;")
		case spec.Affinity == AffinityOrigin:
			w("        hash $synapse_origin consistent;")
		case spec.Affinity == AffinityRoom:
			w("        hash $synapse_room consistent;")
		}
		for _, s := range list {
			port, _, _ := Ports(s.Index)
			w("        server %s; # %s", net.JoinHostPort(s.IP, fmt.Sprint(port)), s.Name)
		}
		w("        keepalive 16;")
		w("    }")
	}
	w("")
	w("    server {")
	w("        listen %s;", net.JoinHostPort(in.BindAddress, fmt.Sprint(NginxPort)))
	w("        proxy_http_version 1.1;")
	w(`        proxy_set_header Connection "";`)
	w("        proxy_set_header Host $host;")
	w("        # The address nginx established, never a list a client wrote:")
	w("        # Synapse's listeners trust this header (x_forwarded).")
	w("        proxy_set_header X-Forwarded-For $remote_addr;")
	w("        proxy_set_header X-Forwarded-Proto $synapse_forwarded_proto;")
	w("        proxy_set_header X-Forwarded-Host $synapse_forwarded_host;")
	w("        proxy_redirect off;")
	w("        proxy_connect_timeout %s;", nginxConnectTimeout)
	w("        proxy_read_timeout %s;", nginxReadTimeout)
	w("        proxy_send_timeout %s;", nginxReadTimeout)
	w("        # Within a pool, a server that refuses or times out passes the request")
	w("        # to the next one; a request already sent is not replayed there.")
	w("        proxy_next_upstream error timeout;")
	w("        # When every server of a pool refused or timed out, the request goes")
	w("        # down the pool's chain (routes.go, Pools), one named location per")
	w("        # pool; past the end, nginx answers 429 (@synapse_busy). Only nginx's")
	w("        # own 502 and 504 do: Synapse's answers, its 502 and 503 included,")
	w("        # reach the client as they are. A 502 or 504 after the request was")
	w("        # sent (a process died mid-request, a 600s read timeout) also goes")
	w("        # down the chain, so such a request may be replayed there.")
	w("        recursive_error_pages on;")
	w("        error_page 502 504 = %s;", nginxBusyLocation)
	w("")
	w("        # This unit's nginx is up; Synapse's own /health is per process.")
	w("        location = /health {")
	w("            access_log off;")
	w("            default_type text/plain;")
	w(`            return 200 "OK\n";`)
	w("        }")
	w("        # Never routed: replication and metrics have listeners of their own.")
	for _, prefix := range Unrouted {
		w("        location ^~ %s {", prefix)
		w("            return 404;")
		w("        }")
	}
	w("        # Backpressure: no server that may serve the request answered, so the")
	w("        # client is told to retry later, as Matrix clients do on a 429.")
	w("        location %s {", nginxBusyLocation)
	w("            default_type application/json;")
	w("            add_header Retry-After %d always;", nginxRetryAfter)
	w(`            return 429 '{"errcode":"M_LIMIT_EXCEEDED","error":"The server is busy: try again later","retry_after_ms":%d}';`, nginxRetryAfter*1000)
	w("        }")
	for _, p := range used {
		if !slices.ContainsFunc(used, func(q Pool) bool { return next(q) == "@"+upstreamName(p) }) {
			continue
		}
		w("        location @%s {", upstreamName(p))
		w("            proxy_pass http://%s;", upstreamName(p))
		if n := next(p); n != nginxBusyLocation {
			w("            error_page 502 504 = %s;", n)
		}
		w("        }")
	}
	for _, r := range Routes {
		t := r.Target(streams)
		target, fallback := upstreamName(t.Pool), next(t.Pool)
		switch {
		case len(t.Pools()) > 1:
			target, fallback = "$"+splitVar(t), "$"+splitVar(t)+"_next"
		case t.Pool == PoolMain:
			w("        # %s: main, like every path no row matches.", r.Doc)
			continue
		}
		w("        # %s", r.Doc)
		for _, path := range r.Paths {
			if strings.ContainsAny(path, `"\`) {
				return nil, fmt.Errorf("render nginx.conf: route %q cannot be quoted", path)
			}
			w(`        location ~ "%s" {`, path)
			w("            proxy_pass http://%s;", target)
			if fallback != nginxBusyLocation {
				w("            error_page 502 504 = %s;", fallback)
			}
			w("        }")
		}
	}
	w("        location / {")
	w("            proxy_pass http://%s;", upstreamName(PoolMain))
	w("        }")
	w("    }")
	w("")
	w("    # nginx's own counters, for the exporter in this container only.")
	w("    server {")
	w("        listen %s;", net.JoinHostPort(in.BindAddress, fmt.Sprint(NginxStatusPort)))
	w("        access_log off;")
	w("        allow %s;", in.BindAddress)
	w("        allow 127.0.0.1;")
	w("        allow ::1;")
	w("        deny all;")
	w("        location = /stub_status {")
	w("            stub_status;")
	w("        }")
	w("        location / {")
	w("            return 404;")
	w("        }")
	w("    }")
	w("}")
	return b.Bytes(), nil
}

func upstreamName(p Pool) string {
	return "synapse_" + strings.ReplaceAll(string(p), "-", "_")
}

// splitVar names the map of a two-pool target, e.g.
// synapse_by_method_generic_else_main.
func splitVar(t Target) string {
	by := strings.TrimPrefix(strings.TrimPrefix(t.Var, "$request_"), "$arg_")
	return "synapse_by_" + by + "_" + strings.TrimPrefix(upstreamName(t.When), "synapse_") + "_else_" + strings.TrimPrefix(upstreamName(t.Pool), "synapse_")
}

// RenderNginxContainer renders the synapse-nginx container: nginx.conf and
// a layer running nginx with its checks. A change of nginx.conf reloads
// nginx (SIGHUP, see Container.Reload); it never restarts it, so in-flight
// long-polls survive scaling.
func RenderNginxContainer(in NginxInput) (Container, error) {
	conf, err := RenderNginx(in)
	if err != nil {
		return Container{}, err
	}
	listen := hostPort(in.BindAddress, NginxPort)
	out := Container{
		Name:  NginxContainer,
		Files: []File{{Path: NginxConfigPath, Content: conf, Mode: 0o644}},
		Layer: Layer{
			Summary: "nginx, the request router of the synapse charm",
			Services: map[string]Service{
				NginxService: {
					Override: "replace",
					Summary:  "nginx routing requests to the Synapse processes of every unit",
					// daemon off is in nginx.conf; -e stderr before the
					// config is read, so a read-only /var/log works.
					Command:        NginxBinary + " -p " + NginxPrefix + " -e stderr -c " + NginxConfigPath,
					Startup:        "enabled",
					OnCheckFailure: map[string]string{NginxAliveCheck: "restart"},
				},
			},
			Checks: map[string]Check{
				NginxReadyCheck: {
					Override:  "replace",
					Level:     "ready",
					Period:    "5s",
					Timeout:   "3s",
					Threshold: 3,
					HTTP:      &HTTPCheck{URL: "http://" + listen + "/health"},
				},
				NginxAliveCheck: {
					Override:  "replace",
					Level:     "alive",
					Period:    "10s",
					Timeout:   "3s",
					Threshold: 3,
					TCP:       &TCPCheck{Port: NginxPort, Host: in.BindAddress},
				},
			},
		},
		ReadyChecks: []string{NginxReadyCheck},
		Reload:      map[string][]string{NginxService: {NginxConfigPath}},
		PruneDirs:   []string{NginxExporterDir},
	}
	if e := in.Exporter; e != nil {
		out.Executables = []Executable{*e}
		out.Layer.Services[NginxExporterService] = Service{
			Override: "replace",
			Summary:  "nginx's stub_status counters as Prometheus text",
			Command:  strings.Join(append([]string{e.Path, "nginx-exporter"}, nginxExporterArgs(in.BindAddress, NginxStatusPort)...), " "),
			Startup:  "enabled",
		}
	}
	return out, nil
}

// NginxExporterPort is where the nginx exporter (`dispatch nginx-exporter`)
// listens on the unit's address: the nginx-prometheus-exporter default.
const NginxExporterPort = 9113

// nginxExporterArgs are the exporter's command-line arguments for a unit
// address and the stub_status port.
func nginxExporterArgs(addr string, statusPort int) []string {
	return []string{
		"--listen", net.JoinHostPort(addr, strconv.Itoa(NginxExporterPort)),
		"--status-url", "http://" + net.JoinHostPort(addr, strconv.Itoa(statusPort)) + "/stub_status",
	}
}
