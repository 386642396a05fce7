package relations_test

// Fuzz targets for the parsers of the providers' relation bags. Run one
// with, e.g.:
//
//	go test -run XXX -fuzz FuzzParseDatabase -fuzztime 30s ./relations/
//
// Plain `go test` runs the f.Add seeds (bags as the real providers write
// them, see the relation contracts reference, plus known-bad bags) and every
// file under testdata/fuzz/<target>/.

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

// bag builds a relation bag from key/value pairs, leaving out empty values
// (relation-get never returns a key whose value is empty).
func bag(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// checkHost: a host the charm hands to a client library must be an IP
// address or a DNS name (RFC 1123 labels), not a path, a URL or garbage.
func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if h == "" || len(h) > 253 {
		return fmt.Errorf("host %q is empty or too long", h)
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q: label %q is not a DNS label", h, label)
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return fmt.Errorf("host %q is neither an IP address nor a DNS name", h)
			}
		}
	}
	return nil
}

// checkLine: values the charm writes into line-based files (the libpq
// passfile, boto3's INI credentials and config files) must not hold a line
// break or NUL, which would end the entry and start a forged one.
func checkLine(field, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%s %q holds a line break or NUL", field, v)
	}
	return nil
}

// checkPort: a TCP port.
func checkPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d is not a TCP port", p)
	}
	return nil
}

// checkHTTPURL: an absolute http(s) URL with a host and, if any, a TCP port.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme %q is not http(s)", s, u.Scheme)
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || checkPort(n) != nil {
			return fmt.Errorf("%q: port %q is not a TCP port", s, p)
		}
	}
	return nil
}

// checkHardError: an error that is not "not ready" names the bag key at
// fault, so the blocked status can tell the operator what is wrong.
func checkHardError(t *testing.T, err error, keys ...string) {
	t.Helper()
	if err == nil || errors.Is(err, relations.ErrNotReady) {
		return
	}
	for _, k := range keys {
		if strings.Contains(err.Error(), k) {
			return
		}
	}
	t.Errorf("error %q names none of the keys %v", err, keys)
}

func FuzzParseDatabase(f *testing.F) {
	// postgresql-k8s 14 and 16 with secrets (Juju >= 3.0.3).
	f.Add("postgresql-k8s-primary.prod.svc.cluster.local:5432", "", "", "synapse", "", "", "secret://0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/d0abcdefghijklmnopq0", "relation_id_7", "abcdefghijklmnop", true, "synapse")
	f.Add("postgresql-k8s-primary.prod.svc.cluster.local:5432", "", "", "synapse", "", "", "secret:d0abcdefghijklmnopq0", "relation_id_7", "abcdefghijklmnop", false, "synapse")
	// Plain credentials (no requested-secrets), TLS on, two endpoints, IPv6.
	f.Add("10.0.0.1:5433,10.0.0.2:5433", "u", "p", "", "True", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "", "", "", false, "synapse")
	f.Add("[fd00::1]:5432", "relation_id_3", "pw", "synapse", "False", "", "", "", "", false, "synapse")
	// Known-bad bags.
	f.Add("{not json", "u", "p", "", "", "", "", "", "", false, "synapse")
	f.Add("h:70000", "u", "p", "", "", "", "", "", "", false, "synapse")
	f.Add("h:0", "u", "p", "", "", "", "", "", "", false, "synapse")
	f.Add(":5432", "u", "p", "", "", "", "", "", "", false, "synapse")
	f.Add("h:1", "u", "p", "", "perhaps", "", "", "", "", false, "synapse")
	f.Add("", "u", "p", "", "", "", "", "", "", false, "synapse")
	f.Add("h:5432", "u", "", "", "", "", "", "", "", false, "synapse")
	f.Add("h:5432", "", "", "", "", "", "secret:x", "", "pw", true, "synapse")

	f.Fuzz(func(t *testing.T, endpoints, user, password, database, tls, tlsCA, secretURI, secretUser, secretPassword string, readable bool, requested string) {
		app := bag("endpoints", endpoints, "username", user, "password", password, "database", database,
			"tls", tls, "tls-ca", tlsCA, "secret-user", secretURI, "version", "14.12")
		var secret map[string]string
		if readable {
			secret = bag("username", secretUser, "password", secretPassword)
		}
		d, err := relations.ParseDatabase(app, secret, requested)
		if secretURI != "" && !relations.PlausibleSecretID(secretURI) {
			// Not a secret URI at all: malformed, not merely unready.
			if err == nil || errors.Is(err, relations.ErrNotReady) {
				t.Fatalf("secret-user %q: want a hard error, got %v", secretURI, err)
			}
			checkHardError(t, err, "endpoints", "tls", "username", "password", "database", "secret-user")
			return
		}
		wantUser, wantPassword := user, password
		if secretURI != "" {
			wantUser, wantPassword = secretUser, secretPassword
			if !readable {
				wantUser, wantPassword = "", ""
			}
		}
		if wantUser == "" || wantPassword == "" || endpoints == "" {
			if !errors.Is(err, relations.ErrNotReady) {
				t.Fatalf("incomplete bag %v: want ErrNotReady, got %v", app, err)
			}
			return
		}
		if err != nil {
			if d != nil {
				t.Errorf("error %v with a result", err)
			}
			if errors.Is(err, relations.ErrNotReady) {
				t.Errorf("complete bag %v is reported not ready", app)
			}
			checkHardError(t, err, "endpoints", "tls", "username", "password", "database", "secret-user")
			return
		}
		if d.User != wantUser || d.Password != wantPassword {
			t.Errorf("credentials %q/%q, want %q/%q", d.User, d.Password, wantUser, wantPassword)
		}
		if err := checkPort(d.Port); err != nil {
			t.Errorf("endpoints %q: %v", endpoints, err)
		}
		if err := checkHost(d.Host); err != nil {
			t.Errorf("endpoints %q: %v", endpoints, err)
		}
		wantName := requested
		if database != "" {
			wantName = database
		}
		if d.Name != wantName {
			t.Errorf("database %q, want %q", d.Name, wantName)
		}
		if b, err := strconv.ParseBool(strings.ToLower(tls)); tls != "" && (err != nil || b != d.TLS) || tls == "" && d.TLS {
			t.Errorf("tls %q read as %v", tls, d.TLS)
		}
		for field, v := range map[string]string{"host": d.Host, "user": d.User, "password": d.Password, "database": d.Name} {
			if err := checkLine(field, v); err != nil {
				t.Errorf("accepted for the passfile: %v", err)
			}
		}
	})
}

