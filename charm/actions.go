package charm

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"strconv"

	"github.com/synapse-charm/synapse-k8s-go/charm/admin"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

var localpartRE = regexp.MustCompile(`^[a-z0-9._=\-/+]+$`)

// runAction runs one action. Failures the operator can fix end with
// action-fail and a message saying what to do; the exit code is non-zero
// only when the hook tools themselves failed.
func (c *charm) runAction(ctx context.Context) error {
	params, err := c.tools.ActionGet(ctx)
	if err != nil {
		return fmt.Errorf("action-get: %w", err)
	}
	var results map[string]string
	switch c.ev.Name {
	case "register-user":
		results, err = c.registerUser(ctx, params)
	case "promote-user-admin":
		results, err = c.adminAction(ctx, params, promoteUser)
	case "anonymize-user":
		results, err = c.adminAction(ctx, params, anonymizeUser)
	case "reset-user-password":
		results, err = c.adminAction(ctx, params, resetPassword)
	case "create-backup":
		results, err = c.createBackup(ctx, params)
	case "list-backups":
		results, err = c.listBackups(ctx, params)
	case "restore-backup":
		results, err = c.restoreBackup(ctx, params)
	case "delete-backup":
		results, err = c.deleteBackup(ctx, params)
	default:
		err = fmt.Errorf("action %s is not implemented by this charm revision", c.ev.Name)
	}
	if err != nil {
		return c.tools.ActionFail(ctx, err.Error())
	}
	return c.tools.ActionSet(ctx, results)
}

// mainClient reaches the admin API of the main process, wherever the plan
// put it, so actions work on any unit.
func (c *charm) mainClient(ctx context.Context) (*admin.Client, workload.Secrets, error) {
	s, err := c.observe(ctx, false)
	if err != nil {
		return nil, workload.Secrets{}, err
	}
	if s.ConfigErr != nil {
		return nil, workload.Secrets{}, s.ConfigErr
	}
	if s.Peer == nil || s.Peer.App[decide.SecretIDKey] == "" {
		return nil, workload.Secrets{}, errors.New("the application has no secrets yet: wait for the charm to settle")
	}
	secrets, err := workload.SecretsFromContent(s.AppSecret.Content)
	if err != nil {
		return nil, workload.Secrets{}, err
	}
	host := s.Address
	if raw := s.Peer.App[decide.PlanKey]; raw != "" {
		plan, err := topology.Decode(raw)
		if err != nil {
			return nil, workload.Secrets{}, err
		}
		if plan.Main != c.ev.Unit {
			report, _ := relations.ParseUnitReport(s.Peer.Units[plan.Main])
			if report.IP == "" {
				return nil, workload.Secrets{}, fmt.Errorf("the main unit %s has not published its address yet", plan.Main)
			}
			host = report.IP
		}
	}
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(workload.ClientPort))
	return &admin.Client{BaseURL: base, HTTP: c.opts.AdminHTTP, ServerName: s.Config.ServerName}, secrets, nil
}

// charmAdmin is the admin user the charm uses for admin API calls. Its
// password is derived from the registration shared secret, so no unit
// stores another secret and any unit can log in as it.
const charmAdmin = "synapse-charm-admin"

func charmAdminPassword(secrets workload.Secrets) string {
	mac := hmac.New(sha256.New, []byte(secrets.Registration))
	mac.Write([]byte(charmAdmin))
	return hex.EncodeToString(mac.Sum(nil))
}

// adminTokenLabel labels the unit-owned secret that keeps this unit's
// admin access token between actions, so actions do not log in each time
// (Synapse rate-limits logins).
const adminTokenLabel = "synapse-admin-token"

// adminToken returns a working admin access token: the one this unit kept,
// or a new login as the charm's admin user, registered first if needed.
func (c *charm) adminToken(ctx context.Context, api *admin.Client, secrets workload.Secrets) (string, error) {
	kept, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{Label: adminTokenLabel})
	keptID := ""
	if err == nil && kept["token"] != "" {
		if api.Do(ctx, "GET", "/_matrix/client/v3/account/whoami", kept["token"], nil, nil) == nil {
			return kept["token"], nil
		}
		ids, _ := c.tools.SecretIDs(ctx)
		for _, id := range ids {
			if content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: id}); err == nil && content["token"] == kept["token"] {
				keptID = id
			}
		}
	}
	password := charmAdminPassword(secrets)
	token, err := api.Login(ctx, charmAdmin, password)
	if err != nil {
		var apiErr *admin.Error
		if !errors.As(err, &apiErr) || apiErr.ErrCode != "M_FORBIDDEN" {
			return "", fmt.Errorf("cannot log in to the main process at %s: %w", api.BaseURL, err)
		}
		user, err := api.Register(ctx, admin.RegisterOptions{Username: charmAdmin, Password: password, Admin: true, SharedSecret: secrets.Registration})
		if err != nil {
			return "", fmt.Errorf("create the charm's admin user: %w", err)
		}
		token = user.AccessToken
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
	return token, nil
}

