package relations

import (
	"fmt"
	"strings"
)

// maxSecretURI bounds a secret ID a provider publishes: a Juju secret URI
// (secret:<20 characters>, or secret://<model-uuid>/<20 characters>) is
// well under it.
const maxSecretURI = 200

// PlausibleSecretID reports whether a secret ID from a provider's bag may
// be given to secret-get: bounded and without blanks, so a hostile bag
// never makes a hook tool's argument of any size.
func PlausibleSecretID(id string) bool {
	return strings.HasPrefix(id, "secret:") && len(id) <= maxSecretURI && !strings.ContainsAny(id, " \t\r\n\x00")
}

func errNotSecretURI(key string) error {
	return fmt.Errorf("%s is not a Juju secret URI", key)
}
