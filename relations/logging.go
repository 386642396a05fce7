package relations

import (
	"encoding/json"
	"fmt"
	"sort"
)

// loki_push_api (loki-k8s, charms.loki_k8s.v1.loki_push_api): every Loki
// unit publishes its push endpoint; the requirer forwards logs to each.

// ParseLokiEndpoints returns the push URL of every Loki unit that has
// published one, keyed by unit name. A unit with a malformed endpoint is
// an error naming it.
func ParseLokiEndpoints(units map[string]map[string]string) (map[string]string, error) {
	out := map[string]string{}
	names := make([]string, 0, len(units))
	for name := range units {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := units[name]["endpoint"]
		if raw == "" {
			continue
		}
		var v struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("endpoint of %s is not JSON with a url", name)
		}
		if !validHTTPURL(v.URL) {
			return nil, fmt.Errorf("endpoint of %s, %q, is not an http(s) URL", name, v.URL)
		}
		out[name] = v.URL
	}
	return out, nil
}

// LokiLabels are the Juju topology labels put on every forwarded line.
func LokiLabels(model, modelUUID, app, unit string) map[string]string {
	uuid8 := modelUUID
	if len(uuid8) > 8 {
		uuid8 = uuid8[:8]
	}
	return map[string]string{
		"product":          "Juju",
		"charm":            "synapse",
		"juju_model":       model,
		"juju_model_uuid":  modelUUID,
		"juju_application": app,
		"juju_unit":        unit,
		"job":              "juju_" + model + "_" + uuid8 + "_" + app,
	}
}
