// Package matrix is a small Matrix client-server API client for the
// project's end-to-end tests and load scenarios: what a user does (log in,
// create a room, send, sync, upload and download media), asserted as a
// user would see it.
package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Client is one logged-in (or anonymous) user against one base URL.
type Client struct {
	// BaseURL is where requests go, e.g. a unit's nginx or a process.
	BaseURL string
	// Token is the access token after Login.
	Token string
	// UserID is the full user ID after Login.
	UserID string
	// DeviceID is the device Login created.
	DeviceID string
	// HTTP does the requests.
	HTTP *http.Client
	txn  atomic.Int64
}

// New returns an anonymous client.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// WithBase returns a client for the same user against another base URL.
func (c *Client) WithBase(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), Token: c.Token, UserID: c.UserID, DeviceID: c.DeviceID, HTTP: c.HTTP}
}

// Error is a non-2xx answer.
type Error struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends a JSON request and decodes a JSON answer into out (if non-nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	return c.raw(ctx, method, path, "application/json", reader, out)
}

func (c *Client) raw(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	if out == nil {
		return nil
	}
	if b, ok := out.(*[]byte); ok {
		*b = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// Login logs in with a password.
func (c *Client) Login(ctx context.Context, user, password string) error {
	var out struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
		DeviceID    string `json:"device_id"`
	}
	err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/login", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password,
	}, &out)
	if err != nil {
		return err
	}
	c.Token, c.UserID, c.DeviceID = out.AccessToken, out.UserID, out.DeviceID
	return nil
}

// CreateRoom creates a room and returns its ID.
func (c *Client) CreateRoom(ctx context.Context, invite ...string) (string, error) {
	body := map[string]any{}
	if len(invite) > 0 {
		body["invite"] = invite
	}
	var out struct {
		RoomID string `json:"room_id"`
	}
	if err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", body, &out); err != nil {
		return "", err
	}
	return out.RoomID, nil
}

// Join joins a room.
func (c *Client) Join(ctx context.Context, roomID string) error {
	return c.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{}, nil)
}

// Send sends a text message and returns the event ID.
func (c *Client) Send(ctx context.Context, roomID, text string) (string, error) {
	txn := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(c.txn.Add(1), 10)
	var out struct {
		EventID string `json:"event_id"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/send/m.room.message/" + txn
	if err := c.Do(ctx, http.MethodPut, path, map[string]any{"msgtype": "m.text", "body": text}, &out); err != nil {
		return "", err
	}
	return out.EventID, nil
}

// SyncResult is the part of /sync the tests read.
type SyncResult struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []Event `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
		Invite map[string]json.RawMessage `json:"invite"`
	} `json:"rooms"`
}

// Event is a room event.
type Event struct {
	Type    string         `json:"type"`
	EventID string         `json:"event_id"`
	Sender  string         `json:"sender"`
	Content map[string]any `json:"content"`
}

// Sync calls /sync; timeout is the long-poll time (0 returns at once).
func (c *Client) Sync(ctx context.Context, since string, timeout time.Duration) (*SyncResult, error) {
	q := url.Values{"timeout": {strconv.FormatInt(timeout.Milliseconds(), 10)}}
	if since != "" {
		q.Set("since", since)
	}
	var out SyncResult
	if err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/sync?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Messages returns the texts of a sync's timeline in a room.
func (r *SyncResult) Messages(roomID string) []string {
	var out []string
	for _, ev := range r.Rooms.Join[roomID].Timeline.Events {
		if ev.Type == "m.room.message" {
			if body, ok := ev.Content["body"].(string); ok {
				out = append(out, body)
			}
		}
	}
	return out
}

// WaitForMessage long-polls /sync until text appears in roomID or ctx ends.
func (c *Client) WaitForMessage(ctx context.Context, roomID, text string) error {
	since := ""
	for {
		res, err := c.Sync(ctx, since, 5*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("message %q never arrived: %w", text, err)
			}
			return err
		}
		for _, m := range res.Messages(roomID) {
			if m == text {
				return nil
			}
		}
		since = res.NextBatch
	}
}

// Upload uploads media and returns its mxc:// URI.
func (c *Client) Upload(ctx context.Context, name, contentType string, data []byte) (string, error) {
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	path := "/_matrix/media/v3/upload?filename=" + url.QueryEscape(name)
	if err := c.raw(ctx, http.MethodPost, path, contentType, bytes.NewReader(data), &out); err != nil {
		return "", err
	}
	return out.ContentURI, nil
}

// Download fetches media by its mxc:// URI through the authenticated
// client-v1 media API.
func (c *Client) Download(ctx context.Context, mxc string) ([]byte, error) {
	rest, ok := strings.CutPrefix(mxc, "mxc://")
	if !ok {
		return nil, fmt.Errorf("%q is not an mxc URI", mxc)
	}
	var data []byte
	if err := c.raw(ctx, http.MethodGet, "/_matrix/client/v1/media/download/"+rest, "", nil, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// Versions checks the server answers the client API at all.
func (c *Client) Versions(ctx context.Context) ([]string, error) {
	var out struct {
		Versions []string `json:"versions"`
	}
	if err := c.Do(ctx, http.MethodGet, "/_matrix/client/versions", nil, &out); err != nil {
		return nil, err
	}
	return out.Versions, nil
}
