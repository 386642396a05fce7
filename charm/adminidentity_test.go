package charm_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/admin"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
)

// oldCharmAdmin is the fixed admin name earlier revisions used: anyone
// whose IdP uid equals it was grandfathered into a server admin.
const oldCharmAdmin = "synapse-charm-admin"

// appSecretContent is the latest content of the application's secret.
func (u *unit) appSecretContent() map[string]string {
	u.t.Helper()
	s, ok := u.mem.SecretByLabel(decide.SecretLabel)
	require.True(u.t, ok, "no application secret")
	return s.Revisions[len(s.Revisions)-1]
}

// inspector is an admin the test makes for itself through the shared
// secret, to look at users as Synapse sees them.
func (u *unit) inspector(ctx context.Context) *matrix.Client {
	u.t.Helper()
	api := &admin.Client{BaseURL: "http://" + u.addr + ":8008", HTTP: http.DefaultClient}
	reg, err := api.Register(ctx, admin.RegisterOptions{Username: "inspector", Password: "inspector-password-1", Admin: true,
		SharedSecret: u.appSecretContent()["registration-shared-secret"]})
	require.NoError(u.t, err)
	c := matrix.New(api.BaseURL)
	c.Token = reg.AccessToken
	return c
}

func isAdmin(t *testing.T, ctx context.Context, c *matrix.Client, userID string) bool {
	t.Helper()
	var out struct {
		Admin bool `json:"admin"`
	}
	require.NoError(t, c.Do(ctx, "GET", "/_synapse/admin/v2/users/"+userID, nil, &out))
	return out.Admin
}

// TestAdminIdentitySSOOnly: in the documented SSO-only setup (password
// login off, SAML integrated), with a user already holding the old fixed
// admin name, every admin action works; the charm acts as a random admin
// kept in the application secret, the old name holds no admin right, and
// no action touches the charm's own admin.
func TestAdminIdentitySSOOnly(t *testing.T) {
	p := startIdP(t)
	u := newUnit(t)
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "enable_password_config": false})
	u.run("config-changed")
	id := u.mem.AddRelation("saml", "saml-integrator", "saml-integrator/0")
	u.mem.SetRelationData(id, "saml-integrator", true, p.bag(false))
	u.run("saml-relation-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	flows := u.loginFlows()
	require.Contains(t, flows, "m.login.sso")
	require.NotContains(t, flows, "m.login.password", "SSO only")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Someone holds the old fixed name, as an admin (an earlier revision's
	// user, or an IdP user grandfathered into it).
	u.action("register-user", map[string]any{"username": oldCharmAdmin, "admin": true})

	u.action("register-user", map[string]any{"username": "bob"})
	u.action("promote-user-admin", map[string]any{"username": "bob"})
	assert.Contains(t, u.failingAction("reset-user-password", map[string]any{"username": "bob"}), "enable_password_config is false",
		"SSO only: no password to reset, and the action says so")

	own := u.appSecretContent()["admin-localpart"]
	assert.Regexp(t, regexp.MustCompile(`^synapse-charm-[a-z0-9]{20,}$`), own, "a random admin name, kept in the application secret")
	inspector := u.inspector(ctx)
	assert.True(t, isAdmin(t, ctx, inspector, "@bob:test.local"))
	assert.False(t, isAdmin(t, ctx, inspector, "@"+oldCharmAdmin+":test.local"), "the old fixed name is no admin any more")

	target := own
	if target == "" {
		target = oldCharmAdmin
	}
	for _, action := range []string{"anonymize-user", "promote-user-admin", "register-user"} {
		assert.Contains(t, u.failingAction(action, map[string]any{"username": target}), "the charm's own admin", action)
	}

	// A token that stops working (logged out) is renewed without a
	// password login.
	kept, ok := u.mem.SecretByLabel("synapse-admin-token")
	require.True(t, ok)
	old := matrix.New("http://" + u.addr + ":8008")
	old.Token = kept.Revisions[len(kept.Revisions)-1]["token"]
	require.NoError(t, old.Do(ctx, "POST", "/_matrix/client/v3/logout", map[string]any{}, nil))

	u.action("anonymize-user", map[string]any{"username": "bob"})
	u.action("register-user", map[string]any{"username": "carol"})
	u.action("promote-user-admin", map[string]any{"username": "carol"})
	assert.True(t, isAdmin(t, ctx, inspector, "@carol:test.local"))
}
