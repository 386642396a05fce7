// Package config turns the charm's Juju configuration into validated, typed
// settings. Every problem names the option, so the status can tell the
// operator exactly what to fix.
package config

import (
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/internal/lazyre"
)

// Config holds the validated charm configuration. Option names follow the
// Python synapse charm so that a model can switch charms unchanged.
type Config struct {
	// ServerName is Synapse's server_name; it cannot change after the first start.
	ServerName string
	// PublicBaseURL is public_baseurl; empty means "derive it" (ingress or https://server_name/).
	PublicBaseURL string

	// SAMLAllowInsecureMetadataURL lets Synapse fetch the IdP's metadata
	// over plain http (saml_allow_insecure_metadata_url).
	SAMLAllowInsecureMetadataURL bool

	ReportStats                    bool
	EnablePasswordConfig           bool
	EnableRoomListSearch           bool
	AllowPublicRoomsOverFederation bool
	BlockNonAdminInvites           bool
	EnableEmailNotifs              bool
	NotifFrom                      string
	EnableMjolnir                  bool
	// EnableDraupnir asks for the Draupnir moderation bot, which this
	// charm does not run: it blocks naming why (see charm/decide).
	EnableDraupnir bool
	// EnableMediaSyncCleanup asks for the Python charm's s3_media_upload
	// run after create-backup; charm/decide blocks when it cannot happen.
	EnableMediaSyncCleanup bool
	// RateLimitingLevel is one of RateLimitingLevels.
	RateLimitingLevel string
	// ExtractBackgroundTasks puts background tasks on their own worker
	// (worker_counts background=1) whatever the preset or
	// keep_singletons_on_main say.
	ExtractBackgroundTasks bool

	// FederationDomainWhitelist is empty when federation is open to all.
	FederationDomainWhitelist []string
	// IPRangeWhitelist lists CIDRs Synapse may contact despite the blacklist.
	IPRangeWhitelist []string
	// TrustedProxies are the CIDR ranges of the proxies in front of nginx
	// (the ingress) whose X-Forwarded-For names the client; an address
	// alone becomes a /32 or /128. Empty trusts no forwarded header.
	TrustedProxies []string
	// TrustedKeyServers is nil when unset (Synapse's default, matrix.org).
	TrustedKeyServers []string

	InviteCheckerBlocklistAllowlistURL string
	InviteCheckerPolicyRooms           []string

	// LimitRemoteRoomsComplexity is nil when unset.
	LimitRemoteRoomsComplexity *float64
	RCJoinsRemoteBurstCount    int
	RCJoinsRemotePerSecond     float64
	// PublishRoomsAllowlist holds user IDs (user:domain) allowed to publish rooms.
	PublishRoomsAllowlist []string

	// AliveCheck is the Pebble alive check timing from experimental_alive_check.
	AliveCheck AliveCheck

	BackupPassphrase  string
	WorkersIgnoreList []string

	// Topology options, additions of this charm.
	//
	// WorkersPreset names the preset that gives each role its count at
	// each cluster size (one of Presets).
	WorkersPreset string
	// EventPersisters, FederationSenders and Pushers are the raw options:
	// -1 follows the preset. WorkerCounts already holds the ones set.
	EventPersisters   int
	FederationSenders int
	Pushers           int
	// WorkerCounts are the roles whose count the operator set, from
	// worker_counts and the three options above: role -> slots.
	WorkerCounts         map[string]int
	KeepSingletonsOnMain bool
	MaxProcessesPerUnit  int

	// MaxUploadSize is Synapse's max_upload_size and nginx's client_max_body_size, e.g. "50M".
	MaxUploadSize string
}

// AliveCheck is the timing of the Pebble alive check.
type AliveCheck struct {
	Period    time.Duration
	Threshold int
	Timeout   time.Duration
}

// Error lists every invalid option with its problem.
type Error struct {
	Problems []Problem
}

