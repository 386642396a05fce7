package relations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

func TestParseSMTP(t *testing.T) {
	// As smtp-integrator's `smtp` endpoint writes it: password in a secret.
	s, err := relations.ParseSMTP(bag("host", "smtp.example.com", "port", "587", "user", "noreply",
		"password_id", "secret:abc", "auth_type", "plain", "transport_security", "starttls",
		"skip_ssl_verify", "False", "smtp_sender", "noreply@example.com"), map[string]string{"password": "pw"})
	require.NoError(t, err)
	assert.Equal(t, relations.SMTP{Host: "smtp.example.com", Port: 587, User: "noreply", Password: "pw",
		Security: "starttls", Sender: "noreply@example.com"}, *s)

	// `smtp-legacy`: the password in plain text; defaults for the rest.
	s, err = relations.ParseSMTP(bag("host", "10.0.0.5", "user", "u", "password", "p"), nil)
	require.NoError(t, err)
	assert.Equal(t, 25, s.Port)
	assert.Equal(t, "starttls", s.Security)
	assert.Equal(t, "p", s.Password)

	// An open relay: credentials are never sent.
	s, err = relations.ParseSMTP(bag("host", "mta", "user", "u", "password", "p", "auth_type", "none", "transport_security", "none"), nil)
	require.NoError(t, err)
	assert.Empty(t, s.User+s.Password)

	_, err = relations.ParseSMTP(bag("port", "25"), nil)
	assert.ErrorIs(t, err, relations.ErrNotReady, "no host yet")
	_, err = relations.ParseSMTP(bag("host", "h", "password_id", "secret:x", "user", "u", "auth_type", "plain"), nil)
	assert.ErrorIs(t, err, relations.ErrNotReady, "secret not readable yet")

	for name, b := range map[string]map[string]string{
		"port":               bag("host", "h", "port", "99999"),
		"neither an IP":      bag("host", "smtp.example.com/x"),
		"auth_type":          bag("host", "h", "auth_type", "cram-md5"),
		"needs a user":       bag("host", "h", "auth_type", "plain"),
		"transport_security": bag("host", "h", "transport_security", "ssl"),
		"skip_ssl_verify":    bag("host", "h", "skip_ssl_verify", "maybe"),
		"smtp_sender":        bag("host", "h", "smtp_sender", "not an address"),
		"line break":         bag("host", "h", "user", "u\nx", "password", "p"),
	} {
		_, err := relations.ParseSMTP(b, nil)
		require.Error(t, err, name)
		assert.False(t, errors.Is(err, relations.ErrNotReady), name)
		assert.Contains(t, err.Error(), name)
	}
}

// FuzzParseSMTP: any bag either parses into values Synapse can use or
// fails; a parsed relay has a host, a TCP port and a known security mode,
// and the password is never part of an error.
func FuzzParseSMTP(f *testing.F) {
	f.Add("smtp.example.com", "587", "noreply", "pw", "plain", "starttls", "False", "noreply@example.com")
	f.Add("10.1.2.3", "", "", "", "none", "none", "True", "")
	f.Add("h", "0", "u", "p\n", "PLAIN", "TLS", "1", "x")
	f.Fuzz(func(t *testing.T, host, port, user, password, auth, security, skip, sender string) {
		app := bag("host", host, "port", port, "user", user, "password", password,
			"auth_type", auth, "transport_security", security, "skip_ssl_verify", skip, "smtp_sender", sender)
		s, err := relations.ParseSMTP(app, nil)
		if err != nil {
			others := strings.Join([]string{host, port, user, auth, security, skip, sender}, "\x00")
			if len(password) > 3 && strings.Contains(err.Error(), password) && !strings.Contains(others, password) {
				t.Fatalf("error leaks the password: %v", err)
			}
			return
		}
		if err := checkHost(s.Host); err != nil {
			t.Fatal(err)
		}
		if s.Port < 1 || s.Port > 65535 {
			t.Fatalf("port %d", s.Port)
		}
		switch s.Security {
		case "none", "starttls", "tls":
		default:
			t.Fatalf("security %q", s.Security)
		}
		if strings.ContainsAny(s.User+s.Password, "\r\n\x00") {
			t.Fatalf("control characters in credentials")
		}
	})
}