func FuzzParseRedis(f *testing.F) {
	// redis-k8s: the leader's app bag and each unit's bag.
	f.Add("redis-k8s-0.redis-k8s-endpoints.prod.svc.cluster.local", "", uint8(2), "10.1.77.12", "6379", "", "10.1.77.13", "6379", "")
	f.Add("", "", uint8(1), "10.1.77.12", "6379", "", "", "", "")
	f.Add("10.1.77.14", "", uint8(2), "10.1.77.12", "", "", "10.1.77.13", "6380", "")
	f.Add("", "hunter2", uint8(1), "fd00::12", "6379", "", "", "", "")
	// Known-bad bags.
	f.Add("", "", uint8(0), "", "", "", "", "", "")
	f.Add("10.0.0.1", "", uint8(0), "", "", "", "", "", "")
	f.Add("", "", uint8(1), "h", "sixty", "", "", "", "")
	f.Add("", "", uint8(1), "h", "0", "", "", "", "")
	f.Add("", "", uint8(1), "h", "65536", "", "", "", "")
	f.Add("bad host!", "", uint8(1), "", "6379", "", "", "", "")
	f.Add("", "", uint8(1), "", "6379", "", "", "", "")
	f.Add("redis://10.0.0.1:6379", "", uint8(1), "", "6379", "", "", "", "")

	f.Fuzz(func(t *testing.T, leaderHost, appPassword string, n uint8, host0, port0, pw0, host1, port1, pw1 string) {
		app := bag("leader-host", leaderHost, "password", appPassword)
		units := map[string]map[string]string{}
		if n%3 >= 1 {
			units["redis-k8s/0"] = bag("hostname", host0, "port", port0, "password", pw0)
		}
		if n%3 >= 2 {
			units["redis-k8s/1"] = bag("hostname", host1, "port", port1, "password", pw1)
		}
		r, err := relations.ParseRedis(app, units)
		r2, err2 := relations.ParseRedis(app, units)
		if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(r, r2) {
			t.Fatalf("not deterministic: %+v %v / %+v %v", r, err, r2, err2)
		}
		if len(units) == 0 {
			if !errors.Is(err, relations.ErrNotReady) {
				t.Fatalf("no redis unit: want ErrNotReady, got %+v %v", r, err)
			}
			return
		}
		if err != nil {
			checkHardError(t, err, "port", "host")
			return
		}
		if err := checkPort(r.Port); err != nil {
			t.Error(err)
		}
		if err := checkHost(r.Host); err != nil {
			t.Error(err)
		}
		wantHost := leaderHost
		for _, u := range []string{"redis-k8s/0", "redis-k8s/1"} {
			if wantHost == "" && units[u] != nil {
				wantHost = units[u]["hostname"]
			}
		}
		if r.Host != wantHost {
			t.Errorf("host %q, want %q (leader-host first, then the first unit's hostname)", r.Host, wantHost)
		}
	})
}

