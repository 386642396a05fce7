package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	// The role table fills config.WorkerRoles, as in the charm binary.
	_ "github.com/synapse-charm/synapse-k8s-go/charm/topology"
)

func TestParseDefaults(t *testing.T) {
	c, err := config.Parse(map[string]any{"server_name": "example.com"})
	require.NoError(t, err)
	assert.Equal(t, "example.com", c.ServerName)
	assert.True(t, c.EnablePasswordConfig)
	assert.True(t, c.EnableRoomListSearch)
	assert.Equal(t, 10, c.RCJoinsRemoteBurstCount)
	assert.Equal(t, 0.01, c.RCJoinsRemotePerSecond)
	assert.Equal(t, config.AliveCheck{Period: 2 * time.Minute, Threshold: 5, Timeout: 20 * time.Second}, c.AliveCheck)
	assert.Nil(t, c.TrustedKeyServers, "unset keeps Synapse's default key server")
	assert.Equal(t, "50M", c.MaxUploadSize)
	assert.Equal(t, config.FromPreset, c.FederationSenders, "counts follow the preset")
	assert.Equal(t, config.PresetBalanced, c.WorkersPreset)
	assert.Nil(t, c.WorkerCounts)
}

func TestParseWorkerCounts(t *testing.T) {
	c, err := config.Parse(map[string]any{"server_name": "e.com", "worker_counts": "sync=2, receipts=1,typing=0", "pushers": 3, "workers_preset": "one-of-each"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"sync": 2, "receipts": 1, "typing": 0, "pusher": 3}, c.WorkerCounts, "pushers joins worker_counts")
	assert.Equal(t, config.PresetOneOfEach, c.WorkersPreset)

	for _, tt := range []struct {
		raw          map[string]any
		option, says string
	}{
		{map[string]any{"worker_counts": "wizard=1"}, "worker_counts", "not a worker role: use one of"},
		{map[string]any{"worker_counts": "generic=2"}, "worker_counts", "not a worker role"},
		{map[string]any{"worker_counts": "typing=2"}, "worker_counts", "from 0 to 1"},
		{map[string]any{"worker_counts": "sync=17"}, "worker_counts", "from 0 to 16"},
		{map[string]any{"worker_counts": "sync"}, "worker_counts", "role=count"},
		{map[string]any{"worker_counts": "sync=1,sync=2"}, "worker_counts", "twice"},
		{map[string]any{"worker_counts": "pusher=1", "pushers": 2}, "pushers", "set it in one place"},
		{map[string]any{"workers_preset": "huge"}, "workers_preset", "use one of minimal, balanced, one-of-each"},
		{map[string]any{"event_persisters": -2}, "event_persisters", "-1 to follow workers_preset"},
	} {
		tt.raw["server_name"] = "e.com"
		_, err := config.Parse(tt.raw)
		var cfgErr *config.Error
		require.True(t, errors.As(err, &cfgErr), "%v: want a config error, got %v", tt.raw, err)
		assert.Equal(t, []string{tt.option}, cfgErr.Options(), "%v", tt.raw)
		assert.ErrorContains(t, err, tt.says)
	}
}

func TestParseValues(t *testing.T) {
	c, err := config.Parse(map[string]any{
		"server_name":                   "matrix.example.org:8448",
		"public_baseurl":                "https://matrix.example.org",
		"federation_domain_whitelist":   "a.org, b.org",
		"ip_range_whitelist":            "10.0.0.0/8,192.168.1.1",
		"trusted_key_servers":           "matrix.org",
		"invite_checker_policy_rooms":   "abc:example.org,!def:example.org",
		"publish_rooms_allowlist":       "alice:example.org",
		"limit_remote_rooms_complexity": 1.5,
		"rc_joins_remote_burst_count":   float64(20),
		"experimental_alive_check":      "1m,3,10s",
	})
	require.NoError(t, err)
	assert.Equal(t, "https://matrix.example.org/", c.PublicBaseURL)
	assert.Equal(t, []string{"a.org", "b.org"}, c.FederationDomainWhitelist)
	assert.Equal(t, []string{"10.0.0.0/8", "192.168.1.1"}, c.IPRangeWhitelist)
	assert.Equal(t, []string{"!abc:example.org", "!def:example.org"}, c.InviteCheckerPolicyRooms)
	require.NotNil(t, c.LimitRemoteRoomsComplexity)
	assert.Equal(t, 1.5, *c.LimitRemoteRoomsComplexity)
	assert.Equal(t, 20, c.RCJoinsRemoteBurstCount)
	assert.Equal(t, time.Minute, c.AliveCheck.Period)
}

