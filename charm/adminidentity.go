package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/admin"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// The charm's admin identity. Actions call Synapse's admin API as a user
// whose name is random, made once and kept in the application secret
// (workload.Secrets.AdminLocalpart): no identity provider's uid matches
// it by chance, so SAML's grandfathering of existing names never logs an
// IdP user into it. Its access token comes from shared-secret
// registration (which answers with one), never from a password login, so
// actions work with enable_password_config=false. Each unit keeps its
// token in a unit-owned secret; when the token stops working (401), the
// unit registers again: under the name itself while that is free, else
// under the name plus "-" and a random suffix, a name the actions protect
// the same way.

// oldCharmAdmin is the fixed admin name of earlier revisions. It is no
// longer used; the first token a unit gets takes the admin right from it.
const oldCharmAdmin = "synapse-charm-admin"

// adminTokenLabel labels the unit-owned secret that keeps this unit's
// admin access token between actions (content key "token").
const adminTokenLabel = "synapse-admin-token"

// freshAdminLocalpart gives the leader a new admin name to add when the
// application secret has none (randomness enters the decision here).
func freshAdminLocalpart(s *decide.Snapshot) error {
	if !s.Leader || s.AppSecret.ID == "" || s.AppSecret.Content[workload.SecretKeyAdminLocalpart] != "" {
		return nil
	}
	name, err := workload.GenerateAdminLocalpart()
	if err != nil {
		return err
	}
	s.AppSecret.FreshAdminLocalpart = name
	return nil
}

// isCharmAdmin reports whether a localpart is one of the charm's own
// admin users.
func isCharmAdmin(localpart string, secrets workload.Secrets) bool {
	own := secrets.AdminLocalpart
	return own != "" && (localpart == own || strings.HasPrefix(localpart, own+"-"))
}

// refuseCharmAdmin is the error for an action aimed at the charm's admin.
func refuseCharmAdmin(localpart string) error {
	return fmt.Errorf("%s is the charm's own admin user, which the actions use and never change: choose another user", localpart)
}

// adminToken returns a working admin access token: the one this unit
// kept, unless renew (a call answered 401) or it no longer works, else a
// new one from shared-secret registration.
func (c *charm) adminToken(ctx context.Context, api *admin.Client, secrets workload.Secrets, renew bool) (string, error) {
	if secrets.AdminLocalpart == "" {
		return "", errors.New("the application secret has no admin name yet: the leader adds it on its next hook, run the action again then")
	}
	kept, keptID := c.keptAdminToken(ctx)
	if kept != "" && !renew {
		var who struct {
			UserID string `json:"user_id"`
		}
		err := api.Do(ctx, "GET", "/_matrix/client/v3/account/whoami", kept, nil, &who)
		switch {
		case err == nil && isCharmAdmin(localpartOf(who.UserID), secrets):
			return kept, nil
		case err != nil && !unauthorized(err):
			return "", fmt.Errorf("cannot reach the main process at %s: %w", api.BaseURL, err)
		}
		// Revoked, or a token of the old fixed name: register anew.
	}
	token, err := registerAdmin(ctx, api, secrets)
	if err != nil {
		return "", err
	}
	content := map[string]string{"token": token}
	if keptID != "" {
		err = c.tools.SecretSet(ctx, &juju.SecretSetOptions{ID: keptID, Content: content})
	} else {
		_, err = c.tools.SecretAdd(ctx, &juju.SecretAddOptions{Content: content, Label: adminTokenLabel, Description: "admin access token of this unit's actions", Owner: "unit"})
	}
	if err != nil {
		c.logf("cannot keep the admin token: %v", err)
	}
	c.demoteOldAdmin(ctx, api, token)
	return token, nil
}

// keptAdminToken is the token this unit kept and its secret's ID.
func (c *charm) keptAdminToken(ctx context.Context) (token, id string) {
	kept, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{Label: adminTokenLabel})
	if err != nil || kept["token"] == "" {
		return "", ""
	}
	ids, _ := c.tools.SecretIDs(ctx)
	for _, sid := range ids {
		if content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: sid}); err == nil && content["token"] == kept["token"] {
			id = sid
		}
	}
	return kept["token"], id
}

// registerAdmin registers a charm admin user with the registration shared
// secret and returns its access token. Its password is random and kept
// nowhere: the user never logs in.
func registerAdmin(ctx context.Context, api *admin.Client, secrets workload.Secrets) (string, error) {
	name := secrets.AdminLocalpart
	for attempt := 0; ; attempt++ {
		password, err := randomPassword(32)
		if err != nil {
			return "", err
		}
		reg, err := api.Register(ctx, admin.RegisterOptions{Username: name, Password: password, Admin: true, SharedSecret: secrets.Registration})
		if err == nil {
			return reg.AccessToken, nil
		}
		var apiErr *admin.Error
		if attempt > 0 || !errors.As(err, &apiErr) || apiErr.ErrCode != "M_USER_IN_USE" {
			return "", fmt.Errorf("register the charm's admin user through the main process at %s: %w", api.BaseURL, err)
		}
		// Taken: this charm's admin on another unit, or one whose token
		// is gone. A sibling name works as well.
		suffix, err := randomPassword(10)
		if err != nil {
			return "", err
		}
		name = secrets.AdminLocalpart + "-" + strings.ToLower(suffix)
	}
}

// demoteOldAdmin takes the server-admin right from the fixed name of
// earlier revisions, which an identity provider's uid could match.
func (c *charm) demoteOldAdmin(ctx context.Context, api *admin.Client, token string) {
	path := "/_synapse/admin/v1/users/" + url.PathEscape("@"+oldCharmAdmin+":"+api.ServerName) + "/admin"
	var out struct {
		Admin json.RawMessage `json:"admin"`
	}
	if err := api.Do(ctx, "GET", path, token, nil, &out); err != nil || (string(out.Admin) != "true" && string(out.Admin) != "1") {
		return
	}
	if err := api.Do(ctx, "PUT", path, token, map[string]any{"admin": false}, nil); err != nil {
		c.logf("cannot take the admin right from %s: %v", oldCharmAdmin, err)
		return
	}
	_ = c.tools.Log(ctx, "WARNING", "took the server-admin right from @"+oldCharmAdmin+", the fixed admin name of earlier revisions: the charm now acts as a random admin name")
}

func localpartOf(userID string) string {
	local, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return local
}

func unauthorized(err error) bool {
	var apiErr *admin.Error
	return errors.As(err, &apiErr) && apiErr.Status == 401
}
