package sim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"
)

// CharmMeta is what the simulator needs to know about the charm: the parts
// of metadata.yaml, charmcraft.yaml, config.yaml and actions.yaml that shape
// the hooks Juju fires and the tools' answers.
type CharmMeta struct {
	// Name is the charm name.
	Name string
	// Containers are the workload containers, in name order.
	Containers []ContainerMeta
	// Storage are the storage definitions, in name order.
	Storage []StorageMeta
	// Peers, Requires and Provides map endpoint names to interfaces.
	Peers, Requires, Provides map[string]string
	// Config holds the config options by name.
	Config map[string]ConfigOption
	// Actions holds the actions by name; nil means unknown (any action name
	// is accepted).
	Actions map[string]ActionMeta
}

// ContainerMeta is one workload container.
type ContainerMeta struct {
	// Name is the container name, e.g. "synapse".
	Name string
	// Mounts are the storage mounts of the container.
	Mounts []MountMeta
}

// MountMeta mounts a storage in a container.
type MountMeta struct {
	// Storage is the storage name, e.g. "data".
	Storage string
	// Location is the path in the container, e.g. "/data".
	Location string
}

// StorageMeta is one storage definition.
type StorageMeta struct {
	// Name is the storage name.
	Name string
	// Type is "filesystem" or "block".
	Type string
	// Location is where the charm container sees it.
	Location string
}

// ConfigOption is one config option.
type ConfigOption struct {
	// Type is string, int, float, boolean or secret.
	Type string
	// Default is the typed default, or nil when there is none.
	Default any
	// Description is the option's description.
	Description string
}

// ActionMeta is one action.
type ActionMeta struct {
	// Description is the action's description.
	Description string
	// Params maps parameter names to their JSON schema.
	Params map[string]map[string]any
	// Schema is the action's whole definition as declared (description,
	// params, required, additionalProperties, ...).
	Schema map[string]any
}

// DefaultSynapseMeta is the metadata used when the charm root holds no
// metadata: the canonical synapse charm's endpoints (relations.md §9), its
// two containers and its data storage.
func DefaultSynapseMeta() *CharmMeta {
	return &CharmMeta{
		Name: "synapse",
		Containers: []ContainerMeta{
			{Name: "synapse", Mounts: []MountMeta{{Storage: "data", Location: "/data"}}},
			{Name: "synapse-nginx"},
		},
		Storage: []StorageMeta{{Name: "data", Type: "filesystem", Location: "/data"}},
		Peers:   map[string]string{"synapse-peers": "synapse-instance"},
		Requires: map[string]string{
			"backup": "s3", "database": "postgresql_client", "mas-database": "postgresql_client",
			"ingress": "ingress", "logging": "loki_push_api", "media": "s3",
			"nginx-route": "nginx_route", "redis": "redis", "smtp": "smtp",
		},
		Provides: map[string]string{
			"grafana-dashboard": "grafana_dashboard", "metrics-endpoint": "prometheus_scrape",
			"matrix-auth": "matrix_auth",
		},
		Config: map[string]ConfigOption{},
	}
}

// rawMeta is the YAML shape shared by metadata.yaml and charmcraft.yaml.
type rawMeta struct {
	Name       string `yaml:"name"`
	Containers map[string]struct {
		Mounts []struct {
			Storage  string `yaml:"storage"`
			Location string `yaml:"location"`
		} `yaml:"mounts"`
	} `yaml:"containers"`
	Storage map[string]struct {
		Type     string `yaml:"type"`
		Location string `yaml:"location"`
	} `yaml:"storage"`
	Peers    map[string]rawEndpoint `yaml:"peers"`
	Requires map[string]rawEndpoint `yaml:"requires"`
	Provides map[string]rawEndpoint `yaml:"provides"`
	Config   *rawConfig             `yaml:"config"`
	Options  map[string]rawOption   `yaml:"options"` // config.yaml
	Actions  map[string]rawAction   `yaml:"actions"`
}

type rawEndpoint struct {
	Interface string `yaml:"interface"`
}

type rawConfig struct {
	Options map[string]rawOption `yaml:"options"`
}

type rawOption struct {
	Type        string `yaml:"type"`
	Default     any    `yaml:"default"`
	Description string `yaml:"description"`
}

type rawAction struct {
	Description string
	Params      map[string]map[string]any
	Schema      map[string]any
}

// UnmarshalYAML keeps the whole definition besides the fields read here:
// Juju validates parameters against all of it (required,
// additionalProperties, ...).
func (a *rawAction) UnmarshalYAML(value *yaml.Node) error {
	var fields struct {
		Description string                    `yaml:"description"`
		Params      map[string]map[string]any `yaml:"params"`
	}
	if err := value.Decode(&fields); err != nil {
		return err
	}
	if err := value.Decode(&a.Schema); err != nil {
		return err
	}
	a.Description, a.Params = fields.Description, fields.Params
	return nil
}

