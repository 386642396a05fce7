package charm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"

	"github.com/synapse-charm/synapse-k8s-go/charm/admin"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"

	"github.com/synapse-charm/synapse-k8s-go/internal/lazyre"
)

var localpartRE = lazyre.New(`^[a-z0-9._=\-/+]+$`)

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
		return c.tools.ActionFail(ctx, decide.Truncate(err.Error(), maxLogLine))
	}
	return c.tools.ActionSet(ctx, results)
}

// mainClient reaches the admin API of the main process, wherever the plan
// put it, so actions work on any unit: this unit's own address when it is
// the main, else the main unit's stable DNS name (a pod IP from a bag may
// be stale).
func (c *charm) mainClient(ctx context.Context) (*admin.Client, workload.Secrets, error) {
	s, err := c.observe(ctx, false)
	if err != nil {
		return nil, workload.Secrets{}, err
	}
	if s.ConfigErr != nil {
		return nil, workload.Secrets{}, s.ConfigErr
	}
	if c.ev.Name == "reset-user-password" && !s.Config.EnablePasswordConfig {
		return nil, workload.Secrets{}, errors.New("enable_password_config is false: users sign in through single sign-on and have no password to reset")
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
			host = relations.UnitDNSName(plan.Main, c.ev.Model)
		}
	}
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(workload.ClientPort))
	return &admin.Client{BaseURL: base, HTTP: c.opts.AdminHTTP, ServerName: s.Config.ServerName}, secrets, nil
}

type adminCall func(ctx context.Context, api *admin.Client, token, userID string, params map[string]any) (map[string]string, error)

// adminAction runs an admin API call on the user named by the username
// parameter, with a clear message for a missing user; never on the
// charm's own admin. A token answered 401 is renewed once.
func (c *charm) adminAction(ctx context.Context, params map[string]any, call adminCall) (map[string]string, error) {
	username, err := usernameParam(params)
	if err != nil {
		return nil, err
	}
	api, secrets, err := c.mainClient(ctx)
	if err != nil {
		return nil, err
	}
	if isCharmAdmin(username, secrets) {
		return nil, refuseCharmAdmin(username)
	}
	userID := "@" + username + ":" + api.ServerName
	for renew := false; ; renew = true {
		token, err := c.adminToken(ctx, api, secrets, renew)
		if err != nil {
			return nil, err
		}
		err = api.Do(ctx, "GET", "/_synapse/admin/v2/users/"+url.PathEscape(userID), token, nil, nil)
		var apiErr *admin.Error
		switch {
		case err == nil:
			return call(ctx, api, token, userID, params)
		case unauthorized(err) && !renew:
			continue
		case errors.As(err, &apiErr) && apiErr.Status == 404:
			return nil, fmt.Errorf("user %s does not exist", userID)
		default:
			return nil, fmt.Errorf("look up %s: %w", userID, err)
		}
	}
}

// maxLocalpart bounds a username parameter: Synapse refuses user IDs
// longer than 255 characters.
const maxLocalpart = 255

// usernameParam is the username parameter, a valid Matrix localpart.
func usernameParam(params map[string]any) (string, error) {
	username, _ := params["username"].(string)
	if len(username) > maxLocalpart || !localpartRE().MatchString(username) {
		return "", fmt.Errorf("username %q is not a valid Matrix localpart (at most %d lower-case letters, digits and ._=-/+)", cut(username), maxLocalpart)
	}
	return username, nil
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
	username, err := usernameParam(params)
	if err != nil {
		return nil, err
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
	if isCharmAdmin(username, secrets) {
		return nil, refuseCharmAdmin(username)
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