// Problem is one invalid option.
type Problem struct {
	Option string
	Reason string
}

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		parts = append(parts, p.Option+" "+p.Reason)
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// Options returns the names of the invalid options, sorted.
func (e *Error) Options() []string {
	names := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		names = append(names, p.Option)
	}
	sort.Strings(names)
	return names
}

// Defaults are the values used when an option is absent from config-get, as
// declared in charmcraft.yaml.
var defaults = map[string]any{
	"report_stats":                          false,
	"enable_password_config":                true,
	"saml_allow_insecure_metadata_url":      false,
	"enable_room_list_search":               true,
	"allow_public_rooms_over_federation":    false,
	"block_non_admin_invites":               false,
	"enable_email_notifs":                   false,
	"enable_mjolnir":                        false,
	"enable_draupnir":                       false,
	"enable_media_sync_cleanup":             false,
	"rate_limiting_level":                   RateLimitDefault,
	"experimental_extract_background_tasks": false,
	"rc_joins_remote_burst_count":           10,
	"rc_joins_remote_per_second":            0.01,
	"experimental_alive_check":              "2m,5,20s",
	"workers_preset":                        PresetBalanced,
	"worker_counts":                         "",
	"event_persisters":                      FromPreset,
	"federation_senders":                    FromPreset,
	"pushers":                               FromPreset,
	"keep_singletons_on_main":               false,
	"max_processes_per_unit":                4,
	"max_upload_size":                       "50M",
}

// The presets of workers_preset; charm/topology holds what each runs.
const (
	PresetMinimal   = "minimal"
	PresetBalanced  = "balanced"
	PresetOneOfEach = "one-of-each"
)

// Presets are the values workers_preset accepts.
var Presets = []string{PresetMinimal, PresetBalanced, PresetOneOfEach}

// The levels of rate_limiting_level (the Python charm's presets).
const (
	RateLimitDefault    = "default"
	RateLimitPermissive = "permissive"
	RateLimitUnlimited  = "unlimited"
)

// RateLimitingLevels are the values rate_limiting_level accepts.
var RateLimitingLevels = []string{RateLimitDefault, RateLimitPermissive, RateLimitUnlimited}

// BackgroundRole is the worker role experimental_extract_background_tasks
// moves off the main (workload.RoleBackground's name).
const BackgroundRole = "background"

// FromPreset is the value of a count option that follows the preset.
const FromPreset = -1

// MaxRoleCount bounds every per-role count.
const MaxRoleCount = 16

// WorkerRoles are the roles worker_counts accepts, with the most slots
// each may have. charm/topology fills it from the role table
// (workload.Roles) when it loads: config cannot import that table, because
// the workload renderer imports config.
var WorkerRoles = map[string]int{}

// countOptions are the per-role count options older than worker_counts,
// with the role each sets.
var countOptions = []struct {
	option, role string
	field        func(*Config) *int
}{
	{"event_persisters", "event-persister", func(c *Config) *int { return &c.EventPersisters }},
	{"federation_senders", "federation-sender", func(c *Config) *int { return &c.FederationSenders }},
	{"pushers", "pusher", func(c *Config) *int { return &c.Pushers }},
}

