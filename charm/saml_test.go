package charm_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// idp is a stand-in SAML identity provider: it publishes its metadata and
// nothing else (no test here completes a login at the IdP).
type idp struct {
	entityID string
	ssoURL   string
	metadata string
	certPEM  string
	srv      *httptest.Server
}

// startIdP serves the metadata of an IdP with a self-signed signing
// certificate and an HTTP-Redirect single sign-on endpoint, on 127.0.0.1,
// which Synapse in the bed container reaches (it shares the network).
func startIdP(t *testing.T) *idp {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "idp.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p := &idp{certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	mux := http.NewServeMux()
	mux.HandleFunc("/saml/metadata", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = io.WriteString(w, p.metadata)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.entityID = p.srv.URL + "/idp"
	p.ssoURL = p.srv.URL + "/saml/sso"
	p.metadata = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo>
        <ds:X509Data>
          <ds:X509Certificate>%s</ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`, p.entityID, base64.StdEncoding.EncodeToString(der), p.ssoURL)
	return p
}

// bag is what saml-integrator (library v1) writes, with or without the
// metadata URL.
func (p *idp) bag(withURL bool) map[string]string {
	b := map[string]string{
		"entity_id":                           p.entityID,
		"metadata":                            p.metadata,
		"single_sign_on_service_redirect_url": p.ssoURL,
		"single_sign_on_service_redirect_binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
		"x509certs": p.certPEM,
	}
	if withURL {
		b["metadata_url"] = p.srv.URL + "/saml/metadata"
	}
	return b
}

// noRedirect is an HTTP client that shows redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// loginFlows lists the login types Synapse offers, asked through nginx.
func (u *unit) loginFlows() []string {
	u.t.Helper()
	resp, err := noRedirect.Get("http://" + u.addr + ":8080/_matrix/client/v3/login")
	require.NoError(u.t, err)
	defer resp.Body.Close()
	require.Equal(u.t, http.StatusOK, resp.StatusCode)
	var out struct {
		Flows []struct {
			Type string `json:"type"`
		} `json:"flows"`
	}
	require.NoError(u.t, json.NewDecoder(resp.Body).Decode(&out))
	var types []string
	for _, f := range out.Flows {
		types = append(types, f.Type)
	}
	return types
}

// ssoRedirect asks, through nginx, for the redirect a client's "Sign in
// with SSO" button follows. The request names the public host, as behind
// the ingress: Synapse first redirects any other host to public_baseurl.
func (u *unit) ssoRedirect() *http.Response {
	u.t.Helper()
	req, err := http.NewRequest("GET", "http://"+u.addr+":8080/_matrix/client/v3/login/sso/redirect?redirectUrl="+url.QueryEscape("https://client.example/"), nil)
	require.NoError(u.t, err)
	req.Host = "test.local"
	resp, err := noRedirect.Do(req)
	require.NoError(u.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// bagV0 is what saml-integrator's library v0 writes: the metadata only by
// URL, which Synapse fetches when it starts.
func (p *idp) bagV0() map[string]string {
	return map[string]string{
		"entity_id":                               p.entityID,
		"metadata_url":                            p.srv.URL + "/saml/metadata",
		"single_sign_on_service_redirect_url":     p.ssoURL,
		"single_sign_on_service_redirect_binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
		"x509certs":                               p.certPEM,
	}
}

// TestSAMLSingleSignOn integrates a saml-integrator whose IdP publishes its
// metadata at a URL only (library v0): clients are offered SSO, the SSO redirect sends them
// to the IdP with a SAML AuthnRequest, and Synapse publishes its service
// provider metadata under the entity ID the Python charm used. Removing
// the relation takes SSO away again. (An http metadata URL without the
// option blocks: TestSAMLMetadataURLMustBeHTTPS in charm/decide.)
func TestSAMLSingleSignOn(t *testing.T) {
	p := startIdP(t)
	u := newUnit(t)
	// The test IdP serves plain http: allowed only by the option.
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "saml_allow_insecure_metadata_url": true})
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status, u.mem.UnitStatus().Message)
	assert.NotContains(t, u.loginFlows(), "m.login.sso")

	id := u.mem.AddRelation("saml", "saml-integrator", "saml-integrator/0")
	u.run("saml-relation-joined")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Active, st.Status, st.Message)
	assert.Contains(t, st.Message, "single sign-on is off until saml-integrator provides the identity provider's metadata")
	assert.NotContains(t, u.file(workload.HomeserverPath), "saml2_config")

	u.mem.SetRelationData(id, "saml-integrator", true, p.bagV0())
	u.run("saml-relation-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.NotContains(t, st.Message, "single sign-on")
	hs := u.file(workload.HomeserverPath)
	assert.Contains(t, hs, "url: "+p.srv.URL+"/saml/metadata")
	assert.Contains(t, hs, "entityid: http://test.local/_synapse/client/saml2/metadata.xml")

	assert.Contains(t, u.loginFlows(), "m.login.sso")
	resp := u.ssoRedirect()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, p.ssoURL, loc.Scheme+"://"+loc.Host+loc.Path, "the client is sent to the IdP")
	assert.NotEmpty(t, loc.Query().Get("SAMLRequest"), "with a SAML AuthnRequest")

	md, err := noRedirect.Get("http://" + u.addr + ":8080/_synapse/client/saml2/metadata.xml")
	require.NoError(t, err)
	body, _ := io.ReadAll(md.Body)
	md.Body.Close()
	require.Equal(t, http.StatusOK, md.StatusCode, string(body))
	assert.Contains(t, string(body), `entityID="http://test.local/_synapse/client/saml2/metadata.xml"`)
	assert.Contains(t, string(body), "http://test.local/_synapse/client/saml2/authn_response", "the assertion consumer service")

	// A settled unit stays as it is.
	since := u.service().CurrentSince
	u.run("update-status")
	assert.Equal(t, juju.Active, u.mem.UnitStatus().Status)
	assert.Equal(t, since, u.service().CurrentSince, "a no-op hook restarted synapse")

	u.mem.RemoveRelation(id)
	u.run("saml-relation-broken")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.NotContains(t, u.file(workload.HomeserverPath), "saml2_config")
	assert.NotContains(t, u.loginFlows(), "m.login.sso")
	assert.NotEqual(t, http.StatusFound, u.ssoRedirect().StatusCode, "no SSO redirect any more")
}

// TestSAMLInlineMetadata: a provider that gives the metadata inline
// (library v1, with or without the URL) works from a metadata file on the
// unit, so Synapse starts even while the IdP is down; the file goes away
// with the relation.
func TestSAMLInlineMetadata(t *testing.T) {
	p := startIdP(t)
	u := newUnit(t)
	u.run("config-changed")
	id := u.mem.AddRelation("saml", "saml-integrator", "saml-integrator/0")
	u.mem.SetRelationData(id, "saml-integrator", true, p.bag(true))
	u.run("saml-relation-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.Equal(t, p.metadata, u.file(workload.SAMLMetadataPath)+"\n")
	assert.Contains(t, u.file(workload.HomeserverPath), workload.SAMLMetadataPath)
	p.srv.Close() // Synapse does not need the IdP to answer.
	assert.Contains(t, u.loginFlows(), "m.login.sso")
	resp := u.ssoRedirect()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), p.ssoURL+"?"), resp.Header.Get("Location"))

	u.mem.RemoveRelation(id)
	u.run("saml-relation-broken")
	assert.NotContains(t, u.file(workload.HomeserverPath), "saml2_config")
	assert.NoFileExists(t, u.dir+"/data/saml/idp-metadata.xml", "no stale metadata left behind")
}

// TestSAMLBadDataBlocksAndKeepsTheWorkload: a provider bag the charm
// cannot use blocks with what to fix, and the running Synapse keeps its
// configuration.
func TestSAMLBadDataBlocksAndKeepsTheWorkload(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	before := u.file(workload.HomeserverPath)
	since := u.service().CurrentSince
	id := u.mem.AddRelation("saml", "saml-integrator", "saml-integrator/0")
	u.mem.SetRelationData(id, "saml-integrator", true, map[string]string{
		"entity_id": "https://idp.example/", "metadata_url": "ftp://idp.example/metadata",
	})
	u.run("saml-relation-changed")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.Contains(t, st.Message, "saml relation from saml-integrator is malformed: metadata_url \"ftp://idp.example/metadata\" is not an http(s) URL")
	assert.Contains(t, st.Message, "juju remove-relation synapse:saml saml-integrator")
	assert.Equal(t, before, u.file(workload.HomeserverPath), "the workload stays as it was")
	assert.Equal(t, since, u.service().CurrentSince, "synapse not restarted")
}

// TestSAMLNeedsPysaml2InTheImage: on an image without pysaml2 the unit
// blocks naming what the image lacks, before it touches Synapse.
func TestSAMLNeedsPysaml2InTheImage(t *testing.T) {
	p := startIdP(t)
	u := newUnit(t)
	u.run("config-changed")
	since := u.service().CurrentSince
	// Hide the image's saml2 in this container only (its own overlay):
	// a module earlier on sys.path that fails as a missing one does.
	sites, err := filepath.Glob(filepath.Join(bed.ImagePath(), "usr/local/lib/python3.*/dist-packages"))
	require.NoError(t, err)
	require.Len(t, sites, 1)
	site := strings.TrimPrefix(sites[0], bed.ImagePath())
	require.NoError(t, u.container.Client().Push(&client.PushOptions{
		Path:   site + "/saml2.py",
		Source: strings.NewReader("raise ModuleNotFoundError(\"No module named 'saml2'\")\n"),
	}))

	id := u.mem.AddRelation("saml", "saml-integrator", "saml-integrator/0")
	u.mem.SetRelationData(id, "saml-integrator", true, p.bag(true))
	u.run("saml-relation-changed")
	st := u.mem.UnitStatus()
	assert.Equal(t, juju.Blocked, st.Status)
	assert.Contains(t, st.Message, "SAML single sign-on needs pysaml2 (the saml2 Python module) and xmlsec1 in the synapse image")
	assert.Contains(t, st.Message, "juju remove-relation synapse:saml saml-integrator")
	assert.NotContains(t, u.file(workload.HomeserverPath), "saml2_config")
	assert.Equal(t, since, u.service().CurrentSince, "synapse not restarted")
}
