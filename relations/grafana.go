package relations

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
)

// grafana_dashboard (grafana-k8s, charms.grafana_k8s.v0.grafana_dashboard):
// the leader publishes its dashboards, each LZMA/XZ-compressed and base64
// encoded, in the `dashboards` key of the application bag.

// synapseDashboardXZ is dashboards/synapse.json, compressed at build time:
// an XZ compressor linked into the charm would cost start-up time on every
// hook for a constant. Edit the JSON, then run go generate ./relations (a
// test fails while the two differ).
//
//go:generate go run ./dashboards/compress dashboards/synapse.json dashboards/synapse.json.xz
//go:embed dashboards/synapse.json.xz
var synapseDashboardXZ []byte

// DashboardTemplates is the `templates` part of the dashboards key: it
// changes only when a dashboard or the topology changes.
func DashboardTemplates(topo Topology) (string, error) {
	templates := map[string]any{
		"file:synapse": map[string]any{
			"charm":            topo.CharmName,
			"content":          base64.StdEncoding.EncodeToString(synapseDashboardXZ),
			"juju_topology":    topo,
			"inject_dropdowns": true,
		},
	}
	out, err := json.Marshal(templates)
	return string(out), err
}

// DashboardsValue wraps templates with a fresh uuid, as the library does to
// make Grafana notice every write.
func DashboardsValue(templates string) string {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return `{"templates": ` + templates + `, "uuid": "` + hex.EncodeToString(id) + `"}`
}

// TemplatesOf extracts the templates part of a published dashboards value.
func TemplatesOf(value string) string {
	var v struct {
		Templates json.RawMessage `json:"templates"`
	}
	if json.Unmarshal([]byte(value), &v) != nil {
		return ""
	}
	return string(v.Templates)
}
