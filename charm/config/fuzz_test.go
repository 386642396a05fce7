package config_test

// Fuzz targets for config.Parse, the parser of the operator's Juju
// configuration. Run one with, e.g.:
//
//	go test -run XXX -fuzz FuzzParseOption -fuzztime 30s ./charm/config/
//
// Plain `go test` runs the f.Add seeds and every file under
// testdata/fuzz/<target>/ (inputs that once broke a property).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// fuzzOptions are the options of charmcraft.yaml, in its order.
var fuzzOptions = []string{
	"server_name",
	"public_baseurl",
	"report_stats",
	"enable_password_config",
	"enable_room_list_search",
	"allow_public_rooms_over_federation",
	"block_non_admin_invites",
	"enable_email_notifs",
	"notif_from",
	"enable_mjolnir",
	"federation_domain_whitelist",
	"ip_range_whitelist",
	"trusted_key_servers",
	"invite_checker_blocklist_allowlist_url",
	"invite_checker_policy_rooms",
	"limit_remote_rooms_complexity",
	"rc_joins_remote_burst_count",
	"rc_joins_remote_per_second",
	"publish_rooms_allowlist",
	"experimental_alive_check",
	"backup_passphrase",
	"workers_ignore_list",
	"workers_preset",
	"worker_counts",
	"event_persisters",
	"federation_senders",
	"pushers",
	"keep_singletons_on_main",
	"max_processes_per_unit",
	"max_upload_size",
	"rate_limiting_level",
	"experimental_extract_background_tasks",
	"enable_media_sync_cleanup",
	"enable_draupnir",
}

// Value kinds FuzzParseOption gives an option: config-get types values as
// bool, string, int or float64 (juju.Tools.ConfigGet), and an unset option
// is absent or null.
const (
	kindString = iota
	kindFloat
	kindInt
	kindBool
	kindNull
	kindList
	kindCount
)

