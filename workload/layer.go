package workload

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// LayerLabel is the label of the charm's Pebble layer in every container.
const LayerLabel = "synapse-charm"

// Layer is a Pebble layer: the subset of the layer schema the charm uses.
type Layer struct {
	Summary    string               `yaml:"summary,omitempty"`
	Services   map[string]Service   `yaml:"services,omitempty"`
	Checks     map[string]Check     `yaml:"checks,omitempty"`
	LogTargets map[string]LogTarget `yaml:"log-targets,omitempty"`
}

// LogTarget forwards services' logs (to Loki).
type LogTarget struct {
	Override string            `yaml:"override"`
	Type     string            `yaml:"type"`
	Location string            `yaml:"location"`
	Services []string          `yaml:"services"`
	Labels   map[string]string `yaml:"labels,omitempty"`
}

// LokiTargets makes one log target per Loki push URL (keyed by the Loki
// unit), forwarding every service's logs with the Juju topology labels.
func LokiTargets(urls map[string]string, labels map[string]string) map[string]LogTarget {
	if len(urls) == 0 {
		return nil
	}
	out := map[string]LogTarget{}
	for name, url := range urls {
		out[name] = LogTarget{Override: "replace", Type: "loki", Location: url, Services: []string{"all"}, Labels: labels}
	}
	return out
}

// Service is a Pebble service definition.
type Service struct {
	Override       string            `yaml:"override"`
	Summary        string            `yaml:"summary,omitempty"`
	Command        string            `yaml:"command"`
	Startup        string            `yaml:"startup"`
	Environment    map[string]string `yaml:"environment,omitempty"`
	After          []string          `yaml:"after,omitempty"`
	OnCheckFailure map[string]string `yaml:"on-check-failure,omitempty"`
	KillDelay      string            `yaml:"kill-delay,omitempty"`
	// UserID and GroupID run the service as that user and group (Pebble
	// itself runs as root); nil runs it as root.
	UserID  *int `yaml:"user-id,omitempty"`
	GroupID *int `yaml:"group-id,omitempty"`
}

// Check is a Pebble health check definition.
type Check struct {
	Override  string `yaml:"override"`
	Level     string `yaml:"level,omitempty"`
	Period    string `yaml:"period,omitempty"`
	Timeout   string `yaml:"timeout,omitempty"`
	Threshold int    `yaml:"threshold,omitempty"`
	// Startup "disabled" keeps a check defined but not run (Pebble cannot
	// delete one); empty means enabled.
	Startup string     `yaml:"startup,omitempty"`
	HTTP    *HTTPCheck `yaml:"http,omitempty"`
	TCP     *TCPCheck  `yaml:"tcp,omitempty"`
}

// HTTPCheck succeeds on a 2xx answer from URL.
type HTTPCheck struct {
	URL string `yaml:"url"`
}

// TCPCheck succeeds when Host:Port accepts a connection.
type TCPCheck struct {
	Port int    `yaml:"port"`
	Host string `yaml:"host,omitempty"`
}

// YAML renders the layer.
func (l Layer) YAML() ([]byte, error) {
	out, err := yaml.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("render layer: %w", err)
	}
	return out, nil
}

// Container is the desired state of one workload container.
type Container struct {
	// Name is the container name from metadata.yaml.
	Name string
	// Files are pushed when their content or mode differs.
	Files []File
	// Layer holds every service and check the charm wants in the container.
	Layer Layer
	// ReadyChecks names the ready checks whose passing means the unit serves.
	ReadyChecks []string
	// PruneDirs are directories the charm owns: files in them that are not
	// in Files are removed (stale credentials, removed workers' configs).
	PruneDirs []string
	// Reload maps a service to the files whose change it applies on SIGHUP,
	// not a restart (nginx); such a service's environment carries no hash.
	Reload map[string][]string
	// DependencyChecks maps the checks that watch a service outside the
	// unit (PostgreSQL, Redis) to how the status names it; Ready reports
	// those that are down.
	DependencyChecks map[string]string
	// Writable are the paths the services write, with the owner they
	// need; Execute fixes an owner that differs before starting them.
	Writable []Writable
	// Executables are programs copied from the charm container, pushed
	// only when missing: their Path carries a version, so an existing file
	// is the right one and is never read back. A pruned directory keeps
	// them.
	Executables []Executable
}

// Executable is a program the charm ships into a workload container.
type Executable struct {
	// Path is where it goes in the container; it should name the version.
	Path string
	// Source is the file in the charm container.
	Source string
}
