package workload_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// ssoRequests are the requests of a single sign-on, from the client's
// redirect to the IdP's answer (synapse-workers.md §8.4): they must all
// reach the one process that holds the SSO session in memory, main.
var ssoRequests = []struct{ method, path string }{
	{"GET", "/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fclient.example%2F"},
	{"GET", "/_matrix/client/r0/login/sso/redirect/saml"},
	{"GET", "/_matrix/client/unstable/login/sso/redirect/oidc-github?redirectUrl=x"},
	{"GET", "/_matrix/client/api/v1/login/sso/redirect"},
	{"GET", "/_synapse/client/pick_idp?redirectUrl=x"},
	{"GET", "/_synapse/client/pick_username/account_details"},
	{"POST", "/_synapse/client/pick_username/submit"},
	{"GET", "/_synapse/client/new_user_consent"},
	{"POST", "/_synapse/client/new_user_consent"},
	{"GET", "/_synapse/client/sso_register"},
	{"GET", "/_synapse/client/oidc/callback?code=c&state=s"},
	{"POST", "/_synapse/client/oidc/callback"},
	{"POST", "/_synapse/client/saml2/authn_response"},
	{"GET", "/_synapse/client/saml2/metadata.xml"},
	{"POST", "/_matrix/saml2/authn_response"},
	{"GET", "/_matrix/client/v3/login/cas/ticket?redirectUrl=x&ticket=t"},
	{"GET", "/_matrix/client/r0/login/cas/ticket"},
}

func TestSSORequestsResolveToMain(t *testing.T) {
	writers := map[string]bool{"events": true, "push_rules": true, "account_data": true, "presence": true, "typing": true, "receipts": true, "to_device": true, "device_lists": true}
	for _, streams := range []map[string]bool{clusterStreams, writers} {
		for _, r := range ssoRequests {
			path, _, _ := strings.Cut(r.path, "?")
			assert.Equal(t, workload.PoolMain, workload.Resolve(r.method, path, streams), "%s %s", r.method, r.path)
		}
	}
}

// TestNginxSendsEverySSORequestToMain runs the host's nginx on a rendered
// cluster config (main and two generic workers) and sends each request of
// an SSO login through it, many times: every one reaches main, none a
// worker, whatever the load balancing would do.
func TestNginxSendsEverySSORequestToMain(t *testing.T) {
	r := startTwoWorkerRouter(t, "127.88.3").router

	// The workers do serve client traffic through this config.
	workers := map[string]bool{}
	for range 6 {
		workers[r.via("GET", "/_matrix/client/versions", nil)] = true
	}
	require.Equal(t, map[string]bool{"generic-1": true, "generic-2": true}, workers)
	for _, req := range ssoRequests {
		for i := range 4 {
			assert.Equal(t, "main", r.via(req.method, req.path, bearer("user"+strconv.Itoa(i))), "%s %s", req.method, req.path)
		}
	}
}