// FuzzParseOption sets one option, with a fuzzed value of a fuzzed type, on
// top of a valid configuration. Properties: Parse never panics and is
// deterministic; an error is a *config.Error naming exactly that option; an
// accepted configuration satisfies checkConfig.
func FuzzParseOption(f *testing.F) {
	add := func(option string, kind uint8, s string, n float64, b bool) {
		for i, o := range fuzzOptions {
			if o == option {
				f.Add(uint8(i), kind, s, n, b)
				return
			}
		}
		panic("unknown option " + option)
	}
	// Good values, as operators write them.
	add("server_name", kindString, "matrix.example.com", 0, false)
	add("server_name", kindString, "example.com:8448", 0, false)
	add("server_name", kindString, "10.1.2.3", 0, false)
	add("server_name", kindString, "[fd00::1]:8448", 0, false)
	add("public_baseurl", kindString, "https://matrix.example.com", 0, false)
	add("public_baseurl", kindString, "http://10.0.0.1:8080/synapse/", 0, false)
	add("report_stats", kindBool, "", 0, true)
	add("enable_password_config", kindString, "false", 0, false)
	add("notif_from", kindString, "Matrix <noreply@example.com>", 0, false)
	add("federation_domain_whitelist", kindString, "a.org, b.org", 0, false)
	add("ip_range_whitelist", kindString, "10.0.0.0/8,192.168.1.1,fd00::/8", 0, false)
	add("trusted_key_servers", kindString, "matrix.org,example.com:8448", 0, false)
	add("invite_checker_blocklist_allowlist_url", kindString, "https://example.com/list.json", 0, false)
	add("invite_checker_policy_rooms", kindString, "abc:example.org,!def:example.org", 0, false)
	add("limit_remote_rooms_complexity", kindFloat, "", 1.5, false)
	add("rc_joins_remote_burst_count", kindInt, "", 20, false)
	add("rc_joins_remote_per_second", kindFloat, "", 0.01, false)
	add("publish_rooms_allowlist", kindString, "alice:example.org,@bob:example.org", 0, false)
	add("experimental_alive_check", kindString, "1m,3,10s", 0, false)
	add("backup_passphrase", kindString, "correct horse battery staple", 0, false)
	add("workers_ignore_list", kindString, "generic-1,pusher-2", 0, false)
	add("event_persisters", kindInt, "", 2, false)
	add("federation_senders", kindInt, "", 16, false)
	add("pushers", kindString, "3", 0, false)
	add("keep_singletons_on_main", kindBool, "", 0, true)
	add("max_processes_per_unit", kindInt, "", 64, false)
	add("max_upload_size", kindString, "100M", 0, false)
	add("max_upload_size", kindString, "1G", 0, false)
	add("rate_limiting_level", kindString, "permissive", 0, false)
	add("experimental_extract_background_tasks", kindBool, "", 0, true)
	add("enable_media_sync_cleanup", kindBool, "", 0, true)
	add("enable_draupnir", kindString, "true", 0, false)
	add("rate_limiting_level", kindString, "fast", 0, false)
	// Known-bad values (the bad input table and their neighbours).
	add("server_name", kindString, "", 0, false)
	add("server_name", kindString, "exa mple.com", 0, false)
	add("server_name", kindString, "example.com:99999", 0, false)
	add("server_name", kindString, "example.com:0", 0, false)
	add("server_name", kindString, "[::1", 0, false)
	add("server_name", kindFloat, "", 42, false)
	add("server_name", kindNull, "", 0, false)
	add("public_baseurl", kindString, "matrix.example.com", 0, false)
	add("public_baseurl", kindString, "ftp://matrix.example.com/", 0, false)
	add("public_baseurl", kindString, "https://", 0, false)
	add("ip_range_whitelist", kindString, "10.0.0.0/33", 0, false)
	add("federation_domain_whitelist", kindString, "a.org,,b.org", 0, false)
	add("federation_domain_whitelist", kindString, "a.org,", 0, false)
	add("trusted_key_servers", kindString, "not a host", 0, false)
	add("invite_checker_policy_rooms", kindString, "no-domain", 0, false)
	add("limit_remote_rooms_complexity", kindFloat, "", -1, false)
	add("limit_remote_rooms_complexity", kindString, "lots", 0, false)
	add("rc_joins_remote_burst_count", kindInt, "", -1, false)
	add("rc_joins_remote_burst_count", kindFloat, "", 1e300, false)
	add("rc_joins_remote_per_second", kindFloat, "", -0.5, false)
	add("experimental_alive_check", kindString, "2m,five,20s", 0, false)
	add("experimental_alive_check", kindString, "10s,3,20s", 0, false)
	add("experimental_alive_check", kindString, "2m,5", 0, false)
	add("event_persisters", kindInt, "", -1, false)
	add("federation_senders", kindInt, "", 17, false)
	add("pushers", kindFloat, "", 1.5, false)
	add("max_processes_per_unit", kindInt, "", 0, false)
	add("max_processes_per_unit", kindString, "many", 0, false)
	add("max_upload_size", kindString, "50 MB", 0, false)
	add("max_upload_size", kindString, "0", 0, false)
	add("max_upload_size", kindString, "-5M", 0, false)
	add("report_stats", kindString, "maybe", 0, false)
	add("keep_singletons_on_main", kindInt, "", 1, false)
	add("workers_ignore_list", kindString, "Generic 1", 0, false)
	add("workers_ignore_list", kindList, "", 0, false)

	f.Fuzz(func(t *testing.T, idx, kind uint8, s string, n float64, b bool) {
		option := fuzzOptions[int(idx)%len(fuzzOptions)]
		raw := map[string]any{"server_name": "example.com"}
		switch kind % kindCount {
		case kindString:
			raw[option] = s
		case kindFloat:
			raw[option] = n
		case kindInt:
			if math.IsNaN(n) || n >= math.MaxInt64 || n < math.MinInt64 {
				t.Skip()
			}
			raw[option] = int(n)
		case kindBool:
			raw[option] = b
		case kindNull:
			raw[option] = nil
		case kindList:
			raw[option] = []any{s}
		}
		c, err := parseTwice(t, raw)
		if err != nil {
			var cfgErr *config.Error
			if !errors.As(err, &cfgErr) {
				t.Fatalf("error %v is a %T, not a *config.Error", err, err)
			}
			for _, o := range cfgErr.Options() {
				if o != option {
					t.Errorf("setting %s = %#v gave a problem for %s: %v", option, raw[option], o, err)
				}
			}
			return
		}
		checkConfig(t, c)
	})
}

