package relations

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
)

// prometheus_scrape (prometheus-k8s, charms.prometheus_k8s.v0.prometheus_scrape).

// ScrapeTarget is one process to scrape: a Synapse process, or a unit's
// nginx exporter.
type ScrapeTarget struct {
	Unit    string
	Process string
	Role    string
	// Host is the unit's stable DNS name.
	Host string
	Port int
	// Job is the job name; "synapse-<Process>" when empty.
	Job string
	// Path is the metrics path; Synapse's /_synapse/metrics when empty.
	Path string
}

// Topology is the Juju topology Prometheus labels series with.
type Topology struct {
	Model     string `json:"model"`
	ModelUUID string `json:"model_uuid"`
	App       string `json:"application"`
	Unit      string `json:"unit"`
	CharmName string `json:"charm_name"`
}

// ScrapeJob is one entry of scrape_jobs (a Prometheus scrape config the
// provider sanitises and extends with the topology).
type ScrapeJob struct {
	JobName       string         `json:"job_name"`
	MetricsPath   string         `json:"metrics_path"`
	StaticConfigs []StaticConfig `json:"static_configs"`
}

// StaticConfig is a static target list with its labels. (Field order is
// the JSON key order: labels before targets, as a sorted map would be.)
type StaticConfig struct {
	Labels  map[string]string `json:"labels"`
	Targets []string          `json:"targets"`
}

// ParseScrapeJobs reads the scrape_jobs value of the application bag.
func ParseScrapeJobs(value string) ([]ScrapeJob, error) {
	var jobs []ScrapeJob
	if err := json.Unmarshal([]byte(value), &jobs); err != nil {
		return nil, fmt.Errorf("scrape_jobs: %w", err)
	}
	return jobs, nil
}

// ScrapeAppData is what the leader writes to the application bag: one job
// per process with an explicit target (no "*" wildcard, since processes
// and their ports differ from unit to unit), labelled with the unit,
// process and role, and the metadata Prometheus needs.
func ScrapeAppData(targets []ScrapeTarget, topo Topology) map[string]string {
	jobs := make([]ScrapeJob, 0, len(targets))
	for _, t := range targets {
		job, path := t.Job, t.Path
		if job == "" {
			job = "synapse-" + t.Process
		}
		if path == "" {
			path = "/_synapse/metrics"
		}
		jobs = append(jobs, ScrapeJob{
			JobName:     job,
			MetricsPath: path,
			StaticConfigs: []StaticConfig{{
				Targets: []string{net.JoinHostPort(t.Host, strconv.Itoa(t.Port))},
				Labels: map[string]string{
					"juju_unit":       t.Unit,
					"synapse_process": t.Process,
					"synapse_role":    t.Role,
				},
			}},
		})
	}
	jobsJSON, _ := json.Marshal(jobs)
	meta, _ := json.Marshal(topo)
	return map[string]string{
		"scrape_jobs":     string(jobsJSON),
		"scrape_metadata": string(meta),
		"alert_rules":     "{}",
	}
}

// ScrapeUnitData is what every unit writes to its own bag.
func ScrapeUnitData(unit, ip, fqdn string) map[string]string {
	return map[string]string{
		"prometheus_scrape_unit_address": ip,
		"prometheus_scrape_unit_name":    unit,
		"prometheus_scrape_unit_path":    "",
		"prometheus_scrape_unit_fqdn":    fqdn,
	}
}