func FuzzParseS3(f *testing.F) {
	// s3-integrator track 1: plain keys, endpoint verbatim from its config.
	f.Add("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "synapse-media", "https://s3.eu-west-1.amazonaws.com", "eu-west-1", "synapse/media", "path", "4", "", "", "", false)
	f.Add("minio", "minio123", "media", "http://127.0.0.1:9000", "us-east-1", "", "host", "2", "", "", "", false)
	// Track 2: credentials in the secret-extra secret; scheme-less endpoint.
	f.Add("", "", "relation-7", "s3.example.com", "", "/prefix/", "", "", "secret://0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/d0s3secret", "AK", "SK", true)
	f.Add("", "", "b", "", "", "", "", "", "secret:d0s3secret", "AK", "SK", false)
	// Known-bad bags.
	f.Add("A", "S", "b", "ftp://x", "", "", "", "", "", "", "", false)
	f.Add("A", "S", "b", "https://", "", "", "", "", "", "", "", false)
	f.Add("A", "S", "b", "", "", "", "diagonal", "", "", "", "", false)
	f.Add("A", "S", "b", "", "", "", "", "four", "", "", "", false)
	f.Add("A", "S", "", "", "", "", "", "", "", "", "", false)
	f.Add("A", "", "b", "", "", "", "", "", "", "", "", false)

	f.Fuzz(func(t *testing.T, access, key, bucket, endpoint, region, path, style, apiVersion, secretURI, secretAccess, secretKey string, readable bool) {
		app := bag("access-key", access, "secret-key", key, "bucket", bucket, "endpoint", endpoint, "region", region,
			"path", path, "s3-uri-style", style, "s3-api-version", apiVersion, "secret-extra", secretURI, "lib-version", "1.0")
		var secret map[string]string
		if readable {
			secret = bag("access-key", secretAccess, "secret-key", secretKey)
		}
		s, err := relations.ParseS3(app, secret)
		if secretURI != "" && !relations.PlausibleSecretID(secretURI) {
			// Not a secret URI at all: malformed, not merely unready.
			if err == nil || errors.Is(err, relations.ErrNotReady) {
				t.Fatalf("secret-extra %q: want a hard error, got %v", secretURI, err)
			}
			checkHardError(t, err, "endpoint", "s3-uri-style", "s3-api-version", "access-key", "secret-key", "bucket", "region", "path", "secret-extra")
			return
		}
		wantAccess, wantKey := access, key
		if secretURI != "" {
			wantAccess, wantKey = secretAccess, secretKey
			if !readable {
				wantAccess, wantKey = "", ""
			}
		}
		if wantAccess == "" || wantKey == "" || bucket == "" {
			if !errors.Is(err, relations.ErrNotReady) {
				t.Fatalf("incomplete bag %v: want ErrNotReady, got %v", app, err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, relations.ErrNotReady) {
				t.Errorf("complete bag %v is reported not ready", app)
			}
			checkHardError(t, err, "endpoint", "s3-uri-style", "s3-api-version", "access-key", "secret-key", "bucket", "region", "path", "secret-extra")
			return
		}
		if s.AccessKey != wantAccess || s.SecretKey != wantKey || s.Bucket != bucket || s.Region != region {
			t.Errorf("got %+v from %v", s, app)
		}
		if s.Endpoint != "" {
			if err := checkHTTPURL(s.Endpoint); err != nil {
				t.Errorf("endpoint %q accepted as %v", endpoint, err)
			}
		} else if strings.TrimSpace(endpoint) != "" {
			t.Errorf("endpoint %q dropped", endpoint)
		}
		if s.Prefix != "" && (!strings.HasSuffix(s.Prefix, "/") || strings.HasPrefix(s.Prefix, "/")) {
			t.Errorf("prefix %q from path %q", s.Prefix, path)
		}
		if s.PathStyle != (style == "path") {
			t.Errorf("s3-uri-style %q read as path style %v", style, s.PathStyle)
		}
		for field, v := range map[string]string{"access-key": s.AccessKey, "secret-key": s.SecretKey, "region": s.Region} {
			if err := checkLine(field, v); err != nil {
				t.Errorf("accepted for boto3's INI files: %v", err)
			}
		}
	})
}

func FuzzParseUnitReport(f *testing.F) {
	f.Add("synapse-1.synapse-endpoints.prod.svc.cluster.local", "10.1.2.3", "4", "true", "1.160.0", "3", "3")
	f.Add("", "", "", "", "", "", "")
	f.Add("a", "fd00::1", "0", "False", "", "0", "")
	f.Add("a", "10.0.0.1", "x", "true", "", "", "")
	f.Add("a", "10.0.0.1", "-1", "true", "", "", "")
	f.Add("a", "10.0.0.1", "1", "yes", "", "", "")
	f.Add("a", "10.0.0.1", "99999999999999999999", "1", "", "", "")
	f.Fuzz(func(t *testing.T, address, ip, generation, ready, version, sendersStopped, sendersRunning string) {
		b := bag(relations.PeerKeyAddress, address, relations.PeerKeyIP, ip, relations.PeerKeyAppliedGeneration, generation,
			relations.PeerKeyReady, ready, relations.PeerKeySynapseVersion, version,
			relations.PeerKeySendersStopped, sendersStopped, relations.PeerKeySendersRunning, sendersRunning)
		r, err := relations.ParseUnitReport(b)
		// Callers use the report even with an error, so both must depend on
		// the bag only (not on map iteration order).
		for i := 0; i < 16; i++ {
			r2, err2 := relations.ParseUnitReport(b)
			if r2 != r || fmt.Sprint(err2) != fmt.Sprint(err) {
				t.Fatalf("not deterministic for %v:\n%+v, %v\n%+v, %v", b, r, err, r2, err2)
			}
		}
		if err != nil {
			checkHardError(t, err, relations.PeerKeyAppliedGeneration, relations.PeerKeyReady, relations.PeerKeySendersStopped, relations.PeerKeySendersRunning)
			return
		}
		if r.AppliedGeneration < 0 || r.SendersStopped < 0 || r.SendersRunning < 0 {
			t.Errorf("negative generation in %+v from %v", r, b)
		}
		if r.Address != address || r.IP != ip || r.SynapseVersion != version {
			t.Errorf("report %+v from %v", r, b)
		}
		back, err := relations.ParseUnitReport(r.Bag())
		if err != nil || back != r {
			t.Errorf("round trip: %+v -> %v -> %+v, %v", r, r.Bag(), back, err)
		}
	})
}

func FuzzParseIngressURL(f *testing.F) {
	// traefik-k8s, path and subdomain routing.
	f.Add(`{"url": "http://10.0.0.5/prod-synapse"}`)
	f.Add(`{"url": "https://prod-synapse.matrix.example.com/"}`)
	f.Add(`{"url":"https://matrix.example.com:8443/"}`)
	f.Add(``)
	// Known-bad values.
	f.Add(`not json`)
	f.Add(`"https://matrix.example.com/"`)
	f.Add(`{"url": ""}`)
	f.Add(`{"url": "matrix.example.com"}`)
	f.Add(`{"url": "ftp://matrix.example.com/"}`)
	f.Add(`{"url": 5}`)
	f.Add(`null`)
	f.Add(`{"url": "https://matrix.example.com/"} trailing`)
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := relations.ParseIngressURL(bag("ingress", raw))
		if err != nil {
			if got != "" {
				t.Errorf("error %v with URL %q", err, got)
			}
			checkHardError(t, err, "ingress")
			return
		}
		if raw == "" {
			if got != "" {
				t.Errorf("no ingress key, URL %q", got)
			}
			return
		}
		if got == "" {
			return
		}
		if err := checkHTTPURL(got); err != nil {
			t.Errorf("accepted ingress URL: %v", err)
		}
	})
}
