package relations

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// saml (saml-integrator, charm-relation-interfaces saml v1): the provider's
// leader writes its application bag; the requirer writes nothing. Keys:
//
//	entity_id                                 the IdP's entity ID
//	metadata_url                              where the IdP publishes its metadata (may be absent)
//	metadata                                  the IdP's metadata XML itself (v1)
//	single_sign_on_service_redirect_url       SSO endpoint, HTTP-Redirect binding
//	single_sign_on_service_redirect_binding   its binding URN
//	single_logout_service_redirect_url        SLO endpoint (optional), and _binding,
//	                                          _response_url; likewise _post_ for POST
//	x509certs                                 the IdP's certificates, PEM, comma separated
//
// Library v0 (the Python synapse charm's) writes entity_id, metadata_url,
// x509certs and the endpoint keys but no metadata; v1 adds metadata and
// makes metadata_url optional.

// SAML is the identity provider the saml-integrator describes.
type SAML struct {
	// EntityID is the IdP's entity ID.
	EntityID string
	// MetadataURL is where Synapse may fetch the IdP's metadata; empty when
	// the provider gave none.
	MetadataURL string
	// Metadata is the IdP's metadata XML; empty when the provider gave none.
	Metadata string
	// SSORedirectURL and SSORedirectBinding are the IdP's single sign-on
	// endpoint for the HTTP-Redirect binding, if given.
	SSORedirectURL     string
	SSORedirectBinding string
	// SLORedirectURL is the IdP's single logout endpoint, if given.
	SLORedirectURL string
	// Certificates are the IdP's X.509 certificates (PEM).
	Certificates []string
}

// samlURLKeys are the keys that, when present, must hold an http(s) URL.
var samlURLKeys = []string{
	"metadata_url",
	"single_sign_on_service_redirect_url",
	"single_sign_on_service_post_url",
	"single_logout_service_url",
	"single_logout_service_redirect_url",
	"single_logout_service_redirect_response_url",
	"single_logout_service_post_url",
	"single_logout_service_post_response_url",
}

// maxSAMLURL bounds the URLs of the bag: longer ones are not URLs any
// IdP or browser uses, only a way to bloat the configuration.
const maxSAMLURL = 2048

// ParseSAML reads the provider's application bag. It is ErrNotReady until
// the bag names the IdP (entity_id) and says where its metadata is
// (metadata_url or metadata).
func ParseSAML(app map[string]string) (*SAML, error) {
	s := &SAML{
		EntityID:           strings.TrimSpace(app["entity_id"]),
		MetadataURL:        strings.TrimSpace(app["metadata_url"]),
		Metadata:           strings.TrimSpace(app["metadata"]),
		SSORedirectURL:     strings.TrimSpace(app["single_sign_on_service_redirect_url"]),
		SSORedirectBinding: strings.TrimSpace(app["single_sign_on_service_redirect_binding"]),
		SLORedirectURL:     strings.TrimSpace(app["single_logout_service_redirect_url"]),
	}
	if s.EntityID == "" || (s.MetadataURL == "" && s.Metadata == "") {
		return nil, ErrNotReady
	}
	oneLine := map[string]string{
		"entity_id": s.EntityID,
		"single_sign_on_service_redirect_binding": s.SSORedirectBinding,
	}
	for _, k := range samlURLKeys {
		oneLine[k] = app[k]
	}
	if bad := controlIn(oneLine); bad != "" {
		return nil, fmt.Errorf("%s contains a line break or NUL", bad)
	}
	for _, k := range samlURLKeys {
		v := strings.TrimSpace(app[k])
		if len(v) > maxSAMLURL {
			return nil, fmt.Errorf("%s is %d bytes long, over the %d a URL may have", k, len(v), maxSAMLURL)
		}
		if v != "" && !validHTTPURL(v) {
			return nil, fmt.Errorf("%s %q is not an http(s) URL", k, v)
		}
	}
	if s.Metadata != "" {
		if err := checkSAMLMetadata(s.Metadata); err != nil {
			return nil, fmt.Errorf("metadata %w", err)
		}
	}
	if strings.ContainsRune(app["x509certs"], 0) {
		return nil, fmt.Errorf("x509certs contains a NUL")
	}
	for _, c := range strings.Split(app["x509certs"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			s.Certificates = append(s.Certificates, c)
		}
	}
	return s, nil
}

// checkSAMLMetadata checks that metadata is well-formed XML whose root is
// a SAML 2.0 metadata EntityDescriptor or EntitiesDescriptor.
func checkSAMLMetadata(metadata string) error {
	if strings.ContainsRune(metadata, 0) {
		return fmt.Errorf("contains a NUL")
	}
	const ns = "urn:oasis:names:tc:SAML:2.0:metadata"
	d := xml.NewDecoder(strings.NewReader(metadata))
	depth := 0
	root := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("is not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root {
					return fmt.Errorf("has more than one root element")
				}
				if t.Name.Space != ns || (t.Name.Local != "EntityDescriptor" && t.Name.Local != "EntitiesDescriptor") {
					return fmt.Errorf("root element is %s %s, not a SAML 2.0 EntityDescriptor", t.Name.Space, t.Name.Local)
				}
				root = true
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.Directive:
			// pysaml2 parses with defusedxml, which refuses DTDs.
			return fmt.Errorf("has a DOCTYPE or other directive, which Synapse refuses")
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return fmt.Errorf("has text outside its root element")
			}
		}
	}
	if !root {
		return fmt.Errorf("holds no EntityDescriptor")
	}
	return nil
}
