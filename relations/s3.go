package relations

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// s3 (s3-integrator): track 1 answers with plain access-key/secret-key
// once the requirer wrote `bucket`; track 2 puts them in the `secret-extra`
// Juju secret when the requirer asks for secrets.

// S3Request is what the requirer writes to its application bag: both
// tracks answer it.
func S3Request(relationID string) map[string]string {
	secrets, _ := json.Marshal([]string{"access-key", "secret-key"})
	bucket := "relation-" + relationID
	if i := strings.LastIndexByte(relationID, ':'); i >= 0 {
		bucket = "relation-" + relationID[i+1:]
	}
	return map[string]string{
		"bucket":            bucket,
		"requested-secrets": string(secrets),
		"lib-version":       "1.0",
	}
}

// S3SecretID is the Juju secret holding the credentials (track 2), if any.
func S3SecretID(app map[string]string) string {
	return app["secret-extra"]
}

// S3 is a bucket the provider gave us.
type S3 struct {
	AccessKey string
	SecretKey string
	Bucket    string
	// Endpoint is an absolute URL; empty means AWS.
	Endpoint string
	Region   string
	// Prefix is the provider's path, used as the key prefix.
	Prefix string
	// PathStyle is true for path-style addressing (s3-uri-style=path).
	PathStyle bool
	// CAChain holds the PEM certificates (tls-ca-chain) that sign the
	// endpoint's, when it is not publicly trusted.
	CAChain []string
}

// ParseS3 reads the provider's application bag and, for track 2, the
// content of the secret-extra secret.
func ParseS3(app, secret map[string]string) (*S3, error) {
	access, key := app["access-key"], app["secret-key"]
	if S3SecretID(app) != "" {
		if !PlausibleSecretID(S3SecretID(app)) {
			return nil, errNotSecretURI("secret-extra")
		}
		if secret == nil {
			return nil, fmt.Errorf("credentials secret %s: %w", S3SecretID(app), ErrNotReady)
		}
		access, key = secret["access-key"], secret["secret-key"]
	}
	if access == "" || key == "" || app["bucket"] == "" {
		return nil, ErrNotReady
	}
	if bad := controlIn(map[string]string{"access-key": access, "secret-key": key, "bucket": app["bucket"], "region": app["region"], "path": app["path"]}); bad != "" {
		return nil, fmt.Errorf("%s contains a line break or NUL", bad)
	}
	s := &S3{AccessKey: access, SecretKey: key, Bucket: app["bucket"], Region: app["region"]}
	if ep := strings.TrimSpace(app["endpoint"]); ep != "" {
		if !strings.Contains(ep, "://") {
			// The integrator passes its config verbatim, which may lack a scheme.
			ep = "https://" + ep
		}
		if !validHTTPURL(ep) {
			return nil, fmt.Errorf("endpoint %q is not an http(s) URL", app["endpoint"])
		}
		s.Endpoint = ep
	}
	if p := strings.Trim(app["path"], "/"); p != "" {
		s.Prefix = p + "/"
	}
	switch style := app["s3-uri-style"]; style {
	case "", "host":
	case "path":
		s.PathStyle = true
	default:
		return nil, fmt.Errorf("s3-uri-style %q is neither path nor host", style)
	}
	if raw := app["tls-ca-chain"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &s.CAChain); err != nil {
			return nil, fmt.Errorf("tls-ca-chain is not a JSON list of PEM certificates: %w", err)
		}
	}
	if v := app["s3-api-version"]; v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("s3-api-version %q is not a number", v)
		}
	}
	return s, nil
}