var (
	hostnameRE   = lazyre.New(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	roomIDRE     = lazyre.New(`^!?[A-Za-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:[0-9]+)?$`)
	userDomainRE = lazyre.New(`^@?[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:[0-9]+)?$`)
	sizeRE       = lazyre.New(`^[1-9][0-9]*[KMG]?$`)
	workerNameRE = lazyre.New(`^[a-z0-9][a-z0-9-]*$`)
)

// Parse validates raw config-get output. It collects every problem instead
// of stopping at the first, so one status names all fields to fix.
func Parse(raw map[string]any) (Config, error) {
	p := parser{raw: raw}
	var c Config

	c.ServerName = p.str("server_name")
	switch {
	case c.ServerName == "":
		p.fail("server_name", "must be set (the domain of your Matrix IDs, e.g. example.com)")
	case !validServerName(c.ServerName):
		p.fail("server_name", fmt.Sprintf("%q is not a valid host name", c.ServerName))
	}
	c.PublicBaseURL = p.str("public_baseurl")
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
			u.User != nil || strings.ContainsAny(c.PublicBaseURL, "?#") || (u.Port() != "" && !validPort(u.Port())) {
			p.fail("public_baseurl", fmt.Sprintf("%q must be an absolute http(s) URL such as https://matrix.example.com/", c.PublicBaseURL))
		} else if !strings.HasSuffix(c.PublicBaseURL, "/") {
			c.PublicBaseURL += "/"
		}
	}
	c.ReportStats = p.boolean("report_stats")
	c.EnablePasswordConfig = p.boolean("enable_password_config")
	c.SAMLAllowInsecureMetadataURL = p.boolean("saml_allow_insecure_metadata_url")
	c.EnableRoomListSearch = p.boolean("enable_room_list_search")
	c.AllowPublicRoomsOverFederation = p.boolean("allow_public_rooms_over_federation")
	c.BlockNonAdminInvites = p.boolean("block_non_admin_invites")
	c.EnableEmailNotifs = p.boolean("enable_email_notifs")
	c.NotifFrom = p.str("notif_from")
	if c.NotifFrom != "" {
		// Synapse refuses to start on an address it cannot parse.
		if a, err := mail.ParseAddress(c.NotifFrom); err != nil || !strings.Contains(a.Address, "@") {
			p.fail("notif_from", fmt.Sprintf("%q is not an email address such as \"Matrix <noreply@example.com>\"", c.NotifFrom))
		}
	}
	c.EnableMjolnir = p.boolean("enable_mjolnir")
	c.EnableDraupnir = p.boolean("enable_draupnir")
	c.EnableMediaSyncCleanup = p.boolean("enable_media_sync_cleanup")
	c.RateLimitingLevel = p.str("rate_limiting_level")
	if c.RateLimitingLevel == "" {
		c.RateLimitingLevel = RateLimitDefault
	}
	if !slices.Contains(RateLimitingLevels, c.RateLimitingLevel) {
		// The Python charm silently used the default here.
		p.fail("rate_limiting_level", fmt.Sprintf("%q is not a level: use one of %s", c.RateLimitingLevel, strings.Join(RateLimitingLevels, ", ")))
	}

	c.FederationDomainWhitelist = p.csv("federation_domain_whitelist", func(s string) string {
		if !hostnameRE().MatchString(s) {
			return fmt.Sprintf("%q is not a domain", s)
		}
		return ""
	})
	c.IPRangeWhitelist = p.csv("ip_range_whitelist", func(s string) string {
		if _, _, err := net.ParseCIDR(s); err != nil {
			if net.ParseIP(s) == nil {
				return fmt.Sprintf("%q is not an IP range such as 10.0.0.0/8", s)
			}
		}
		return ""
	})
	c.TrustedProxies = p.csv("trusted_proxies", func(s string) string {
		if _, _, err := net.ParseCIDR(s); err != nil && net.ParseIP(s) == nil {
			return fmt.Sprintf("%q is not an address range such as 10.1.0.0/16", s)
		}
		return ""
	})
	for i, s := range c.TrustedProxies {
		c.TrustedProxies[i] = canonicalCIDR(s)
	}
	c.TrustedKeyServers = p.csv("trusted_key_servers", func(s string) string {
		if !validServerName(s) {
			return fmt.Sprintf("%q is not a server name", s)
		}
		return ""
	})
	c.InviteCheckerBlocklistAllowlistURL = p.str("invite_checker_blocklist_allowlist_url")
	if u := c.InviteCheckerBlocklistAllowlistURL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" || pu.Host == "" {
			p.fail("invite_checker_blocklist_allowlist_url", fmt.Sprintf("%q is not an absolute URL", u))
		}
	}
	rooms := p.csv("invite_checker_policy_rooms", func(s string) string {
		if !roomIDRE().MatchString(s) {
			return fmt.Sprintf("%q is not a room ID", s)
		}
		return ""
	})
	for _, r := range rooms {
		c.InviteCheckerPolicyRooms = append(c.InviteCheckerPolicyRooms, "!"+strings.TrimPrefix(r, "!"))
	}
	if v, ok := p.optionalFloat("limit_remote_rooms_complexity"); ok {
		if v <= 0 {
			p.fail("limit_remote_rooms_complexity", "must be positive")
		}
		c.LimitRemoteRoomsComplexity = &v
	}
	c.RCJoinsRemoteBurstCount = p.integer("rc_joins_remote_burst_count")
	if c.RCJoinsRemoteBurstCount < 0 {
		p.fail("rc_joins_remote_burst_count", "must not be negative")
	}
	c.RCJoinsRemotePerSecond = p.float("rc_joins_remote_per_second")
	if c.RCJoinsRemotePerSecond < 0 {
		p.fail("rc_joins_remote_per_second", "must not be negative")
	}
	c.PublishRoomsAllowlist = p.csv("publish_rooms_allowlist", func(s string) string {
		if !userDomainRE().MatchString(s) {
			return fmt.Sprintf("%q is not a user such as alice:example.com", s)
		}
		return ""
	})
	c.AliveCheck = p.aliveCheck("experimental_alive_check")
	c.BackupPassphrase = p.str("backup_passphrase")
	c.WorkersIgnoreList = p.csv("workers_ignore_list", func(s string) string {
		if !workerNameRE().MatchString(s) {
			return fmt.Sprintf("%q is not a worker name", s)
		}
		return ""
	})

	c.WorkersPreset = p.str("workers_preset")
	if !slices.Contains(Presets, c.WorkersPreset) {
		p.fail("workers_preset", fmt.Sprintf("%q is not a preset: use one of %s", c.WorkersPreset, strings.Join(Presets, ", ")))
	}
	c.WorkerCounts = p.workerCounts("worker_counts")
	for _, o := range countOptions {
		n := p.integer(o.option)
		switch {
		case n != FromPreset && (n < 0 || n > MaxRoleCount):
			p.fail(o.option, fmt.Sprintf("must be between 0 and %d, or -1 to follow workers_preset, got %d", MaxRoleCount, n))
		case n == FromPreset:
		case hasKey(c.WorkerCounts, o.role):
			p.fail(o.option, fmt.Sprintf("and worker_counts both set %s: set it in one place (%s=-1 follows worker_counts)", o.role, o.option))
		default:
			if c.WorkerCounts == nil {
				c.WorkerCounts = map[string]int{}
			}
			c.WorkerCounts[o.role] = n
		}
		*o.field(&c) = n
	}
	c.ExtractBackgroundTasks = p.boolean("experimental_extract_background_tasks")
	if c.ExtractBackgroundTasks {
		// The same as worker_counts background=1; set in one place.
		switch n, set := c.WorkerCounts[BackgroundRole]; {
		case set && n == 0:
			p.fail("experimental_extract_background_tasks", "is true but worker_counts sets background=0: set it in one place")
		case !set:
			if c.WorkerCounts == nil {
				c.WorkerCounts = map[string]int{}
			}
			c.WorkerCounts[BackgroundRole] = 1
		}
	}
	c.KeepSingletonsOnMain = p.boolean("keep_singletons_on_main")
	c.MaxProcessesPerUnit = p.count("max_processes_per_unit", 1, 64)
	c.MaxUploadSize = p.str("max_upload_size")
	if !sizeRE().MatchString(c.MaxUploadSize) || !sizeFits(c.MaxUploadSize) {
		p.fail("max_upload_size", fmt.Sprintf("%q must be a size such as 50M (K, M or G suffix)", c.MaxUploadSize))
	}

	if len(p.problems) > 0 {
		return c, &Error{Problems: p.problems}
	}
	return c, nil
}

