package charm

import (
	"context"
	"errors"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// SMTPEndpoint is the smtp relation (smtp-integrator's `smtp` or
// `smtp-legacy` endpoint).
const SMTPEndpoint = "smtp"

// email returns the SMTP relay Synapse sends mail through, nil when the
// relation is absent or not ready yet. The note says why mail is off when
// the operator asked for it.
func (c *charm) email(ctx context.Context, s *Snapshot, publicBaseURL string) (*workload.Email, string, *verdict, error) {
	rel := s.SMTP
	if rel == nil {
		if s.Config.EnableEmailNotifs {
			return nil, fmt.Sprintf("enable_email_notifs needs an smtp integration: juju integrate %s smtp-integrator", c.ev.App), nil, nil
		}
		return nil, "", nil, nil
	}
	if rel.Pending {
		return nil, "joining the smtp relation", nil, nil
	}
	secret, err := c.relationSecret(ctx, relations.SMTPSecretID(rel.App))
	if err != nil {
		return nil, "", nil, err
	}
	relay, err := relations.ParseSMTP(rel.App, secret)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("email is off until %s provides an SMTP relay", rel.RemoteApp), nil, nil
	case err != nil:
		v := blocked("smtp relation from %s: %v", rel.RemoteApp, err)
		return nil, "", &v, nil
	}
	if relay.Security == relations.SMTPSecurityNone && relay.Password != "" {
		v := blocked("smtp relation from %s: transport_security none would send the SMTP password in clear: juju config %s transport_security=starttls (or tls)", rel.RemoteApp, rel.RemoteApp)
		return nil, "", &v, nil
	}
	if relay.SkipVerify && relay.Security != relations.SMTPSecurityNone {
		// Synapse always verifies the relay's certificate; pretending
		// otherwise would fail every email later and silently.
		v := blocked("smtp relation from %s asks to skip TLS verification, which Synapse cannot do: give %s a certificate valid for its name, then juju config %s skip_ssl_verify=false", rel.RemoteApp, relay.Host, rel.RemoteApp)
		return nil, "", &v, nil
	}
	from := s.Config.NotifFrom
	if from == "" {
		from = relay.Sender
	}
	if from == "" {
		from = "Matrix <noreply@" + s.Config.ServerName + ">"
	}
	return &workload.Email{
		Host: relay.Host, Port: relay.Port, User: relay.User, Password: relay.Password,
		Security: relay.Security, NotifFrom: from, EnableNotifs: s.Config.EnableEmailNotifs,
		ClientBaseURL: publicBaseURL,
	}, "", nil, nil
}

// relationSecret reads a provider's secret by ID, refreshing to the latest
// revision on secret-changed; nil (and a log line) while it is not readable
// yet, which the parsers report as not ready.
func (c *charm) relationSecret(ctx context.Context, id string) (map[string]string, error) {
	if id == "" {
		return nil, nil
	}
	content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id, Refresh: c.ev.Kind() == "secret-changed"})
	if err != nil {
		c.logf("secret %s not readable yet: %v", id, err)
		return nil, nil
	}
	return content, nil
}
