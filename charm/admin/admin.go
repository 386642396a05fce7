// Package admin is a small client for Synapse's admin API, used by the
// charm's actions. It reaches the main process over the cluster network,
// so actions work from any unit.
package admin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client calls one Synapse process.
type Client struct {
	// BaseURL is the process's client listener, e.g. http://10.1.2.3:8008.
	BaseURL string
	// HTTP does the requests.
	HTTP *http.Client
	// ServerName is the homeserver's server_name, for full user IDs.
	ServerName string
}

// Error is an error answer from Synapse.
type Error struct {
	Status  int
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
}

func (e *Error) Error() string {
	if e.ErrCode != "" {
		return fmt.Sprintf("synapse answered %d %s: %s", e.Status, e.ErrCode, e.Message)
	}
	return fmt.Sprintf("synapse answered %d", e.Status)
}

// RegisterOptions describe a user to register with the shared secret.
type RegisterOptions struct {
	Username string
	Password string
	Admin    bool
	// SharedSecret is registration_shared_secret.
	SharedSecret string
}

// Registered is the new user's identity.
type Registered struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
}

// Register creates a user through the shared-secret registration API.
func (c *Client) Register(ctx context.Context, opts RegisterOptions) (*Registered, error) {
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := c.do(ctx, http.MethodGet, "/_synapse/admin/v1/register", "", nil, &nonce); err != nil {
		return nil, fmt.Errorf("get registration nonce: %w", err)
	}
	kind := "notadmin"
	if opts.Admin {
		kind = "admin"
	}
	mac := hmac.New(sha1.New, []byte(opts.SharedSecret))
	mac.Write([]byte(nonce.Nonce + "\x00" + opts.Username + "\x00" + opts.Password + "\x00" + kind))
	body := map[string]any{
		"nonce":    nonce.Nonce,
		"username": opts.Username,
		"password": opts.Password,
		"admin":    opts.Admin,
		"mac":      hex.EncodeToString(mac.Sum(nil)),
	}
	var out Registered
	if err := c.do(ctx, http.MethodPost, "/_synapse/admin/v1/register", "", body, &out); err != nil {
		return nil, fmt.Errorf("register %s: %w", opts.Username, err)
	}
	return &out, nil
}

// Login logs a user in with a password and returns an access token.
func (c *Client) Login(ctx context.Context, user, password string) (string, error) {
	body := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password,
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/login", "", body, &out); err != nil {
		return "", fmt.Errorf("log in %s: %w", user, err)
	}
	return out.AccessToken, nil
}

// Do calls an endpoint with an access token; out may be nil.
func (c *Client) Do(ctx context.Context, method, path, token string, body, out any) error {
	return c.do(ctx, method, path, token, body, out)
}

func (c *Client) do(ctx context.Context, method, path, token string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, reader)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(data, e)
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}