// validServerName follows the Matrix spec's server name grammar, which is
// what Synapse accepts: an IPv6 literal only in brackets, else an IPv4
// address or a DNS name, then an optional port of 1 to 5 digits.
func validServerName(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		ip := net.ParseIP(s[1:end])
		if ip == nil || ip.To4() != nil {
			return false
		}
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return false
			}
			port = rest[1:]
			if !validPort(port) {
				return false
			}
		}
		return true
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if !validPort(port) {
			return false
		}
	}
	if host == "" || strings.Contains(host, ":") {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.To4() != nil
	}
	return validDNSName(host)
}

// validPort is 1 to 5 digits naming a port from 1 to 65535.
func validPort(p string) bool {
	if len(p) < 1 || len(p) > 5 {
		return false
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(p)
	return n >= 1 && n <= 65535
}

func validDNSName(host string) bool {
	return len(host) <= 253 && hostnameRE().MatchString(host)
}

// sizeFits reports whether a size such as 50M fits in a signed 64-bit
// byte count, which nginx requires.
func sizeFits(size string) bool {
	_, ok := SizeBytes(size)
	return ok
}

// SizeBytes converts a size such as 50M (K, M or G suffix, powers of 1024)
// to bytes; false when it is not such a size or overflows.
func SizeBytes(size string) (int64, bool) {
	if !sizeRE().MatchString(size) {
		return 0, false
	}
	digits, shift := size, uint(0)
	switch size[len(size)-1] {
	case 'K':
		shift = 10
	case 'M':
		shift = 20
	case 'G':
		shift = 30
	}
	if shift > 0 {
		digits = size[:len(size)-1]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > (1<<63-1)>>shift {
		return 0, false
	}
	return n << shift, true
}

type parser struct {
	raw      map[string]any
	problems []Problem
}

func (p *parser) fail(option, reason string) {
	p.problems = append(p.problems, Problem{Option: option, Reason: reason})
}

func (p *parser) value(name string) (any, bool) {
	if v, ok := p.raw[name]; ok && v != nil {
		return v, true
	}
	v, ok := defaults[name]
	return v, ok
}

func (p *parser) str(name string) string {
	v, ok := p.value(name)
	if !ok {
		return ""
	}
	s, isString := v.(string)
	if !isString {
		p.fail(name, fmt.Sprintf("must be a string, got %v", v))
		return ""
	}
	return strings.TrimSpace(s)
}

func (p *parser) boolean(name string) bool {
	v, _ := p.value(name)
	switch b := v.(type) {
	case bool:
		return b
	case string:
		if parsed, err := strconv.ParseBool(b); err == nil {
			return parsed
		}
	}
	p.fail(name, fmt.Sprintf("must be true or false, got %v", v))
	return false
}

func (p *parser) number(name string) (float64, bool) {
	v, ok := p.value(name)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			break
		}
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	p.fail(name, fmt.Sprintf("must be a finite number, got %v", v))
	return 0, false
}

func (p *parser) float(name string) float64 {
	f, _ := p.number(name)
	return f
}

func (p *parser) optionalFloat(name string) (float64, bool) {
	if v, ok := p.raw[name]; !ok || v == nil || v == "" {
		return 0, false
	}
	return p.number(name)
}

func (p *parser) integer(name string) int {
	f, ok := p.number(name)
	if !ok {
		return 0
	}
	if f != float64(int(f)) {
		p.fail(name, fmt.Sprintf("must be a whole number, got %v", f))
	}
	return int(f)
}

func (p *parser) count(name string, lo, hi int) int {
	n := p.integer(name)
	if n < lo || n > hi {
		p.fail(name, fmt.Sprintf("must be between %d and %d, got %d", lo, hi, n))
	}
	return n
}

// csv splits a comma-separated option; check returns a reason for a bad item.
func (p *parser) csv(name string, check func(string) string) []string {
	s := p.str(name)
	if s == "" {
		return nil
	}
	var items []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.fail(name, "has an empty item (check for doubled or trailing commas)")
			continue
		}
		if reason := check(item); reason != "" {
			p.fail(name, reason)
			continue
		}
		items = append(items, item)
	}
	return items
}

