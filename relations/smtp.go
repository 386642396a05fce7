package relations

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
)

// smtp (smtp-integrator, lib 0.21): the provider's leader writes its
// application bag; the requirer writes nothing. The `smtp` endpoint of the
// integrator puts the password in a Juju secret (password_id), the
// `smtp-legacy` endpoint writes it in plain text (password). Both speak the
// same interface, so either may be integrated with ours.

// SMTP transport security, as the integrator names it.
const (
	SMTPSecurityNone     = "none"
	SMTPSecuritySTARTTLS = "starttls"
	SMTPSecurityTLS      = "tls"
)

// SMTP is the mail relay the provider gave us.
type SMTP struct {
	Host string
	Port int
	// User and Password are empty when the relay needs no authentication.
	User     string
	Password string
	// Security is none, starttls or tls.
	Security string
	// SkipVerify is the operator's wish to accept any TLS certificate.
	SkipVerify bool
	// Sender is the provider's suggested From address, if any.
	Sender string
}

// SMTPSecretID is the Juju secret holding the password, if any.
func SMTPSecretID(app map[string]string) string {
	return app["password_id"]
}

// ParseSMTP reads the provider's application bag and, when the password is
// in a secret, the secret's content.
func ParseSMTP(app, secret map[string]string) (*SMTP, error) {
	host := strings.TrimSpace(app["host"])
	if host == "" {
		return nil, ErrNotReady
	}
	if !validHostOrIP(host) {
		return nil, fmt.Errorf("host %q is neither an IP address nor a host name", app["host"])
	}
	s := &SMTP{Host: host, Port: 25, User: app["user"], Password: app["password"]}
	if p := app["port"]; p != "" {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a TCP port", p)
		}
		s.Port = n
	}
	if SMTPSecretID(app) != "" {
		if !PlausibleSecretID(SMTPSecretID(app)) {
			return nil, errNotSecretURI("password_id")
		}
		if secret == nil {
			return nil, fmt.Errorf("password secret %s: %w", SMTPSecretID(app), ErrNotReady)
		}
		s.Password = secret["password"]
	}
	switch auth := strings.ToLower(app["auth_type"]); auth {
	case "none", "not_provided":
		// An open relay (e.g. a sidecar MTA): no credentials are sent.
		s.User, s.Password = "", ""
	case "plain", "":
		if auth == "plain" && (s.User == "" || s.Password == "") {
			return nil, fmt.Errorf("auth_type plain needs a user and a password")
		}
	default:
		return nil, fmt.Errorf("auth_type %q is not supported (Synapse authenticates with PLAIN or LOGIN): set auth_type=plain or none", app["auth_type"])
	}
	switch sec := strings.ToLower(app["transport_security"]); sec {
	case SMTPSecurityNone, SMTPSecuritySTARTTLS, SMTPSecurityTLS:
		s.Security = sec
	case "":
		s.Security = SMTPSecuritySTARTTLS
	default:
		return nil, fmt.Errorf("transport_security %q is not one of none, starttls, tls", app["transport_security"])
	}
	if v := app["skip_ssl_verify"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("skip_ssl_verify %q is not a boolean", v)
		}
		s.SkipVerify = b
	}
	if from := strings.TrimSpace(app["smtp_sender"]); from != "" {
		if _, err := mail.ParseAddress(from); err != nil {
			return nil, fmt.Errorf("smtp_sender %q is not an email address", from)
		}
		s.Sender = from
	}
	if bad := controlIn(map[string]string{"user": s.User, "password": s.Password}); bad != "" {
		return nil, fmt.Errorf("%s contains a line break or NUL", bad)
	}
	return s, nil
}
