package workload

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	sizeValue   = regexp.MustCompile(`^[0-9]+[KMGkmg]?$`)
	processName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// nginx settings that do not depend on the input.
const (
	// nginxReadTimeout covers a /sync long-poll and a slow room join.
	nginxReadTimeout = "600s"
	// nginxConnectTimeout bounds the wait on a unit that vanished without
	// refusing connections, before the next server or main is tried.
	nginxConnectTimeout = "5s"
)

// RenderNginx renders nginx.conf: one upstream per pool with the processes
// of every unit, one location per routing table row, main for everything
// else. The output depends only on the input (processes are sorted).
func RenderNginx(in NginxInput) ([]byte, error) {
	if net.ParseIP(in.BindAddress) == nil {
		return nil, fmt.Errorf("render nginx.conf: bind address %q is not an IP address", in.BindAddress)
	}
	if !sizeValue.MatchString(in.MaxUploadSize) {
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
		if !processName.MatchString(p.Name) {
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

	members := func(spec PoolSpec) []NginxProcess {
		var out []NginxProcess
		for _, p := range procs {
			if p.Role == RoleMain {
				continue
			}
			if spec.Role != "" && p.Role == spec.Role {
				out = append(out, p)
			}
			if rs, _ := Spec(p.Role); spec.Stream != "" && slices.Contains(rs.Streams, spec.Stream) {
				out = append(out, p)
			}
		}
		return out
	}

	// Pools in first use order, main first.
	used := []Pool{PoolMain}
	use := func(p Pool) {
		if p != "" && !slices.Contains(used, p) {
			used = append(used, p)
		}
	}
	for _, r := range Routes {
		_, pool, other := r.Targets(streams)
		use(pool)
		use(other)
	}
	specs := map[Pool]PoolSpec{}
	servers := map[Pool][]NginxProcess{}
	for _, p := range used {
		spec, ok := SpecOf(p)
		if !ok {
			return nil, fmt.Errorf("render nginx.conf: routing table names unknown pool %q", p)
		}
		specs[p] = spec
		if p == PoolMain {
			servers[p] = []NginxProcess{*mainProc}
		} else {
			servers[p] = members(spec)
		}
	}
	// fallsBack: a request to the pool goes to main when no server answers.
	fallsBack := func(p Pool) bool {
		return p != "" && p != PoolMain && specs[p].FallbackToMain && len(servers[p]) > 0
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

	// Method maps of the rows whose methods go to different pools.
	type split struct{ pool, other Pool }
	var splits []split
	for _, r := range Routes {
		methods, pool, other := r.Targets(streams)
		if methods == nil || pool == other {
			continue
		}
		if s := (split{pool, other}); !slices.Contains(splits, s) {
			splits = append(splits, s)
			w("    map $request_method $%s {", splitVar(pool, other))
			for _, m := range methods {
				w("        %s %s;", m, upstreamName(pool))
			}
			w("        default %s;", upstreamName(other))
			w("    }")
		}
	}
	w("")
	w("    # Pools: the processes of every unit. An empty pool holds main.")
	for _, p := range used {
		spec := specs[p]
		list := servers[p]
		w("    upstream %s {", upstreamName(p))
		switch {
		case len(list) == 0:
			w("        # No process in the pool: main serves it.")
			list = []NginxProcess{*mainProc}
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
	w("        # When a pool has no server that answers, main serves the request.")
	w("        location @synapse_main {")
	w("            proxy_pass http://%s;", upstreamName(PoolMain))
	w("        }")
	for _, r := range Routes {
		methods, pool, other := r.Targets(streams)
		target := upstreamName(pool)
		switch {
		case methods != nil && pool != other:
			target = "$" + splitVar(pool, other)
		case pool == PoolMain:
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
			if fallsBack(pool) || fallsBack(other) {
				w("            error_page 502 503 504 = @synapse_main;")
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

func splitVar(pool, other Pool) string {
	return upstreamName(pool) + "_else_" + strings.TrimPrefix(upstreamName(other), "synapse_")
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