// workerCounts reads "role=count,role=count" for the roles of
// WorkerRoles; nil when empty.
func (p *parser) workerCounts(name string) map[string]int {
	var out map[string]int
	p.csv(name, func(item string) string {
		role, num, ok := strings.Cut(item, "=")
		role, num = strings.TrimSpace(role), strings.TrimSpace(num)
		limit, known := WorkerRoles[role]
		n, err := strconv.Atoi(num)
		switch {
		case !ok:
			return fmt.Sprintf("item %q must be role=count, such as sync=2", item)
		case !known:
			return fmt.Sprintf("%q is not a worker role: use one of %s", role, strings.Join(sortedKeys(WorkerRoles), ", "))
		case err != nil || n < 0 || n > limit:
			return fmt.Sprintf("%s=%s: the count of %s must be a whole number from 0 to %d", role, num, role, limit)
		case hasKey(out, role):
			return fmt.Sprintf("sets %s twice: keep one", role)
		}
		if out == nil {
			out = map[string]int{}
		}
		out[role] = n
		return ""
	})
	return out
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The lower bounds of experimental_alive_check. Pebble's own defaults are
// a 10s period, a threshold of 3 and a 3s timeout; below these bounds the
// check becomes a request storm (period), restarts Synapse on one slow
// answer (threshold) or on a busy but healthy process (timeout).
const (
	MinAlivePeriod    = 10 * time.Second
	MinAliveThreshold = 2
	MinAliveTimeout   = time.Second
)

func (p *parser) aliveCheck(name string) AliveCheck {
	s := p.str(name)
	parts := strings.Split(s, ",")
	bad := func() AliveCheck {
		p.fail(name, fmt.Sprintf("%q must be period,threshold,timeout such as 2m,5,20s", s))
		return AliveCheck{Period: 2 * time.Minute, Threshold: 5, Timeout: 20 * time.Second}
	}
	if len(parts) != 3 {
		return bad()
	}
	period, err1 := time.ParseDuration(strings.TrimSpace(parts[0]))
	threshold, err2 := strconv.Atoi(strings.TrimSpace(parts[1]))
	timeout, err3 := time.ParseDuration(strings.TrimSpace(parts[2]))
	if err1 != nil || err2 != nil || err3 != nil || period <= 0 || threshold < 1 || timeout <= 0 {
		return bad()
	}
	switch {
	case period < MinAlivePeriod:
		p.fail(name, fmt.Sprintf("period %s is below %s: each check is a request to Synapse, and faster checks only load it", period, MinAlivePeriod))
	case threshold < MinAliveThreshold:
		p.fail(name, fmt.Sprintf("threshold %d is below %d: one slow answer must not restart Synapse", threshold, MinAliveThreshold))
	case timeout < MinAliveTimeout:
		p.fail(name, fmt.Sprintf("timeout %s is below %s: a busy Synapse answers slower than that and would be restarted in a loop", timeout, MinAliveTimeout))
	}
	if timeout >= period {
		p.fail(name, fmt.Sprintf("timeout %s must be shorter than the period %s", timeout, period))
	}
	return AliveCheck{Period: period, Threshold: threshold, Timeout: timeout}
}

// canonicalCIDR writes a valid range or address as a CIDR range: the
// network address and its prefix length; an address is a range of one.
func canonicalCIDR(s string) string {
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n.String()
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return s
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String() + "/32"
	}
	return ip.String() + "/128"
}
