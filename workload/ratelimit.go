package workload

import "github.com/synapse-charm/synapse-k8s-go/charm/config"

// rateLimit is one Synapse RatelimitSettings: per_second stays a float,
// burst_count Synapse reads with int().
type rateLimit struct {
	PerSecond  float64
	BurstCount int
}

func (r rateLimit) yaml() map[string]any {
	return map[string]any{"per_second": r.PerSecond, "burst_count": r.BurstCount}
}

// rateLimitPreset is one level of rate_limiting_level: the Python charm's
// presets (src/synapse/rate_limiting_levels.py), every key checked against
// Synapse 1.160's synapse/config/ratelimiting.py.
type rateLimitPreset struct {
	Message, AdminRedaction, JoinsLocal, JoinsRemote, JoinsPerRoom rateLimit
	InvitesPerRoom, InvitesPerUser, InvitesPerIssuer               rateLimit
	PresencePerUser, DelayedEventMgmt, RoomCreation                rateLimit
	// FederationRRPerRoom is federation_rr_transactions_per_room_per_second;
	// Synapse divides by it, so it is never 0.
	FederationRRPerRoom int
}

var unlimitedRate = rateLimit{9999, 9999}

// rateLimitPresets are the levels. "default" is Synapse's own defaults,
// except that it limits admin redactions, which Synapse leaves unlimited.
var rateLimitPresets = map[string]rateLimitPreset{
	config.RateLimitDefault: {
		Message: rateLimit{0.2, 10}, AdminRedaction: rateLimit{1, 50},
		JoinsLocal: rateLimit{0.1, 10}, JoinsRemote: rateLimit{0.01, 10}, JoinsPerRoom: rateLimit{1, 10},
		InvitesPerRoom: rateLimit{0.3, 10}, InvitesPerUser: rateLimit{0.003, 5}, InvitesPerIssuer: rateLimit{0.3, 10},
		PresencePerUser: rateLimit{0.1, 1}, DelayedEventMgmt: rateLimit{1, 5}, RoomCreation: rateLimit{0.016, 10},
		FederationRRPerRoom: 50,
	},
	config.RateLimitPermissive: {
		Message: rateLimit{0.5, 50}, AdminRedaction: rateLimit{0.5, 50},
		JoinsLocal: rateLimit{0.5, 50}, JoinsRemote: rateLimit{0.01, 50}, JoinsPerRoom: rateLimit{0.5, 50},
		InvitesPerRoom: rateLimit{0.1, 50}, InvitesPerUser: rateLimit{0.1, 50}, InvitesPerIssuer: rateLimit{0.1, 50},
		PresencePerUser: rateLimit{0.1, 20}, DelayedEventMgmt: rateLimit{0.5, 10}, RoomCreation: rateLimit{0.016, 20},
		FederationRRPerRoom: 100,
	},
	config.RateLimitUnlimited: {
		Message: unlimitedRate, AdminRedaction: unlimitedRate,
		JoinsLocal: unlimitedRate, JoinsRemote: unlimitedRate, JoinsPerRoom: unlimitedRate,
		InvitesPerRoom: rateLimit{1000, 1000}, InvitesPerUser: rateLimit{1000, 1000}, InvitesPerIssuer: rateLimit{1000, 1000},
		PresencePerUser: unlimitedRate, DelayedEventMgmt: unlimitedRate, RoomCreation: unlimitedRate,
		FederationRRPerRoom: 9999,
	},
}

// Defaults of rc_joins_remote_*, equal to the default level's rc_joins.remote.
const (
	defaultJoinsRemoteBurst     = 10
	defaultJoinsRemotePerSecond = 0.01
)

// renderRateLimits adds the level's rc_* keys to doc. rc_joins_remote_*
// override only rc_joins.remote, and only when set away from their
// defaults: otherwise the level's value stands (the Python charm let one
// of the two silently replace the whole rc_joins).
func renderRateLimits(doc map[string]any, c config.Config) {
	p, ok := rateLimitPresets[c.RateLimitingLevel]
	if !ok {
		p = rateLimitPresets[config.RateLimitDefault]
	}
	remote := p.JoinsRemote
	if c.RCJoinsRemoteBurstCount != defaultJoinsRemoteBurst || c.RCJoinsRemotePerSecond != defaultJoinsRemotePerSecond {
		remote = rateLimit{c.RCJoinsRemotePerSecond, c.RCJoinsRemoteBurstCount}
	}
	doc["rc_message"] = p.Message.yaml()
	doc["rc_admin_redaction"] = p.AdminRedaction.yaml()
	doc["rc_joins"] = map[string]any{"local": p.JoinsLocal.yaml(), "remote": remote.yaml()}
	doc["rc_joins_per_room"] = p.JoinsPerRoom.yaml()
	doc["rc_invites"] = map[string]any{
		"per_room": p.InvitesPerRoom.yaml(), "per_user": p.InvitesPerUser.yaml(), "per_issuer": p.InvitesPerIssuer.yaml(),
	}
	doc["rc_presence"] = map[string]any{"per_user": p.PresencePerUser.yaml()}
	doc["rc_delayed_event_mgmt"] = p.DelayedEventMgmt.yaml()
	doc["rc_room_creation"] = p.RoomCreation.yaml()
	doc["federation_rr_transactions_per_room_per_second"] = p.FederationRRPerRoom
}
