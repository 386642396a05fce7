package charm

import (
	"context"
	"fmt"
	"net/url"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// NginxRouteEndpoint is the nginx-route relation (nginx-ingress-integrator).
const NginxRouteEndpoint = "nginx-route"

// nginxRouteReadTimeout matches the per-unit nginx's proxy_read_timeout:
// long-polls and large media transfers must not be cut by the ingress.
const nginxRouteReadTimeout = 300

// publishNginxRoute asks nginx-ingress-integrator for a Kubernetes ingress
// to the application's Service on the router port of every unit. Only the
// leader writes, and only the keys that changed.
func (c *charm) publishNginxRoute(ctx context.Context, s *Snapshot) error {
	rel := s.NginxRoute
	if rel == nil || rel.Pending || !s.Leader || s.ConfigErr != nil {
		return nil
	}
	want := relations.NginxRoute{
		Hostname:           nginxRouteHostname(s.Config),
		Service:            c.ev.App,
		Namespace:          c.ev.Model,
		Port:               workload.NginxPort,
		ReadTimeoutSeconds: nginxRouteReadTimeout,
	}
	want.MaxBodyBytes, _ = config.SizeBytes(s.Config.MaxUploadSize)
	changed := map[string]string{}
	for k, v := range want.AppData() {
		if rel.Local[k] != v {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: rel.ID, App: true, Data: changed}); err != nil {
		return fmt.Errorf("publish nginx-route: %w: %w", err, ErrRetry)
	}
	return nil
}

// nginxRouteHostname is the host clients reach: public_baseurl's host when
// set (often matrix.example.com while server_name is example.com), else
// server_name without a port.
func nginxRouteHostname(c config.Config) string {
	if u, err := url.Parse(c.PublicBaseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	if u, err := url.Parse("//" + c.ServerName); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return c.ServerName
}