func TestParseInvalidNamesEveryField(t *testing.T) {
	tests := []struct {
		name   string
		raw    map[string]any
		option string
	}{
		{"missing server_name", map[string]any{}, "server_name"},
		{"malformed server_name", map[string]any{"server_name": "exa mple.com"}, "server_name"},
		{"server_name with bad port", map[string]any{"server_name": "example.com:99999"}, "server_name"},
		{"public_baseurl without scheme", map[string]any{"server_name": "e.com", "public_baseurl": "matrix.e.com"}, "public_baseurl"},
		{"bad CIDR", map[string]any{"server_name": "e.com", "ip_range_whitelist": "10.0.0.0/33"}, "ip_range_whitelist"},
		{"bad trusted proxy", map[string]any{"server_name": "e.com", "trusted_proxies": "10.1.0.0/16,ingress.local"}, "trusted_proxies"},
		{"empty CSV item", map[string]any{"server_name": "e.com", "federation_domain_whitelist": "a.org,,b.org"}, "federation_domain_whitelist"},
		{"bad key server", map[string]any{"server_name": "e.com", "trusted_key_servers": "not a host"}, "trusted_key_servers"},
		{"negative burst", map[string]any{"server_name": "e.com", "rc_joins_remote_burst_count": -1}, "rc_joins_remote_burst_count"},
		{"fractional count", map[string]any{"server_name": "e.com", "pushers": 1.5}, "pushers"},
		{"negative senders", map[string]any{"server_name": "e.com", "federation_senders": -2}, "federation_senders"},
		{"bad alive check", map[string]any{"server_name": "e.com", "experimental_alive_check": "2m,five,20s"}, "experimental_alive_check"},
		{"alive timeout too long", map[string]any{"server_name": "e.com", "experimental_alive_check": "10s,3,20s"}, "experimental_alive_check"},
		{"alive check storm", map[string]any{"server_name": "e.com", "experimental_alive_check": "2ns,1,1ns"}, "experimental_alive_check"},
		{"alive period below 10s", map[string]any{"server_name": "e.com", "experimental_alive_check": "9s,3,2s"}, "experimental_alive_check"},
		{"alive threshold of 1", map[string]any{"server_name": "e.com", "experimental_alive_check": "1m,1,10s"}, "experimental_alive_check"},
		{"alive timeout below 1s", map[string]any{"server_name": "e.com", "experimental_alive_check": "1m,3,500ms"}, "experimental_alive_check"},
		{"saml option of wrong type", map[string]any{"server_name": "e.com", "saml_allow_insecure_metadata_url": "yes"}, "saml_allow_insecure_metadata_url"},
		{"bad upload size", map[string]any{"server_name": "e.com", "max_upload_size": "50 MB"}, "max_upload_size"},
		{"bad notif_from", map[string]any{"server_name": "e.com", "notif_from": "e.com"}, "notif_from"},
		{"bad policy room", map[string]any{"server_name": "e.com", "invite_checker_policy_rooms": "no-domain"}, "invite_checker_policy_rooms"},
		{"bool of wrong type", map[string]any{"server_name": "e.com", "report_stats": "maybe"}, "report_stats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(tt.raw)
			var cfgErr *config.Error
			require.True(t, errors.As(err, &cfgErr), "want a config error, got %v", err)
			assert.Contains(t, cfgErr.Options(), tt.option)
			assert.Contains(t, err.Error(), tt.option)
		})
	}
}

func TestParseCollectsAllProblems(t *testing.T) {
	_, err := config.Parse(map[string]any{"server_name": "", "public_baseurl": "ftp://x", "pushers": -2})
	var cfgErr *config.Error
	require.True(t, errors.As(err, &cfgErr))
	assert.Equal(t, []string{"public_baseurl", "pushers", "server_name"}, cfgErr.Options())
}

func TestParseTrustedProxiesAsCIDRRanges(t *testing.T) {
	c, err := config.Parse(map[string]any{"server_name": "e.com", "trusted_proxies": " 10.1.2.3/16, 192.0.2.7 ,2001:db8::1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"10.1.0.0/16", "192.0.2.7/32", "2001:db8::1/128"}, c.TrustedProxies)
	c, err = config.Parse(map[string]any{"server_name": "e.com"})
	require.NoError(t, err)
	assert.Empty(t, c.TrustedProxies, "no proxy is trusted by default")
}

func TestAliveCheckLowerBoundsAreAccepted(t *testing.T) {
	c, err := config.Parse(map[string]any{"server_name": "e.com", "experimental_alive_check": "10s,2,1s"})
	require.NoError(t, err)
	assert.Equal(t, config.AliveCheck{Period: config.MinAlivePeriod, Threshold: config.MinAliveThreshold, Timeout: config.MinAliveTimeout}, c.AliveCheck)
	assert.False(t, c.SAMLAllowInsecureMetadataURL, "https only by default")
}