// LoadCharmMeta reads metadata.yaml, charmcraft.yaml, config.yaml and
// actions.yaml from root, whichever exist. Endpoints and containers come
// from DefaultSynapseMeta when neither metadata.yaml nor charmcraft.yaml
// declares any; config options are empty when no file declares them.
func LoadCharmMeta(root string) (*CharmMeta, error) {
	meta := &CharmMeta{
		Peers: map[string]string{}, Requires: map[string]string{}, Provides: map[string]string{},
		Config: map[string]ConfigOption{},
	}
	declared := false
	for _, name := range []string{"charmcraft.yaml", "metadata.yaml", "config.yaml", "actions.yaml"} {
		if root == "" {
			break
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("charm metadata: %w", err)
		}
		if name == "actions.yaml" {
			var actions map[string]rawAction
			if err := yaml.Unmarshal(data, &actions); err != nil {
				return nil, fmt.Errorf("charm metadata: %s: %w", name, err)
			}
			meta.addActions(actions)
			continue
		}
		var raw rawMeta
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("charm metadata: %s: %w", name, err)
		}
		if raw.Name != "" {
			meta.Name = raw.Name
		}
		if len(raw.Containers)+len(raw.Peers)+len(raw.Requires)+len(raw.Provides) > 0 {
			declared = true
		}
		for cname, c := range raw.Containers {
			cm := ContainerMeta{Name: cname}
			for _, m := range c.Mounts {
				cm.Mounts = append(cm.Mounts, MountMeta{Storage: m.Storage, Location: m.Location})
			}
			meta.Containers = append(meta.Containers, cm)
		}
		for sname, s := range raw.Storage {
			meta.Storage = append(meta.Storage, StorageMeta{Name: sname, Type: s.Type, Location: s.Location})
		}
		for ep, e := range raw.Peers {
			meta.Peers[ep] = e.Interface
		}
		for ep, e := range raw.Requires {
			meta.Requires[ep] = e.Interface
		}
		for ep, e := range raw.Provides {
			meta.Provides[ep] = e.Interface
		}
		opts := raw.Options
		if raw.Config != nil {
			opts = raw.Config.Options
		}
		for oname, o := range opts {
			opt, err := newConfigOption(oname, o)
			if err != nil {
				return nil, fmt.Errorf("charm metadata: %s: %w", name, err)
			}
			meta.Config[oname] = opt
		}
		if raw.Actions != nil {
			meta.addActions(raw.Actions)
		}
	}
	if !declared {
		def := DefaultSynapseMeta()
		if meta.Name == "" {
			meta.Name = def.Name
		}
		meta.Containers, meta.Storage = def.Containers, def.Storage
		meta.Peers, meta.Requires, meta.Provides = def.Peers, def.Requires, def.Provides
	}
	if meta.Name == "" {
		meta.Name = "synapse"
	}
	sort.Slice(meta.Containers, func(i, j int) bool { return meta.Containers[i].Name < meta.Containers[j].Name })
	sort.Slice(meta.Storage, func(i, j int) bool { return meta.Storage[i].Name < meta.Storage[j].Name })
	return meta, nil
}

func (m *CharmMeta) addActions(actions map[string]rawAction) {
	if m.Actions == nil {
		m.Actions = map[string]ActionMeta{}
	}
	for name, a := range actions {
		m.Actions[name] = ActionMeta(a)
	}
}

// newConfigOption types the default of an option.
func newConfigOption(name string, o rawOption) (ConfigOption, error) {
	opt := ConfigOption{Type: o.Type, Description: o.Description}
	if opt.Type == "" {
		opt.Type = "string"
	}
	if o.Default == nil {
		return opt, nil
	}
	v, err := coerceConfig(opt.Type, o.Default)
	if err != nil {
		return opt, fmt.Errorf("option %q default: %w", name, err)
	}
	opt.Default = v
	return opt, nil
}

// coerceConfig converts a YAML-decoded value to the option's type.
func coerceConfig(typ string, v any) (any, error) {
	switch typ {
	case "string", "secret":
		switch x := v.(type) {
		case string:
			return x, nil
		default:
			return fmt.Sprint(x), nil
		}
	case "int":
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case float64:
			if x == float64(int64(x)) {
				return int64(x), nil
			}
		}
	case "float":
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	default:
		return nil, fmt.Errorf("unknown option type %q", typ)
	}
	return nil, fmt.Errorf("%v is not a valid %s", v, typ)
}

// endpointInterface returns the interface and role of one of our endpoints.
func (m *CharmMeta) endpointInterface(endpoint string) (iface, role string, ok bool) {
	if i, ok := m.Peers[endpoint]; ok {
		return i, "peer", true
	}
	if i, ok := m.Requires[endpoint]; ok {
		return i, "requirer", true
	}
	if i, ok := m.Provides[endpoint]; ok {
		return i, "provider", true
	}
	return "", "", false
}

// peerEndpoints returns the peer endpoints in name order.
func (m *CharmMeta) peerEndpoints() []string {
	var out []string
	for ep := range m.Peers {
		out = append(out, ep)
	}
	sort.Strings(out)
	return out
}

// hasEndpoint reports whether the charm declares the endpoint (juju-info is
// implicit).
func (m *CharmMeta) hasEndpoint(ep string) bool {
	_, _, ok := m.endpointInterface(ep)
	return ok || ep == "juju-info"
}
