package workload_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

const idpMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/"/>`

func samlInput(t *testing.T, saml *workload.SAML) workload.SynapseInput {
	t.Helper()
	cfg := mustConfig(t, map[string]any{"server_name": "example.com"})
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	return workload.SynapseInput{
		Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://matrix.example.com/", BindAddress: "127.0.1.2", SAML: saml},
		Secrets:    secrets,
	}
}

func TestHomeserverSAMLWithMetadataURL(t *testing.T) {
	in := samlInput(t, &workload.SAML{
		SPEntityID:  "https://example.com/_synapse/client/saml2/metadata.xml",
		MetadataURL: "https://idp.example/saml/metadata",
	})
	doc := renderDoc(t, in.Homeserver)
	assert.Equal(t, map[string]any{
		"sp_config": map[string]any{
			"entityid": "https://example.com/_synapse/client/saml2/metadata.xml",
			"metadata": map[string]any{"remote": []any{map[string]any{"url": "https://idp.example/saml/metadata"}}},
			"service":  map[string]any{"sp": map[string]any{"allow_unsolicited": true}},
			// As the Python charm: attributes the IdP sends beyond the map.
			"allow_unknown_attributes": true,
		},
		// As the Python charm, so users keep their Matrix IDs.
		"user_mapping_provider": map[string]any{"config": map[string]any{
			"mxid_source_attribute": "uid",
			"mxid_mapping":          "dotreplace",
		}},
		"grandfathered_mxid_source_attribute": "uid",
	}, doc["saml2_config"])

	c, err := workload.RenderSynapse(in)
	require.NoError(t, err)
	for _, f := range c.Files {
		assert.NotEqual(t, workload.SAMLMetadataPath, f.Path, "Synapse fetches the metadata itself")
	}
	assert.Contains(t, c.PruneDirs, workload.SAMLDir)
}

func TestHomeserverSAMLWithInlineMetadata(t *testing.T) {
	in := samlInput(t, &workload.SAML{SPEntityID: "https://example.com/_synapse/client/saml2/metadata.xml", Metadata: idpMetadata})
	doc := renderDoc(t, in.Homeserver)
	sp := doc["saml2_config"].(map[string]any)["sp_config"].(map[string]any)
	assert.Equal(t, map[string]any{"local": []any{workload.SAMLMetadataPath}}, sp["metadata"])

	c, err := workload.RenderSynapse(in)
	require.NoError(t, err)
	var metadata *workload.File
	for i, f := range c.Files {
		if f.Path == workload.SAMLMetadataPath {
			metadata = &c.Files[i]
		}
	}
	require.NotNil(t, metadata, "the metadata file is pushed")
	assert.Equal(t, idpMetadata, string(metadata.Content))
	assert.Equal(t, "-rw-r--r--", metadata.Mode.String(), "metadata is public, not a secret")

	// New metadata restarts Synapse, which reads it only when it starts.
	hash := c.Layer.Services[workload.MainService].Environment["SYNAPSE_CHARM_CONFIG_HASH"]
	in.Homeserver.SAML.Metadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp2.example/"/>`
	c, err = workload.RenderSynapse(in)
	require.NoError(t, err)
	assert.NotEqual(t, hash, c.Layer.Services[workload.MainService].Environment["SYNAPSE_CHARM_CONFIG_HASH"])
}

func TestHomeserverWithoutSAMLHasNoSSO(t *testing.T) {
	in := samlInput(t, nil)
	assert.NotContains(t, renderDoc(t, in.Homeserver), "saml2_config")
}