// FuzzParse reads a whole configuration as config-get prints it, through
// juju.Tools.ConfigGet (so values are typed exactly as in a hook), and
// checks the same properties; every problem names a real option.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"server_name":"example.com"}`))
	f.Add([]byte(`{"server_name":"matrix.example.org:8448","public_baseurl":"https://matrix.example.org","federation_domain_whitelist":"a.org, b.org","ip_range_whitelist":"10.0.0.0/8,192.168.1.1","trusted_key_servers":"matrix.org","invite_checker_policy_rooms":"abc:example.org,!def:example.org","publish_rooms_allowlist":"alice:example.org","limit_remote_rooms_complexity":1.5,"rc_joins_remote_burst_count":20,"rc_joins_remote_per_second":0.5,"experimental_alive_check":"1m,3,10s","event_persisters":2,"federation_senders":3,"pushers":2,"keep_singletons_on_main":true,"max_processes_per_unit":8,"max_upload_size":"1G","report_stats":true,"enable_email_notifs":false,"notif_from":"noreply@example.org","enable_mjolnir":true,"workers_ignore_list":"generic-1","backup_passphrase":"pw","invite_checker_blocklist_allowlist_url":"https://example.org/x"}`))
	// config-get with every default of charmcraft.yaml.
	f.Add([]byte(`{"allow_public_rooms_over_federation":false,"block_non_admin_invites":false,"enable_email_notifs":false,"enable_mjolnir":false,"enable_password_config":true,"enable_room_list_search":true,"event_persisters":0,"experimental_alive_check":"2m,5,20s","federation_senders":1,"keep_singletons_on_main":false,"max_processes_per_unit":4,"max_upload_size":"50M","pushers":1,"rc_joins_remote_burst_count":10,"rc_joins_remote_per_second":0.01,"report_stats":false,"server_name":"example.com"}`))
	// Known-bad documents.
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"server_name":""}`))
	f.Add([]byte(`{"server_name":"e.com","pushers":-1,"public_baseurl":"ftp://x","federation_senders":1e400}`))
	f.Add([]byte(`{"server_name":["e.com"],"report_stats":{"a":1},"event_persisters":"2"}`))
	f.Add([]byte(`{"server_name":"e.com","max_processes_per_unit":9223372036854775807}`))
	f.Add([]byte(`{"server_name":"e.com","rc_joins_remote_burst_count":1.0e2}`))
	f.Add([]byte(`{"server_name":`))
	f.Add([]byte(`[1,2,3]`))

	known := map[string]bool{}
	for _, o := range fuzzOptions {
		known[o] = true
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		tools := juju.New(fuzzRunner(out))
		raw, err := tools.ConfigGet(context.Background())
		if err != nil {
			return
		}
		c, err := parseTwice(t, raw)
		if err != nil {
			var cfgErr *config.Error
			if !errors.As(err, &cfgErr) || len(cfgErr.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a *config.Error with problems", err, err)
			}
			for _, p := range cfgErr.Problems {
				if !known[p.Option] || p.Reason == "" {
					t.Errorf("problem %+v does not name an option with a reason", p)
				}
				if !strings.Contains(err.Error(), p.Option) {
					t.Errorf("message %q does not name %s", err, p.Option)
				}
			}
			return
		}
		checkConfig(t, c)
	})
}

type fuzzRunner []byte

func (r fuzzRunner) Run(context.Context, string, []string, []byte) ([]byte, error) {
	return r, nil
}

// parseTwice parses a deep copy of raw twice: Parse must not change its
// input, and gives the same result both times.
func parseTwice(t *testing.T, raw map[string]any) (config.Config, error) {
	t.Helper()
	before := fmt.Sprintf("%#v", raw)
	c1, err1 := config.Parse(raw)
	c2, err2 := config.Parse(raw)
	if after := fmt.Sprintf("%#v", raw); after != before {
		t.Fatalf("Parse changed its input:\n%s\n%s", before, after)
	}
	if fmt.Sprint(err1) != fmt.Sprint(err2) || !sameConfig(c1, c2) {
		t.Fatalf("Parse is not deterministic:\n%#v %v\n%#v %v", c1, err1, c2, err2)
	}
	return c1, err1
}

// sameConfig compares two results; NaN equals NaN here, so that the
// determinism check does not hide the finiteness one.
func sameConfig(a, b config.Config) bool {
	show := func(c config.Config) string {
		limit := "unset"
		if c.LimitRemoteRoomsComplexity != nil {
			limit = fmt.Sprint(*c.LimitRemoteRoomsComplexity)
		}
		c.LimitRemoteRoomsComplexity = nil
		return fmt.Sprintf("%#v limit=%s", c, limit)
	}
	return show(a) == show(b)
}

var (
	// Synapse's VALID_HOST_REGEX (synapse/util/stringutils.py).
	synapseHostRE = regexp.MustCompile(`^[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*$`)
	dnsLabelRE    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	workerNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// checkServerName is an oracle independent of the charm's code: the Matrix
// specification's grammar (appendices, "Server Name": hostname [":" port],
// an IPv6 literal in brackets, port = 1*5DIGIT) and what Synapse's
// parse_and_validate_server_name accepts.
func checkServerName(s string) error {
	host, port, hasPort := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return errors.New("unclosed IPv6 literal")
		}
		host = s[:end+1]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' {
				return errors.New("junk after the IPv6 literal")
			}
			port, hasPort = rest[1:], true
		}
		inner := host[1 : len(host)-1]
		if ip := net.ParseIP(inner); ip == nil || !strings.Contains(inner, ":") {
			return fmt.Errorf("%q is not an IPv6 address", inner)
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port, hasPort = s[:i], s[i+1:], true
		}
		if strings.Contains(host, ":") {
			return fmt.Errorf("host %q: an IPv6 literal must be in brackets (Synapse splits it at the last colon)", host)
		}
		if len(host) == 0 || len(host) > 255 || !synapseHostRE.MatchString(host) {
			return fmt.Errorf("host %q is not a DNS name or IPv4 address", host)
		}
	}
	if hasPort {
		if len(port) < 1 || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return fmt.Errorf("port %q is not 1 to 5 digits", port)
		}
		if n, _ := strconv.Atoi(port); n < 1 || n > 65535 {
			return fmt.Errorf("port %s is not a TCP port", port)
		}
	}
	return nil
}

// checkBaseURL: a public base URL Synapse and clients can append paths to.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q is not http(s)", u.Scheme)
	case u.Hostname() == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("has user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("has a query or fragment, so appended paths end up in it")
	case !strings.HasSuffix(s, "/"):
		return errors.New("does not end in /")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a TCP port", p)
		}
	}
	return nil
}

// checkSize: max_upload_size must be read the same by Synapse (parse_size:
// digits and an upper-case K, M, G or T) and by nginx (client_max_body_size,
// which refuses a size above its off_t maximum, 2^63-1 bytes).
func checkSize(s string) error {
	scale := int64(1)
	digits := s
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			scale, digits = 1<<10, s[:len(s)-1]
		case 'M':
			scale, digits = 1<<20, s[:len(s)-1]
		case 'G':
			scale, digits = 1<<30, s[:len(s)-1]
		}
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return fmt.Errorf("%q is not digits with an optional K, M or G", s)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/scale {
		return fmt.Errorf("%q is more than nginx's limit of 2^63-1 bytes: nginx refuses the configuration", s)
	}
	if n == 0 {
		return fmt.Errorf("%q is zero (nginx reads 0 as unlimited)", s)
	}
	return nil
}

// checkConfig states what an accepted configuration guarantees to the code
// that renders it.
func checkConfig(t *testing.T, c config.Config) {
	t.Helper()
	if c.ServerName == "" {
		t.Errorf("accepted an empty server_name")
	} else if err := checkServerName(c.ServerName); err != nil {
		t.Errorf("accepted server_name %q: %v", c.ServerName, err)
	}
	if c.PublicBaseURL != "" {
		if err := checkBaseURL(c.PublicBaseURL); err != nil {
			t.Errorf("accepted public_baseurl, normalised to %q: %v", c.PublicBaseURL, err)
		}
	}
	for name, v := range map[string]int{"event_persisters": c.EventPersisters, "federation_senders": c.FederationSenders, "pushers": c.Pushers} {
		if v < config.FromPreset || v > config.MaxRoleCount {
			t.Errorf("accepted %s = %d, outside -1..16", name, v)
		}
	}
	if !slices.Contains(config.Presets, c.WorkersPreset) {
		t.Errorf("accepted workers_preset %q", c.WorkersPreset)
	}
	for role, n := range c.WorkerCounts {
		if limit, ok := config.WorkerRoles[role]; !ok || n < 0 || n > limit {
			t.Errorf("accepted worker_counts %s=%d", role, n)
		}
	}
	if c.MaxProcessesPerUnit < 1 || c.MaxProcessesPerUnit > 64 {
		t.Errorf("accepted max_processes_per_unit = %d, outside 1..64", c.MaxProcessesPerUnit)
	}
	if c.RCJoinsRemoteBurstCount < 0 {
		t.Errorf("accepted rc_joins_remote_burst_count = %d", c.RCJoinsRemoteBurstCount)
	}
	if v := c.RCJoinsRemotePerSecond; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("accepted rc_joins_remote_per_second = %v: not a finite, non-negative number", v)
	}
	if p := c.LimitRemoteRoomsComplexity; p != nil && (*p <= 0 || math.IsNaN(*p) || math.IsInf(*p, 0)) {
		t.Errorf("accepted limit_remote_rooms_complexity = %v: not a finite, positive number", *p)
	}
	if a := c.AliveCheck; a.Period <= 0 || a.Threshold < 1 || a.Timeout <= 0 || a.Timeout >= a.Period {
		t.Errorf("accepted experimental_alive_check %+v", a)
	}
	if err := checkSize(c.MaxUploadSize); err != nil {
		t.Errorf("accepted max_upload_size: %v", err)
	}
	lists := map[string][]string{
		"federation_domain_whitelist": c.FederationDomainWhitelist,
		"ip_range_whitelist":          c.IPRangeWhitelist,
		"trusted_key_servers":         c.TrustedKeyServers,
		"invite_checker_policy_rooms": c.InviteCheckerPolicyRooms,
		"publish_rooms_allowlist":     c.PublishRoomsAllowlist,
		"workers_ignore_list":         c.WorkersIgnoreList,
	}
	for name, items := range lists {
		for _, item := range items {
			if item == "" || item != strings.TrimSpace(item) || strings.ContainsAny(item, ",\n\r\x00") {
				t.Errorf("accepted %s item %q: empty, padded or not split", name, item)
			}
		}
	}
	for _, d := range c.FederationDomainWhitelist {
		for _, label := range strings.Split(d, ".") {
			if !dnsLabelRE.MatchString(label) {
				t.Errorf("accepted federation_domain_whitelist item %q: label %q is not a DNS label", d, label)
			}
		}
	}
	for _, r := range c.IPRangeWhitelist {
		if _, _, err := net.ParseCIDR(r); err != nil && net.ParseIP(r) == nil {
			t.Errorf("accepted ip_range_whitelist item %q", r)
		}
	}
	for _, s := range c.TrustedKeyServers {
		if err := checkServerName(s); err != nil {
			t.Errorf("accepted trusted_key_servers item %q: %v", s, err)
		}
	}
	for _, r := range c.InviteCheckerPolicyRooms {
		if !strings.HasPrefix(r, "!") || strings.HasPrefix(r, "!!") || !strings.Contains(r, ":") {
			t.Errorf("accepted invite_checker_policy_rooms item %q: not a room ID", r)
		}
	}
	for _, w := range c.WorkersIgnoreList {
		if !workerNameRE.MatchString(w) {
			t.Errorf("accepted workers_ignore_list item %q", w)
		}
	}
	if u := c.InviteCheckerBlocklistAllowlistURL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" || pu.Host == "" {
			t.Errorf("accepted invite_checker_blocklist_allowlist_url %q", u)
		}
	}
}