type adminCall func(ctx context.Context, api *admin.Client, token, userID string, params map[string]any) (map[string]string, error)

// adminAction runs an admin API call on the user named by the username
// parameter, with a clear message for a missing user.
func (c *charm) adminAction(ctx context.Context, params map[string]any, call adminCall) (map[string]string, error) {
	username, _ := params["username"].(string)
	if !localpartRE.MatchString(username) {
		return nil, fmt.Errorf("username %q is not a valid Matrix localpart (lower-case letters, digits and ._=-/+)", username)
	}
	api, secrets, err := c.mainClient(ctx)
	if err != nil {
		return nil, err
	}
	token, err := c.adminToken(ctx, api, secrets)
	if err != nil {
		return nil, err
	}
	userID := "@" + username + ":" + api.ServerName
	if err := api.Do(ctx, "GET", "/_synapse/admin/v2/users/"+url.PathEscape(userID), token, nil, nil); err != nil {
		var apiErr *admin.Error
		if errors.As(err, &apiErr) && apiErr.Status == 404 {
			return nil, fmt.Errorf("user %s does not exist", userID)
		}
		return nil, fmt.Errorf("look up %s: %w", userID, err)
	}
	return call(ctx, api, token, userID, params)
}

func promoteUser(ctx context.Context, api *admin.Client, token, userID string, _ map[string]any) (map[string]string, error) {
	if err := api.Do(ctx, "PUT", "/_synapse/admin/v1/users/"+url.PathEscape(userID)+"/admin", token, map[string]any{"admin": true}, nil); err != nil {
		return nil, fmt.Errorf("promote %s: %w", userID, err)
	}
	return map[string]string{"user-id": userID}, nil
}

func anonymizeUser(ctx context.Context, api *admin.Client, token, userID string, _ map[string]any) (map[string]string, error) {
	if err := api.Do(ctx, "POST", "/_synapse/admin/v1/deactivate/"+url.PathEscape(userID), token, map[string]any{"erase": true}, nil); err != nil {
		return nil, fmt.Errorf("deactivate and erase %s: %w", userID, err)
	}
	return map[string]string{"user-id": userID}, nil
}

func resetPassword(ctx context.Context, api *admin.Client, token, userID string, params map[string]any) (map[string]string, error) {
	password, _ := params["password"].(string)
	generated := password == ""
	if generated {
		var err error
		if password, err = randomPassword(24); err != nil {
			return nil, err
		}
	}
	body := map[string]any{"new_password": password, "logout_devices": true}
	if err := api.Do(ctx, "POST", "/_synapse/admin/v1/reset_password/"+url.PathEscape(userID), token, body, nil); err != nil {
		return nil, fmt.Errorf("reset the password of %s: %w", userID, err)
	}
	out := map[string]string{"user-id": userID}
	if generated {
		out["user-password"] = password
	}
	return out, nil
}

func (c *charm) registerUser(ctx context.Context, params map[string]any) (map[string]string, error) {
	username, _ := params["username"].(string)
	if !localpartRE.MatchString(username) {
		return nil, fmt.Errorf("username %q is not a valid Matrix localpart (lower-case letters, digits and ._=-/+)", username)
	}
	isAdmin, _ := params["admin"].(bool)
	password, _ := params["password"].(string)
	generated := password == ""
	if generated {
		var err error
		if password, err = randomPassword(24); err != nil {
			return nil, err
		}
	}
	api, secrets, err := c.mainClient(ctx)
	if err != nil {
		return nil, err
	}
	user, err := api.Register(ctx, admin.RegisterOptions{Username: username, Password: password, Admin: isAdmin, SharedSecret: secrets.Registration})
	if err != nil {
		var apiErr *admin.Error
		if errors.As(err, &apiErr) && apiErr.ErrCode == "M_USER_IN_USE" {
			return nil, fmt.Errorf("user %s already exists", username)
		}
		return nil, fmt.Errorf("cannot register %s through the main process at %s: %w", username, api.BaseURL, err)
	}
	out := map[string]string{"user-id": user.UserID}
	if generated {
		out["user-password"] = password
	}
	return out, nil
}

func randomPassword(n int) (string, error) {
	const chars = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, n)
	for i := range out {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return "", err
		}
		out[i] = chars[k.Int64()]
	}
	return string(out), nil
}
