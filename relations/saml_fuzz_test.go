package relations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

// FuzzParseSAML: whatever saml-integrator writes, ParseSAML says not
// ready, names the key at fault, or returns values Synapse can use: URLs
// that are http(s), one-line values for homeserver.yaml, and metadata that
// is a SAML 2.0 metadata document. Run with:
//
//	go test -run XXX -fuzz FuzzParseSAML -fuzztime 30s ./relations/
func FuzzParseSAML(f *testing.F) {
	// Library v1: metadata inline and by URL.
	f.Add("https://login.ubuntu.com", "https://login.ubuntu.com/saml/metadata", ubuntuMetadata, "https://login.ubuntu.com/saml/", redirectBinding, "https://login.ubuntu.com/+logout", "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----")
	// Library v0: metadata_url only; v1 without a URL.
	f.Add("https://idp.example", "http://127.0.0.1:8080/metadata", "", "", "", "", "")
	f.Add("urn:example:idp", "", `<?xml version="1.0"?><md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>`, "", "", "", "")
	// Known-bad bags.
	f.Add("https://idp", "ftp://idp/m", "", "", "", "", "")
	f.Add("https://idp\n", "https://idp/m", "", "", "", "", "")
	f.Add("https://idp", "", "<html/>", "", "", "", "")
	f.Add("https://idp", "", "<md:EntityDescriptor", "", "", "", "")
	f.Add("https://idp", "https://idp/m", "", "https://idp:0/sso", "", "", "")
	f.Add("", "https://idp/m", ubuntuMetadata, "", "", "", "")

	f.Fuzz(func(t *testing.T, entityID, metadataURL, metadata, ssoURL, ssoBinding, sloURL, certs string) {
		app := bag("entity_id", entityID, "metadata_url", metadataURL, "metadata", metadata,
			"single_sign_on_service_redirect_url", ssoURL, "single_sign_on_service_redirect_binding", ssoBinding,
			"single_logout_service_redirect_url", sloURL, "x509certs", certs)
		s, err := relations.ParseSAML(app)
		if strings.TrimSpace(entityID) == "" || (strings.TrimSpace(metadataURL) == "" && strings.TrimSpace(metadata) == "") {
			if !errors.Is(err, relations.ErrNotReady) {
				t.Fatalf("incomplete bag %v: want ErrNotReady, got %v", app, err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, relations.ErrNotReady) {
				t.Errorf("complete bag %v is reported not ready", app)
			}
			checkHardError(t, err, "entity_id", "metadata_url", "metadata", "single_sign_on_service_redirect_url",
				"single_sign_on_service_redirect_binding", "single_logout_service_redirect_url", "x509certs")
			return
		}
		if s.EntityID == "" || (s.MetadataURL == "" && s.Metadata == "") {
			t.Errorf("accepted %+v from %v", s, app)
		}
		for field, v := range map[string]string{"entity_id": s.EntityID, "metadata_url": s.MetadataURL, "single_sign_on_service_redirect_binding": s.SSORedirectBinding} {
			if err := checkLine(field, v); err != nil {
				t.Errorf("accepted for homeserver.yaml: %v", err)
			}
		}
		for field, v := range map[string]string{"metadata_url": s.MetadataURL, "single_sign_on_service_redirect_url": s.SSORedirectURL, "single_logout_service_redirect_url": s.SLORedirectURL} {
			if v == "" {
				continue
			}
			if err := checkHTTPURL(v); err != nil {
				t.Errorf("%s accepted as %v", field, err)
			}
		}
		if s.Metadata != "" && (strings.ContainsRune(s.Metadata, 0) || !strings.Contains(s.Metadata, "urn:oasis:names:tc:SAML:2.0:metadata")) {
			t.Errorf("metadata %q accepted", s.Metadata)
		}
		for _, c := range s.Certificates {
			if c == "" || strings.Contains(c, ",") || strings.ContainsRune(c, 0) {
				t.Errorf("certificate %q from %q", c, certs)
			}
		}
	})
}
