package decide

import (
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

// samlMetadataSafe blocks when Synapse would fetch the IdP's metadata (the
// provider gave a URL and no metadata) over plain http, unless the
// operator allowed it: whoever is on the path could swap the metadata,
// and with it the certificate Synapse trusts for every login.
func (x *decider) samlMetadataSafe(rel *RelationView, idp *relations.SAML) bool {
	if idp.Metadata != "" || !strings.HasPrefix(strings.ToLower(idp.MetadataURL), "http:") || x.s.Config.SAMLAllowInsecureMetadataURL {
		return true
	}
	x.d.blocked(RankRelation, "saml relation from %s gives the identity provider's metadata at a plain http URL (%s), which anyone on the path can swap: have %s publish an https metadata_url, or accept the risk with juju config %s saml_allow_insecure_metadata_url=true",
		rel.RemoteApp, Truncate(idp.MetadataURL, 200), rel.RemoteApp, x.ev().App)
	return false
}
