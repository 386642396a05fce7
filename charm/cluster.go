package charm

import (
	"context"
	"errors"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// RedisEndpoint is the redis relation.
const RedisEndpoint = "redis"

// peerKeyPlan holds the cluster plan (JSON) in the peer app bag.
const peerKeyPlan = "plan"

// redis returns the Redis server, nil when not integrated or not ready.
func (c *charm) redis(s *Snapshot) (*workload.Redis, *verdict) {
	if s.Redis == nil || s.Redis.Pending {
		return nil, nil
	}
	r, err := relations.ParseRedis(s.Redis.App, s.Redis.Units)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, nil
	case err != nil:
		v := blocked("redis relation from %s is malformed: %v", s.Redis.RemoteApp, err)
		return nil, &v
	}
	return &workload.Redis{Host: r.Host, Port: r.Port, Password: r.Password}, nil
}

// plan returns the cluster plan. The leader computes it from the live
// units and the configuration and publishes it when it changed; every unit
// renders only from the published plan.
func (c *charm) plan(ctx context.Context, s *Snapshot, cluster, s3Media bool) (topology.Plan, *verdict, error) {
	var current *topology.Plan
	if raw := s.Peer.App[peerKeyPlan]; raw != "" {
		p, err := topology.Decode(raw)
		if err != nil {
			v := blocked("the cluster plan in the peer relation is unusable: %v", err)
			return topology.Plan{}, &v, nil
		}
		current = p
	}
	if !s.Leader {
		if current == nil {
			v := waiting("waiting for the leader to publish the cluster plan")
			return topology.Plan{}, &v, nil
		}
		return *current, nil, nil
	}
	next := topology.Compute(topology.View{
		Units:   s.Peer.LiveUnits(c.ev.Unit),
		Leader:  c.ev.Unit,
		Current: current,
		Cluster: cluster,
		Settings: topology.Settings{
			EventPersisters:      s.Config.EventPersisters,
			FederationSenders:    s.Config.FederationSenders,
			Pushers:              s.Config.Pushers,
			KeepSingletonsOnMain: s.Config.KeepSingletonsOnMain,
			MaxProcessesPerUnit:  s.Config.MaxProcessesPerUnit,
			Media:                s3Media,
		},
	})
	if current == nil || next.Generation != current.Generation {
		if err := c.setPeerApp(ctx, s, map[string]string{peerKeyPlan: next.Encode()}); err != nil {
			return topology.Plan{}, nil, err
		}
		c.logf("published plan %d: main %s, %d processes", next.Generation, next.Main, len(next.Processes))
	}
	return next, nil, nil
}
