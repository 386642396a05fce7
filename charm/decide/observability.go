package decide

import (
	"sort"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// publishMetrics keeps every metrics-endpoint relation up to date: the
// leader publishes one scrape job per Synapse process of the plan (and per
// unit's nginx), and every unit publishes its address.
func (x *decider) publishMetrics(plan topology.Plan) {
	s, ev := x.s, x.ev()
	if len(s.Metrics) == 0 {
		return
	}
	var targets []relations.ScrapeTarget
	for _, p := range plan.Processes {
		_, _, metrics := workload.Ports(p.Index)
		targets = append(targets, relations.ScrapeTarget{
			Unit: p.Unit, Process: p.Name, Role: string(p.Role),
			Host: relations.UnitDNSName(p.Unit, ev.Model), Port: metrics,
		})
	}
	if s.Exporter != nil {
		// Every unit runs nginx, and with it the exporter.
		units := s.Peer.LiveUnits(ev.Unit)
		sort.Strings(units)
		for _, u := range units {
			targets = append(targets, relations.ScrapeTarget{
				Unit: u, Process: "nginx", Role: "router",
				Host: relations.UnitDNSName(u, ev.Model), Port: workload.NginxExporterPort,
				Job: "nginx-" + strings.ReplaceAll(u, "/", "-"), Path: "/metrics",
			})
		}
	}
	appData := relations.ScrapeAppData(targets, relations.Topology{
		Model: ev.Model, ModelUUID: ev.ModelUUID, App: ev.App, Unit: ev.Unit, CharmName: "synapse",
	})
	unitData := relations.ScrapeUnitData(ev.Unit, s.Address, relations.UnitDNSName(ev.Unit, ev.Model))
	for _, rel := range s.Metrics {
		x.d.set(rel.ID, false, rel.Own, unitData)
		if s.Leader {
			// scrape_metadata names a unit; keep the first one written so
			// a leader change alone does not rewrite the jobs.
			x.d.set(rel.ID, true, rel.Local, appData, "scrape_metadata")
		}
	}
}

// publishDashboards gives every grafana-dashboard relation the charm's
// dashboard (leader only), rewriting it only when it changed.
func (x *decider) publishDashboards() {
	s, ev := x.s, x.ev()
	if !s.Leader || len(s.Dashboards) == 0 {
		return
	}
	templates, err := relations.DashboardTemplates(relations.Topology{
		Model: ev.Model, ModelUUID: ev.ModelUUID, App: ev.App, CharmName: "synapse",
	})
	if err != nil {
		x.d.logf("cannot render the dashboard: %v", err)
		return
	}
	for _, rel := range s.Dashboards {
		if relations.TemplatesOf(rel.Local["dashboards"]) == templates {
			continue
		}
		x.d.set(rel.ID, true, rel.Local, map[string]string{"dashboards": relations.DashboardsValue(templates)})
	}
}

// nginxRouteReadTimeout matches the per-unit nginx's proxy_read_timeout:
// long-polls and large media transfers must not be cut by the ingress.
const nginxRouteReadTimeout = 300

// publishNginxRoute asks nginx-ingress-integrator for a Kubernetes ingress
// to the application's Service on the router port of every unit. Only the
// leader writes, and only the keys that changed.
func (x *decider) publishNginxRoute() {
	s, ev := x.s, x.ev()
	rel := s.NginxRoute
	if rel == nil || rel.Pending || !s.Leader {
		return
	}
	want := relations.NginxRoute{
		Hostname:           relations.NginxRouteHostname(s.Config.PublicBaseURL, s.Config.ServerName),
		Service:            ev.App,
		Namespace:          ev.Model,
		Port:               workload.NginxPort,
		ReadTimeoutSeconds: nginxRouteReadTimeout,
	}
	want.MaxBodyBytes, _ = config.SizeBytes(s.Config.MaxUploadSize)
	x.d.set(rel.ID, true, rel.Local, want.AppData())
}

// nginx decides this unit's router from the plan and the addresses the
// units published: a changed config reloads nginx, it never restarts it.
func (x *decider) nginx(plan topology.Plan, logTargets map[string]workload.LogTarget) {
	s, d, ev := x.s, x.d, x.ev()
	in := workload.NginxInput{BindAddress: s.Address, MaxUploadSize: s.Config.MaxUploadSize, Exporter: s.Exporter, TrustedProxies: s.Config.TrustedProxies}
	for _, p := range plan.Processes {
		ip := s.Address
		if p.Unit != ev.Unit {
			report, _ := relations.ParseUnitReport(s.Peer.Units[p.Unit])
			ip = report.IP
		}
		if ip == "" {
			if p.Role == workload.RoleMain {
				d.waiting(RankRouter, "nginx waits for the main %s to publish its address", p.Unit)
				return
			}
			continue
		}
		in.Processes = append(in.Processes, workload.NginxProcess{Name: p.Name, Role: p.Role, IP: ip, Index: p.Index})
	}
	want, err := workload.RenderNginxContainer(in)
	if err != nil {
		d.blocked(RankRouter, "cannot render nginx's configuration: %v", err)
		return
	}
	want.Layer.LogTargets = logTargets
	if !s.Nginx.Reachable {
		d.waiting(RankRouter, "waiting for Pebble in the %s container", workload.NginxContainer)
		return
	}
	d.Nginx = &ContainerPlan{Want: want, Changes: workload.Diff(s.Nginx.State, want)}
}
