package charm

import (
	"context"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// PeerEndpoint is the peer relation, named as in the Python charm.
const PeerEndpoint = "synapse-peers"

// Keys of the peer application bag (written by the leader only).
const (
	peerKeySecretID   = "secret-id"
	peerKeyServerName = "server-name"
)

// Snapshot is everything one hook reads from the unit agent, read once.
type Snapshot struct {
	Leader bool
	// Config is the validated configuration; ConfigErr says why it is not.
	Config    config.Config
	ConfigErr error
	// Address is the address this unit's processes bind to.
	Address string
	// Peer is the peer relation, nil before Juju has created it.
	Peer *PeerView
	// Database is the database relation's provider data, nil when not integrated.
	Database *RelationView
	// Redis is the redis relation's provider data, nil when not integrated.
	Redis *RelationView
	// Media is the media (s3) relation's provider data, nil when not integrated.
	Media *RelationView
	// Ingress is the ingress relation, nil when not integrated.
	Ingress *RelationView
	// Logging is the loki_push_api relation, nil when not integrated.
	Logging *RelationView
	// Backup is the backup (s3) relation, nil when not integrated. Only the
	// backup actions use its bucket.
	Backup *RelationView
	// SMTP is the smtp relation, nil when not integrated.
	SMTP *RelationView
	// NginxRoute is the nginx-route relation, nil when not integrated.
	NginxRoute *RelationView
	// SAML is the saml relation (saml-integrator), nil when not integrated.
	SAML *RelationView
}

// PeerView is the peer relation as this unit sees it.
type PeerView struct {
	ID string
	// App is the peer application bag.
	App map[string]string
	// Units are the other live units' bags.
	Units map[string]map[string]string
	// Own is this unit's bag.
	Own map[string]string
}

// LiveUnits returns this unit and its live peers.
func (p *PeerView) LiveUnits(self string) []string {
	units := []string{self}
	for u := range p.Units {
		units = append(units, u)
	}
	return units
}

// RelationView is one relation to a provider application.
type RelationView struct {
	ID        string
	RemoteApp string
	// App is the remote application's bag.
	App map[string]string
	// Units are the remote units' bags.
	Units map[string]map[string]string
	// Pending is true when this unit has not entered the relation yet
	// (its relation-created has not run): nothing can be read.
	Pending bool
	// Local is our application's bag (what we requested); leader only.
	Local map[string]string
}

func (c *charm) observe(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{}
	raw, err := c.tools.ConfigGet(ctx)
	if err != nil {
		return nil, err
	}
	s.Config, s.ConfigErr = config.Parse(raw)
	if s.Leader, err = c.tools.IsLeader(ctx); err != nil {
		return nil, err
	}
	ids, err := c.tools.RelationIDs(ctx, PeerEndpoint)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		s.Peer, err = c.observePeer(ctx, ids[0])
		if err != nil {
			return nil, err
		}
	}
	net, err := c.tools.NetworkGet(ctx, PeerEndpoint)
	if err != nil {
		return nil, err
	}
	s.Address = net.BindAddress()
	if s.Database, err = c.observeRelation(ctx, DatabaseEndpoint, s.Leader, false); err != nil {
		return nil, err
	}
	if s.Redis, err = c.observeRelation(ctx, RedisEndpoint, false, true); err != nil {
		return nil, err
	}
	if s.Media, err = c.observeRelation(ctx, MediaEndpoint, s.Leader, false); err != nil {
		return nil, err
	}
	if s.Ingress, err = c.observeRelation(ctx, IngressEndpoint, false, false); err != nil {
		return nil, err
	}
	if s.Logging, err = c.observeRelation(ctx, LoggingEndpoint, false, true); err != nil {
		return nil, err
	}
	if s.Backup, err = c.observeRelation(ctx, BackupEndpoint, s.Leader, false); err != nil {
		return nil, err
	}
	if s.SMTP, err = c.observeRelation(ctx, SMTPEndpoint, false, false); err != nil {
		return nil, err
	}
	if s.NginxRoute, err = c.observeRelation(ctx, NginxRouteEndpoint, s.Leader, false); err != nil {
		return nil, err
	}
	if s.SAML, err = c.observeRelation(ctx, SAMLEndpoint, false, false); err != nil {
		return nil, err
	}
	return s, nil
}

// observePeer reads the peer relation: the app bag, this unit's bag and
// every live peer's bag. It returns nil before this unit has entered the
// relation (install and storage-attached run before relation-created).
func (c *charm) observePeer(ctx context.Context, id string) (*PeerView, error) {
	app, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: c.ev.App, App: true})
	if juju.IsPermissionDenied(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p := &PeerView{ID: id, App: app, Units: map[string]map[string]string{}}
	if p.Own, err = c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: c.ev.Unit}); err != nil {
		return nil, err
	}
	peers, err := c.tools.RelationList(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, u := range peers {
		if u == c.ev.DepartingUnit {
			continue
		}
		bag, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: u})
		if err != nil {
			return nil, fmt.Errorf("read peer %s: %w", u, err)
		}
		p.Units[u] = bag
	}
	return p, nil
}

// observeRelation reads the first relation on endpoint: the remote app bag,
// and, when withUnits, every remote unit's bag.
func (c *charm) observeRelation(ctx context.Context, endpoint string, leader, withUnits bool) (*RelationView, error) {
	ids, err := c.tools.RelationIDs(ctx, endpoint)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	id := ids[0]
	if c.ev.Kind() == "relation-broken" && c.ev.RelationID == id {
		// The relation is going away: render as if it were gone already.
		return nil, nil
	}
	v := &RelationView{ID: id, Units: map[string]map[string]string{}}
	if v.RemoteApp, err = c.tools.RelationRemoteApp(ctx, id); err != nil {
		return nil, err
	}
	if v.RemoteApp != "" {
		v.App, err = c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: v.RemoteApp, App: true})
		if juju.IsPermissionDenied(err) {
			return &RelationView{ID: id, RemoteApp: v.RemoteApp, Pending: true}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if leader {
		// Juju lets only the leader read its own application's bag.
		if v.Local, err = c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: c.ev.App, App: true}); err != nil {
			return nil, err
		}
	}
	if withUnits {
		units, err := c.tools.RelationList(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, u := range units {
			bag, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: u})
			if err != nil {
				return nil, fmt.Errorf("read %s of %s: %w", u, id, err)
			}
			v.Units[u] = bag
		}
	}
	return v, nil
}
