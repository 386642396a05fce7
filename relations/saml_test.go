package relations_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

// ubuntuMetadata is the IdP metadata of the saml interface's example
// (charm-relation-interfaces, interfaces/saml/v1), shortened.
const ubuntuMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://login.ubuntu.com">
        <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <md:KeyDescriptor use="signing">
            <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
                <ds:X509Data>
                    <ds:X509Certificate>MIICjzCCAfigAwIBAgIJALNN</ds:X509Certificate>
                </ds:X509Data>
            </ds:KeyInfo>
        </md:KeyDescriptor>
        <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.ubuntu.com/+logout"/>
        <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:email</md:NameIDFormat>
        <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.ubuntu.com/saml/"/>
        </md:IDPSSODescriptor>
    </md:EntityDescriptor>`

const redirectBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

// v1Bag is what saml-integrator with library v1 writes.
func v1Bag() map[string]string {
	return map[string]string{
		"entity_id":                           "https://login.ubuntu.com",
		"metadata_url":                        "https://login.ubuntu.com/saml/metadata",
		"metadata":                            ubuntuMetadata,
		"single_sign_on_service_redirect_url": "https://login.ubuntu.com/saml/",
		"single_sign_on_service_redirect_binding": redirectBinding,
		"single_logout_service_redirect_url":      "https://login.ubuntu.com/+logout",
		"single_logout_service_redirect_binding":  redirectBinding,
		"x509certs":                               "-----BEGIN CERTIFICATE-----\nMIIC6DCCAdCg\n-----END CERTIFICATE-----,-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
	}
}

func TestParseSAMLLibraryV1(t *testing.T) {
	s, err := relations.ParseSAML(v1Bag())
	require.NoError(t, err)
	assert.Equal(t, "https://login.ubuntu.com", s.EntityID)
	assert.Equal(t, "https://login.ubuntu.com/saml/metadata", s.MetadataURL)
	assert.Equal(t, ubuntuMetadata, s.Metadata)
	assert.Equal(t, "https://login.ubuntu.com/saml/", s.SSORedirectURL)
	assert.Equal(t, redirectBinding, s.SSORedirectBinding)
	assert.Equal(t, "https://login.ubuntu.com/+logout", s.SLORedirectURL)
	assert.Len(t, s.Certificates, 2)
}

func TestParseSAMLLibraryV0(t *testing.T) {
	// v0 (the Python charm's library): no metadata, a metadata_url.
	bag := v1Bag()
	delete(bag, "metadata")
	s, err := relations.ParseSAML(bag)
	require.NoError(t, err)
	assert.Equal(t, "https://login.ubuntu.com/saml/metadata", s.MetadataURL)
	assert.Empty(t, s.Metadata)
}

func TestParseSAMLMetadataWithoutURL(t *testing.T) {
	bag := v1Bag()
	delete(bag, "metadata_url")
	s, err := relations.ParseSAML(bag)
	require.NoError(t, err)
	assert.Empty(t, s.MetadataURL)
	assert.Equal(t, ubuntuMetadata, s.Metadata)
}

func TestParseSAMLNotReady(t *testing.T) {
	for name, bag := range map[string]map[string]string{
		"empty":          {},
		"no entity_id":   {"metadata_url": "https://idp/metadata"},
		"no metadata":    {"entity_id": "https://idp/"},
		"blank metadata": {"entity_id": "https://idp/", "metadata": "  \n", "metadata_url": " "},
	} {
		_, err := relations.ParseSAML(bag)
		assert.ErrorIs(t, err, relations.ErrNotReady, name)
	}
}

func TestParseSAMLRejectsWhatSynapseCannotUse(t *testing.T) {
	for name, tc := range map[string]struct {
		key, value, want string
	}{
		"ftp metadata_url":    {"metadata_url", "ftp://idp/metadata", `metadata_url "ftp://idp/metadata" is not an http(s) URL`},
		"relative url":        {"metadata_url", "/saml/metadata", "metadata_url"},
		"bad port":            {"metadata_url", "https://idp:99999/m", "metadata_url"},
		"newline in url":      {"metadata_url", "https://idp/m\nx: y", "metadata_url contains a line break or NUL"},
		"newline in entity":   {"entity_id", "https://idp/\nsaml2_config: {}", "entity_id contains a line break or NUL"},
		"NUL in binding":      {"single_sign_on_service_redirect_binding", "urn:x\x00", "single_sign_on_service_redirect_binding"},
		"javascript sso url":  {"single_sign_on_service_redirect_url", "javascript:alert(1)", "single_sign_on_service_redirect_url"},
		"bad logout url":      {"single_logout_service_redirect_url", "idp/logout", "single_logout_service_redirect_url"},
		"metadata not xml":    {"metadata", "<md:EntityDescriptor", "metadata is not well-formed XML"},
		"metadata wrong root": {"metadata", "<html><body/></html>", "metadata root element is  html"},
		"metadata no ns":      {"metadata", `<EntityDescriptor entityID="x"/>`, "not a SAML 2.0 EntityDescriptor"},
		"metadata two roots":  {"metadata", ubuntuMetadata + ubuntuMetadata, "more than one root"},
		"metadata trailing":   {"metadata", ubuntuMetadata + "junk", "text outside"},
		"metadata DOCTYPE":    {"metadata", `<!DOCTYPE x [<!ENTITY a "b">]>` + ubuntuMetadata, "DOCTYPE"},
		"metadata NUL":        {"metadata", ubuntuMetadata + "\x00", "metadata contains a NUL"},
		"NUL in certs":        {"x509certs", "-----BEGIN\x00", "x509certs"},
	} {
		bag := v1Bag()
		bag[tc.key] = tc.value
		_, err := relations.ParseSAML(bag)
		require.Error(t, err, name)
		assert.False(t, errors.Is(err, relations.ErrNotReady), name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}
