package workload

// SAML is the SAML2 identity provider Synapse signs users in with
// (saml2_config). Synapse 1.160 needs pysaml2 (the saml2 Python module)
// and xmlsec1 in the image for it.
type SAML struct {
	// SPEntityID is Synapse's own entity ID as a service provider, the one
	// the IdP knows it by.
	SPEntityID string
	// Metadata is the IdP's metadata XML as the provider gave it. When set
	// it is written to SAMLMetadataPath and preferred to MetadataURL:
	// Synapse then starts even while the IdP is down (a remote fetch
	// failing at start stops the process), and the integrator republishes
	// it when the IdP changes, which restarts Synapse through the file hash.
	Metadata string
	// MetadataURL is where Synapse fetches the IdP's metadata when it
	// starts, used only when Metadata is empty (saml library v0).
	MetadataURL string
}

// SAMLDir holds the IdP metadata file; it is not secret.
const SAMLDir = DataDir + "/saml"

// SAMLMetadataPath is the IdP metadata file when the provider gave the
// metadata inline.
const SAMLMetadataPath = SAMLDir + "/idp-metadata.xml"

// SAMLModule is the Python module Synapse's SAML2 support imports.
const SAMLModule = "saml2"

// samlConfig renders saml2_config with the effect of the Python charm's,
// so that a switch of charms keeps the SP entity ID the IdP knows and the
// Matrix IDs of the users who signed in before: the uid attribute, dots
// replaced (dotreplace), is the localpart. (The Python charm also writes
// service.sp.entityId, which pysaml2 ignores: its entity ID is Synapse's
// default, which SPEntityID spells out.)
func samlConfig(s *SAML) map[string]any {
	metadata := map[string]any{"local": []string{SAMLMetadataPath}}
	if s.Metadata == "" {
		metadata = map[string]any{"remote": []any{map[string]any{"url": s.MetadataURL}}}
	}
	return map[string]any{
		"sp_config": map[string]any{
			"entityid": s.SPEntityID,
			"metadata": metadata,
			"service": map[string]any{
				"sp": map[string]any{"allow_unsolicited": true},
			},
			"allow_unknown_attributes": true,
		},
		"user_mapping_provider": map[string]any{
			"config": map[string]any{
				"mxid_source_attribute": "uid",
				"mxid_mapping":          "dotreplace",
			},
		},
		"grandfathered_mxid_source_attribute": "uid",
	}
}

// samlFiles are the files the SAML configuration reads: the metadata file
// when the provider gave the metadata inline.
func samlFiles(s *SAML) []File {
	if s == nil || s.Metadata == "" {
		return nil
	}
	return []File{{Path: SAMLMetadataPath, Content: []byte(s.Metadata), Mode: 0o644}}
}
