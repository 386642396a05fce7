package relations

import (
	"net/url"
	"strconv"
)

// nginx-route (nginx-ingress-integrator, lib nginx_route v0): one-way. The
// requirer's leader writes the ingress it wants into its application bag,
// every value a string; the provider writes nothing back. The keys are the
// integrator's config option names; service-hostname, service-name,
// service-port and service-namespace are required.

// NginxRoute is the Kubernetes ingress we ask the integrator to create.
type NginxRoute struct {
	// Hostname is the public host name the ingress answers for.
	Hostname string
	// Service and Namespace name the Kubernetes Service Juju created for
	// the application (the application name, in the model's namespace).
	Service   string
	Namespace string
	// Port is the port of the router on every unit.
	Port int
	// MaxBodyBytes is the largest request body; the integrator takes whole
	// megabytes, so it is rounded up.
	MaxBodyBytes int64
	// ReadTimeoutSeconds bounds how long the ingress waits for a response
	// (long-polling /sync and big media uploads need more than the default).
	ReadTimeoutSeconds int
}

// AppData is the requirer's application bag.
func (r NginxRoute) AppData() map[string]string {
	const mib = 1 << 20
	data := map[string]string{
		"service-hostname":  r.Hostname,
		"service-name":      r.Service,
		"service-namespace": r.Namespace,
		"service-port":      strconv.Itoa(r.Port),
	}
	if r.MaxBodyBytes > 0 {
		data["max-body-size"] = strconv.FormatInt((r.MaxBodyBytes+mib-1)/mib, 10)
	}
	if r.ReadTimeoutSeconds > 0 {
		data["proxy-read-timeout"] = strconv.Itoa(r.ReadTimeoutSeconds)
	}
	return data
}

// NginxRouteHostname is the host clients reach: public_baseurl's host when
// set (often matrix.example.com while server_name is example.com), else
// server_name without a port.
func NginxRouteHostname(publicBaseURL, serverName string) string {
	if u, err := url.Parse(publicBaseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	if u, err := url.Parse("//" + serverName); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return serverName
}
