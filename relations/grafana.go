package relations

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/ulikunitz/xz"
)

// grafana_dashboard (grafana-k8s, charms.grafana_k8s.v0.grafana_dashboard):
// the leader publishes its dashboards, each LZMA/XZ-compressed and base64
// encoded, in the `dashboards` key of the application bag.

//go:embed dashboards/synapse.json
var synapseDashboard []byte

// DashboardTemplates is the `templates` part of the dashboards key: it
// changes only when a dashboard or the topology changes.
func DashboardTemplates(topo Topology) (string, error) {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		return "", fmt.Errorf("compress dashboard: %w", err)
	}
	if _, err := w.Write(synapseDashboard); err != nil {
		return "", fmt.Errorf("compress dashboard: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("compress dashboard: %w", err)
	}
	templates := map[string]any{
		"file:synapse": map[string]any{
			"charm":            topo.CharmName,
			"content":          base64.StdEncoding.EncodeToString(buf.Bytes()),
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
