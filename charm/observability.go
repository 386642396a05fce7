package charm

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/nginxexporter"
)

// IngressEndpoint is the ingress (traefik v2) relation.
const IngressEndpoint = "ingress"

// ingress publishes what the ingress provider needs (the application and
// nginx's port from the leader, each unit's address) and returns the URL
// it published, "" while none.
func (c *charm) ingress(ctx context.Context, s *Snapshot) (string, *verdict, error) {
	rel := s.Ingress
	if rel == nil || rel.Pending {
		return "", nil, nil
	}
	unit := relations.IngressUnitData(relations.UnitDNSName(c.ev.Unit, c.ev.Model), s.Address)
	if err := c.setIfChanged(ctx, rel.ID, false, unit); err != nil {
		return "", nil, err
	}
	if s.Leader {
		if err := c.setIfChanged(ctx, rel.ID, true, relations.IngressAppData(c.ev.Model, c.ev.App, workload.NginxPort)); err != nil {
			return "", nil, err
		}
	}
	url, err := relations.ParseIngressURL(rel.App)
	if err != nil {
		v := blocked("ingress relation from %s is malformed: %v", rel.RemoteApp, err)
		return "", &v, nil
	}
	return url, nil, nil
}

// LoggingEndpoint is the loki_push_api relation.
const LoggingEndpoint = "logging"

// logTargets returns the Pebble log targets forwarding every service's
// logs to each Loki unit (no promtail: Pebble pushes itself).
func (c *charm) logTargets(s *Snapshot) (map[string]workload.LogTarget, *verdict) {
	if s.Logging == nil || s.Logging.Pending {
		return nil, nil
	}
	urls, err := relations.ParseLokiEndpoints(s.Logging.Units)
	if err != nil {
		v := blocked("logging relation from %s is malformed: %v", s.Logging.RemoteApp, err)
		return nil, &v
	}
	return workload.LokiTargets(urls, relations.LokiLabels(c.ev.Model, c.ev.ModelUUID, c.ev.App, c.ev.Unit)), nil
}

// DashboardEndpoint is the grafana_dashboard relation.
const DashboardEndpoint = "grafana-dashboard"

// publishDashboards gives every grafana-dashboard relation the charm's
// dashboard (leader only), rewriting it only when it changed.
func (c *charm) publishDashboards(ctx context.Context, s *Snapshot) error {
	if !s.Leader {
		return nil
	}
	ids, err := c.tools.RelationIDs(ctx, DashboardEndpoint)
	if err != nil || len(ids) == 0 {
		return err
	}
	templates, err := relations.DashboardTemplates(relations.Topology{
		Model: c.ev.Model, ModelUUID: c.ev.ModelUUID, App: c.ev.App, CharmName: "synapse",
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		have, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: c.ev.App, App: true})
		if err != nil {
			return fmt.Errorf("read %s: %w", id, err)
		}
		if relations.TemplatesOf(have["dashboards"]) == templates {
			continue
		}
		if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: id, App: true, Data: map[string]string{"dashboards": relations.DashboardsValue(templates)}}); err != nil {
			return fmt.Errorf("write %s: %w: %w", id, err, ErrRetry)
		}
	}
	return nil
}

// MetricsEndpoint is the prometheus_scrape relation.
const MetricsEndpoint = "metrics-endpoint"

// publishMetrics keeps every metrics-endpoint relation up to date: the
// leader publishes one scrape job per Synapse process of the plan, and
// every unit publishes its address. Bags are written only when they differ.
func (c *charm) publishMetrics(ctx context.Context, s *Snapshot, plan topology.Plan) error {
	ids, err := c.tools.RelationIDs(ctx, MetricsEndpoint)
	if err != nil || len(ids) == 0 {
		return err
	}
	var targets []relations.ScrapeTarget
	for _, p := range plan.Processes {
		_, _, metrics := workload.Ports(p.Index)
		targets = append(targets, relations.ScrapeTarget{
			Unit: p.Unit, Process: p.Name, Role: string(p.Role),
			Host: relations.UnitDNSName(p.Unit, c.ev.Model), Port: metrics,
		})
	}
	if c.opts.Exporter != "" {
		// Every unit runs nginx, and with it the exporter.
		units := s.Peer.LiveUnits(c.ev.Unit)
		sort.Strings(units)
		for _, u := range units {
			targets = append(targets, relations.ScrapeTarget{
				Unit: u, Process: "nginx", Role: "router",
				Host: relations.UnitDNSName(u, c.ev.Model), Port: nginxexporter.Port,
				Job: "nginx-" + strings.ReplaceAll(u, "/", "-"), Path: "/metrics",
			})
		}
	}
	appData := relations.ScrapeAppData(targets, relations.Topology{
		Model: c.ev.Model, ModelUUID: c.ev.ModelUUID, App: c.ev.App, Unit: c.ev.Unit, CharmName: "synapse",
	})
	unitData := relations.ScrapeUnitData(c.ev.Unit, s.Address, relations.UnitDNSName(c.ev.Unit, c.ev.Model))
	for _, id := range ids {
		if err := c.setIfChanged(ctx, id, false, unitData); err != nil {
			return err
		}
		if s.Leader {
			// scrape_metadata names a unit; keep the first one written so a
			// leader change alone does not rewrite the jobs.
			if err := c.setIfChanged(ctx, id, true, appData, "scrape_metadata"); err != nil {
				return err
			}
		}
	}
	return nil
}

// setIfChanged writes the keys of data that differ from the bag; keys in
// keepIfSet are written only when absent.
func (c *charm) setIfChanged(ctx context.Context, id string, app bool, data map[string]string, keepIfSet ...string) error {
	owner := c.ev.Unit
	if app {
		owner = c.ev.App
	}
	have, err := c.tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: id, Unit: owner, App: app})
	if err != nil {
		return fmt.Errorf("read %s: %w", id, err)
	}
	keep := map[string]bool{}
	for _, k := range keepIfSet {
		keep[k] = true
	}
	changed := map[string]string{}
	for k, v := range data {
		if have[k] != v && !(keep[k] && have[k] != "") {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: id, App: app, Data: changed}); err != nil {
		return fmt.Errorf("write %s: %w: %w", id, err, ErrRetry)
	}
	return nil
}
