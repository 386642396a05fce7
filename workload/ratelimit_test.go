package workload_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// rateDoc renders homeserver.yaml with the given options and returns the
// value at a dotted path, as Synapse's RatelimitSettings.parse walks it.
func rateDoc(t *testing.T, options map[string]any) func(path ...string) any {
	raw := map[string]any{"server_name": "example.com"}
	for k, v := range options {
		raw[k] = v
	}
	doc := renderDoc(t, workload.Homeserver{Config: mustConfig(t, raw), BindAddress: "10.0.0.1"})
	return func(path ...string) any {
		var v any = doc
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return numbers(v)
	}
}

// numbers makes every number a float64: YAML writes 1.0 as 1, which
// Synapse reads the same.
func numbers(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case map[string]any:
		out := map[string]any{}
		for k, e := range n {
			out[k] = numbers(e)
		}
		return out
	}
	return v
}

func limit(perSecond float64, burst int) map[string]any {
	return map[string]any{"per_second": perSecond, "burst_count": float64(burst)}
}

func TestRateLimitingLevels(t *testing.T) {
	for _, tc := range []struct {
		level                          string
		message, invitesPerUser, rcAdm map[string]any
		federationRR                   float64
	}{
		{"default", limit(0.2, 10), limit(0.003, 5), limit(1, 50), 50},
		{"permissive", limit(0.5, 50), limit(0.1, 50), limit(0.5, 50), 100},
		{"unlimited", limit(9999, 9999), limit(1000, 1000), limit(9999, 9999), 9999},
	} {
		t.Run(tc.level, func(t *testing.T) {
			get := rateDoc(t, map[string]any{"rate_limiting_level": tc.level})
			assert.Equal(t, tc.message, get("rc_message"))
			assert.Equal(t, tc.invitesPerUser, get("rc_invites", "per_user"))
			assert.Equal(t, tc.rcAdm, get("rc_admin_redaction"), "never null: Synapse would call .get on None")
			assert.Equal(t, tc.federationRR, get("federation_rr_transactions_per_room_per_second"))
			for _, path := range [][]string{
				{"rc_joins", "local"}, {"rc_joins", "remote"}, {"rc_joins_per_room"},
				{"rc_invites", "per_room"}, {"rc_invites", "per_issuer"}, {"rc_presence", "per_user"},
				{"rc_delayed_event_mgmt"}, {"rc_room_creation"},
			} {
				m, ok := get(path...).(map[string]any)
				if assert.True(t, ok, "%v rendered", path) {
					assert.Contains(t, m, "per_second", "%v", path)
					assert.Contains(t, m, "burst_count", "%v", path)
				}
			}
		})
	}
}

func TestRateLimitingLevelDefaultsToDefault(t *testing.T) {
	unset := rateDoc(t, nil)
	set := rateDoc(t, map[string]any{"rate_limiting_level": "default"})
	assert.Equal(t, set("rc_message"), unset("rc_message"))
	assert.Equal(t, limit(0.01, 10), unset("rc_joins", "remote"))
}

// The rc_joins_remote_* options override only rc_joins.remote, and only
// when set; the level keeps rc_joins.local.
func TestRCJoinsRemoteOverridesTheLevelOnlyWhenSet(t *testing.T) {
	get := rateDoc(t, map[string]any{"rate_limiting_level": "permissive"})
	assert.Equal(t, limit(0.01, 50), get("rc_joins", "remote"), "the level's value")
	get = rateDoc(t, map[string]any{"rate_limiting_level": "permissive", "rc_joins_remote_burst_count": 20})
	assert.Equal(t, limit(0.01, 20), get("rc_joins", "remote"))
	assert.Equal(t, limit(0.5, 50), get("rc_joins", "local"))
}
