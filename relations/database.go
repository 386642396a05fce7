package relations

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// postgresql_client (data_interfaces v0, as postgresql-k8s speaks it).

// ErrNotReady means the provider has not answered yet; not an error to show
// as blocked, only something to wait for.
var ErrNotReady = errors.New("not ready")

// DatabaseRequest is what the requirer writes to its application bag, once,
// in one hook: the provider acts only on the first `database` it sees and
// fails on a later change of extra-user-roles.
func DatabaseRequest(database string) map[string]string {
	secrets, _ := json.Marshal([]string{"username", "password", "tls", "tls-ca", "uris", "read-only-uris"})
	return map[string]string{
		"database": database,
		// SUPERUSER lets the charm give the new database the C collation
		// Synapse requires (postgresql-k8s creates it with its default).
		"extra-user-roles":  "SUPERUSER",
		"requested-secrets": string(secrets),
	}
}

// DatabaseSecretID returns the Juju secret holding the credentials, if the
// provider used one.
func DatabaseSecretID(app map[string]string) string {
	return app["secret-user"]
}

// Database is a database the provider created for us.
type Database struct {
	Host     string
	Port     int
	Name     string
	User     string
	Password string
	// TLS is true when the provider says the server requires TLS.
	TLS   bool
	TLSCA string
}

// ParseDatabase reads the provider's application bag and, when the provider
// uses secrets, the content of the `secret-user` secret. requested is the
// database name we asked for.
func ParseDatabase(app, secret map[string]string, requested string) (*Database, error) {
	user, password := app["username"], app["password"]
	if DatabaseSecretID(app) != "" {
		if !PlausibleSecretID(DatabaseSecretID(app)) {
			return nil, errNotSecretURI("secret-user")
		}
		if secret == nil {
			return nil, fmt.Errorf("credentials secret %s: %w", DatabaseSecretID(app), ErrNotReady)
		}
		user, password = secret["username"], secret["password"]
	}
	if user == "" || password == "" || app["endpoints"] == "" {
		return nil, ErrNotReady
	}
	host, port, err := firstEndpoint(app["endpoints"])
	if err != nil {
		return nil, fmt.Errorf("endpoints %q: %w", app["endpoints"], err)
	}
	d := &Database{Host: host, Port: port, Name: requested, User: user, Password: password}
	if name := app["database"]; name != "" {
		d.Name = name
	}
	if key := controlIn(map[string]string{"username": user, "password": password, "database": d.Name}); key != "" {
		return nil, fmt.Errorf("%s contains a line break or NUL", key)
	}
	if tls := app["tls"]; tls != "" {
		d.TLS, err = strconv.ParseBool(strings.ToLower(tls))
		if err != nil {
			return nil, fmt.Errorf("tls %q is not a boolean", tls)
		}
	}
	d.TLSCA = app["tls-ca"]
	return d, nil
}

// firstEndpoint takes the first of a comma-separated host:port list; the
// port follows the last colon, so IPv6 literals in brackets work.
func firstEndpoint(endpoints string) (string, int, error) {
	first := strings.TrimSpace(strings.Split(endpoints, ",")[0])
	host, portStr, err := net.SplitHostPort(first)
	if err != nil {
		return "", 0, fmt.Errorf("not host:port")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 || !validHostOrIP(host) {
		return "", 0, fmt.Errorf("bad port or host")
	}
	return host, port, nil
}
