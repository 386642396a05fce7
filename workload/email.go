package workload

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// EmailConfigPath is an extra Synapse config file holding the `email`
// section. Synapse has no smtp_pass_path, so the password must sit in a
// config file: this one is 0600 and holds nothing else, and every process
// reads it with a second --config-path. (Synapse merges config files key by
// key at the top level, so the whole section lives here.)
const EmailConfigPath = SecretsDir + "/email.yaml"

// Email is the SMTP relay Synapse sends notifications and validation mail
// through.
type Email struct {
	Host string
	Port int
	// User and Password are empty for a relay without authentication.
	User     string
	Password string
	// Security is "none", "starttls" or "tls" (implicit TLS).
	Security string
	// NotifFrom is the From address, e.g. "Matrix <noreply@example.com>".
	NotifFrom string
	// EnableNotifs sends email notifications of unread messages.
	EnableNotifs bool
	// ClientBaseURL is where links in emails point (the public base URL).
	ClientBaseURL string
}

// RenderEmailConfig renders the `email` section as its own config file.
func RenderEmailConfig(e *Email) ([]byte, error) {
	if e.Host == "" || e.NotifFrom == "" {
		return nil, fmt.Errorf("render email config: host and notif_from are required")
	}
	section := map[string]any{
		"smtp_host":     e.Host,
		"smtp_port":     e.Port,
		"notif_from":    e.NotifFrom,
		"enable_notifs": e.EnableNotifs,
		"app_name":      "Matrix",
	}
	if e.ClientBaseURL != "" {
		section["client_base_url"] = e.ClientBaseURL
	}
	if e.User != "" {
		section["smtp_user"] = e.User
		section["smtp_pass"] = e.Password
	}
	switch e.Security {
	case "tls":
		section["force_tls"] = true
	case "starttls":
		// Fail rather than send the password (or mail) in clear when the
		// relay does not offer STARTTLS.
		section["require_transport_security"] = true
	case "none":
		section["enable_tls"] = false
	default:
		return nil, fmt.Errorf("render email config: unknown transport security %q", e.Security)
	}
	out, err := yaml.Marshal(map[string]any{"email": section})
	if err != nil {
		return nil, fmt.Errorf("render email config: %w", err)
	}
	return append([]byte("# Rendered by the synapse charm from the smtp integration. Mode 0600: it holds the SMTP password.\n"), out...), nil
}
