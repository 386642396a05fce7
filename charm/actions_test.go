package charm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
)

func (u *unit) failingAction(name string, params map[string]any) string {
	u.t.Helper()
	u.mem.SetActionParams(params)
	u.runEvent(juju.Event{Name: name, IsAction: true, Unit: "synapse/0", App: "synapse", Model: "test"})
	failed, msg := u.mem.ActionFailed()
	require.True(u.t, failed, "action %s should fail", name)
	return msg
}

// TestAdminActions checks each action's effect through the Matrix API, as
// an operator would.
func TestAdminActions(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	require.Equal(t, juju.Active, u.mem.UnitStatus().Status)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := "http://" + u.addr + ":8008"

	res := u.action("register-user", map[string]any{"username": "bob", "password": "initial-password-1"})
	assert.Equal(t, "@bob:test.local", res["user-id"])
	assert.Empty(t, res["user-password"], "a given password is not echoed back")
	bob := matrix.New(base)
	require.NoError(t, bob.Login(ctx, "bob", "initial-password-1"))
	err := bob.Do(ctx, "GET", "/_synapse/admin/v2/users/@bob:test.local", nil, nil)
	var apiErr *matrix.Error
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, 403, apiErr.Status, "not an admin yet")

	assert.Contains(t, u.failingAction("register-user", map[string]any{"username": "bob"}), "already exists")
	assert.Contains(t, u.failingAction("register-user", map[string]any{"username": "Not Valid"}), "not a valid Matrix localpart")

	u.action("promote-user-admin", map[string]any{"username": "bob"})
	require.NoError(t, bob.Do(ctx, "GET", "/_synapse/admin/v2/users/@bob:test.local", nil, nil), "bob is an admin now")

	res = u.action("reset-user-password", map[string]any{"username": "bob"})
	require.NotEmpty(t, res["user-password"])
	assert.Error(t, matrix.New(base).Login(ctx, "bob", "initial-password-1"), "the old password no longer works")
	require.NoError(t, matrix.New(base).Login(ctx, "bob", res["user-password"]))

	u.action("anonymize-user", map[string]any{"username": "bob"})
	assert.Error(t, matrix.New(base).Login(ctx, "bob", res["user-password"]), "an anonymized user cannot log in")

	assert.Contains(t, u.failingAction("promote-user-admin", map[string]any{"username": "nobody"}), "@nobody:test.local does not exist")

	// The charm's own admin is out of the actions' reach, so no action
	// breaks the later ones.
	own := u.appSecretContent()["admin-localpart"]
	if own == "" {
		own = oldCharmAdmin // the revisions before the random name
	}
	for _, action := range []string{"reset-user-password", "anonymize-user", "promote-user-admin"} {
		assert.Contains(t, u.failingAction(action, map[string]any{"username": own}), "the charm's own admin", action)
	}
	u.action("register-user", map[string]any{"username": "dave", "password": "initial-password-2"})
	u.action("promote-user-admin", map[string]any{"username": "dave"})
}
