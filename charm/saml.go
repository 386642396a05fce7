package charm

import (
	"context"
	"errors"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// SAMLEndpoint is the saml relation (saml-integrator).
const SAMLEndpoint = "saml"

// saml returns the SAML2 identity provider to render, nil when the
// relation is absent or not ready yet (the note says which). Bad provider
// data blocks and leaves the workload as it was.
func (c *charm) saml(s *Snapshot) (*workload.SAML, string, *verdict) {
	rel := s.SAML
	if rel == nil {
		return nil, "", nil
	}
	if rel.Pending {
		return nil, "joining the saml relation", nil
	}
	idp, err := relations.ParseSAML(rel.App)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("single sign-on is off until %s provides the identity provider's metadata", rel.RemoteApp), nil
	case err != nil:
		v := blocked("saml relation from %s is malformed: %v: fix the identity provider settings of %s (juju config %s), or juju remove-relation %s:%s %s", rel.RemoteApp, err, rel.RemoteApp, rel.RemoteApp, c.ev.App, SAMLEndpoint, rel.RemoteApp)
		return nil, "", &v
	}
	return &workload.SAML{
		SPEntityID:  samlEntityID(s),
		MetadataURL: idp.MetadataURL,
		Metadata:    idp.Metadata,
	}, "", nil
}

// samlEntityID is Synapse's entity ID as a service provider: the URL of
// its SP metadata under public_baseurl, or under https://<server_name>/
// when that is unset. This is the ID the Python charm's Synapse presents,
// so the IdP keeps recognising Synapse after a switch of charms. Unlike
// the public base URL it does not follow the ingress: an entity ID must
// not change under the IdP's feet.
func samlEntityID(s *Snapshot) string {
	base := s.Config.PublicBaseURL
	if base == "" {
		base = "https://" + s.Config.ServerName + "/"
	}
	return base + "_synapse/client/saml2/metadata.xml"
}

// checkSAMLModule blocks when SAML is wanted but the image lacks pysaml2.
// It runs the check only while SAML is not yet in the unit's configuration,
// so a settled unit pays nothing.
func (c *charm) checkSAMLModule(ctx context.Context, pc pebbleClient, remoteApp string) (*verdict, error) {
	configured, err := container.FileContains(pc, workload.HomeserverPath, "saml2_config:")
	if err != nil || configured {
		return nil, err
	}
	ok, err := container.HasPythonModule(ctx, pc, workload.SAMLModule)
	if err != nil {
		return nil, err
	}
	if !ok {
		v := blocked("SAML single sign-on needs pysaml2 (the %s Python module) and xmlsec1 in the synapse image: use an image that ships them, such as the upstream Synapse image, or juju remove-relation %s:%s %s", workload.SAMLModule, c.ev.App, SAMLEndpoint, remoteApp)
		return &v, nil
	}
	return nil, nil
}
