package relations

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// redis (redis-k8s, charms.redis_k8s.v0.redis): the requirer writes nothing.

// Redis is the Redis server to use.
type Redis struct {
	Host string
	Port int
	// Password is empty: redis-k8s turns auth off for this interface, but a
	// provider that sends one is honoured.
	Password string
}

// ParseRedis reads the provider's bags. The app bag's leader-host (the
// master, also after a failover) wins over a unit's hostname, which may be a
// replica; the port comes from any unit bag that has one.
func ParseRedis(app map[string]string, units map[string]map[string]string) (*Redis, error) {
	names := make([]string, 0, len(units))
	for name := range units {
		names = append(names, name)
	}
	sort.Strings(names)
	host := app["leader-host"]
	port := 0
	password := app["password"]
	for _, name := range names {
		bag := units[name]
		if host == "" {
			host = bag["hostname"]
		}
		if port == 0 && bag["port"] != "" {
			p, err := strconv.Atoi(bag["port"])
			if err != nil || p < 1 || p > 65535 {
				return nil, fmt.Errorf("port %q of %s is not a TCP port", bag["port"], name)
			}
			port = p
		}
		if password == "" {
			password = bag["password"]
		}
	}
	if host == "" || len(units) == 0 {
		// The port comes only from a unit bag: before any redis unit has
		// joined, a leader-host alone would render the wrong port.
		return nil, ErrNotReady
	}
	if port == 0 {
		port = 6379
	}
	if !validHostOrIP(host) {
		return nil, fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return &Redis{Host: host, Port: port, Password: password}, nil
}

// validHost reports whether h is a DNS name: dot-separated labels of 1 to
// 63 letters, digits and inner hyphens.
func validHost(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// validHostOrIP accepts an IP address or a DNS name.
func validHostOrIP(h string) bool {
	return net.ParseIP(h) != nil || validHost(h)
}

// controlIn names the first key (in sorted order) whose value holds CR, LF
// or NUL, which would break the line-based files (pgpass, boto3 INI) these
// values are written to; "" when none does.
func controlIn(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.ContainsAny(values[k], "\r\n\x00") {
			return k
		}
	}
	return ""
}

// validHTTPURL checks an absolute http(s) URL with a host and a valid port.
func validHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}
