package charm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strconv"

	"github.com/synapse-charm/synapse-k8s-go/charm/admin"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
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
	default:
		err = fmt.Errorf("action %s is not implemented by this charm revision", c.ev.Name)
	}
	if err != nil {
		return c.tools.ActionFail(ctx, err.Error())
	}
	return c.tools.ActionSet(ctx, results)
}

// mainClient reaches the admin API of the main process.
func (c *charm) mainClient(ctx context.Context) (*admin.Client, workload.Secrets, error) {
	s, err := c.observe(ctx)
	if err != nil {
		return nil, workload.Secrets{}, err
	}
	if s.Peer == nil || s.Peer.App[peerKeySecretID] == "" {
		return nil, workload.Secrets{}, errors.New("the application has no secrets yet: wait for the charm to settle")
	}
	content, err := c.tools.SecretGet(ctx, &juju.SecretGetOptions{ID: s.Peer.App[peerKeySecretID]})
	if err != nil {
		return nil, workload.Secrets{}, fmt.Errorf("read the application secret: %w", err)
	}
	secrets, err := workload.SecretsFromContent(content)
	if err != nil {
		return nil, workload.Secrets{}, err
	}
	base := "http://" + net.JoinHostPort(s.Address, strconv.Itoa(workload.ClientPort))
	return &admin.Client{BaseURL: base, HTTP: c.opts.HTTP}, secrets, nil
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
