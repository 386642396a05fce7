package relations

import (
	"encoding/json"
	"fmt"
)

// ingress v2 (traefik-k8s, charms.traefik_k8s.v2.ingress): every value is
// JSON-encoded, strings included.

// IngressAppData is what the requirer's leader writes: the application to
// route to, and the port of its router (nginx on every unit).
func IngressAppData(model, app string, port int) map[string]string {
	enc := func(v any) string {
		data, _ := json.Marshal(v)
		return string(data)
	}
	return map[string]string{
		"model": enc(model),
		"name":  enc(app),
		"port":  enc(port),
		"healthcheck_params": enc(map[string]string{
			"path": "/health", "interval": "30s", "timeout": "5s",
		}),
	}
}

// IngressUnitData is what every requirer unit writes: how to reach it.
func IngressUnitData(host, ip string) map[string]string {
	h, _ := json.Marshal(host)
	i, _ := json.Marshal(ip)
	return map[string]string{"host": string(h), "ip": string(i)}
}

// ParseIngressURL reads the URL the provider published, "" while none.
func ParseIngressURL(app map[string]string) (string, error) {
	raw := app["ingress"]
	if raw == "" {
		return "", nil
	}
	var v struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return "", fmt.Errorf("ingress %q is not JSON with a url", raw)
	}
	if !validHTTPURL(v.URL) {
		return "", fmt.Errorf("ingress url %q is not an http(s) URL", v.URL)
	}
	return v.URL, nil
}
