package integration

// A small Matrix client-server API client: what a user does through a
// unit's nginx (log in, create a room, join, send, sync, upload and
// download media). It repeats the part of tests/matrix this suite needs
// instead of importing the charm's module: this module pins
// github.com/juju/juju's dependency graph, and requiring the charm module
// (through a replace) would merge the two graphs and make every dependency
// bump in the charm a go.sum change here.

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

// matrixClient is one user (or nobody, before login) against one base URL.
type matrixClient struct {
	base   string
	token  string
	userID string
	http   *http.Client
	txn    *atomic.Int64
}

func newMatrixClient(base string) *matrixClient {
	return &matrixClient{base: strings.TrimSuffix(base, "/"), http: &http.Client{Timeout: 60 * time.Second}, txn: new(atomic.Int64)}
}

// via returns the same user against another base URL (another unit).
func (c *matrixClient) via(base string) *matrixClient {
	cp := *c
	cp.base = strings.TrimSuffix(base, "/")
	return &cp
}

// matrixError is a non-2xx answer.
type matrixError struct {
	method, path string
	status       int
	body         string
}

func (e *matrixError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

func (c *matrixClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s%s: %w (the test runner must reach the units' pod IPs: see README.md)", method, c.base, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &matrixError{method: method, path: c.base + path, status: resp.StatusCode, body: strings.TrimSpace(string(data))}
	}
	switch out := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*out = data
		return nil
	default:
		return json.Unmarshal(data, out)
	}
}

func (c *matrixClient) json(ctx context.Context, method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	return c.do(ctx, method, path, "application/json", reader, out)
}

// versions asks the server which client-server API versions it speaks.
func (c *matrixClient) versions(ctx context.Context) ([]string, error) {
	var out struct {
		Versions []string `json:"versions"`
	}
	err := c.json(ctx, http.MethodGet, "/_matrix/client/versions", nil, &out)
	return out.Versions, err
}

// login logs in with a password; the client then acts as that user.
func (c *matrixClient) login(ctx context.Context, user, password string) error {
	var out struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	err := c.json(ctx, http.MethodPost, "/_matrix/client/v3/login", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password,
	}, &out)
	if err != nil {
		return err
	}
	c.token, c.userID = out.AccessToken, out.UserID
	return nil
}

func (c *matrixClient) createRoom(ctx context.Context, invite ...string) (string, error) {
	body := map[string]any{"name": "integration"}
	if len(invite) > 0 {
		body["invite"] = invite
	}
	var out struct {
		RoomID string `json:"room_id"`
	}
	err := c.json(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", body, &out)
	return out.RoomID, err
}

func (c *matrixClient) join(ctx context.Context, roomID string) error {
	return c.json(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{}, nil)
}

// send sends a text message and returns its event ID.
func (c *matrixClient) send(ctx context.Context, roomID, text string) (string, error) {
	txn := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(c.txn.Add(1), 10)
	var out struct {
		EventID string `json:"event_id"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/send/m.room.message/" + txn
	err := c.json(ctx, http.MethodPut, path, map[string]any{"msgtype": "m.text", "body": text}, &out)
	return out.EventID, err
}

type syncResult struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []struct {
					Type    string         `json:"type"`
					Content map[string]any `json:"content"`
				} `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
	} `json:"rooms"`
}

func (c *matrixClient) sync(ctx context.Context, since string, timeout time.Duration) (*syncResult, error) {
	q := url.Values{"timeout": {strconv.FormatInt(timeout.Milliseconds(), 10)}}
	if since != "" {
		q.Set("since", since)
	}
	var out syncResult
	err := c.json(ctx, http.MethodGet, "/_matrix/client/v3/sync?"+q.Encode(), nil, &out)
	return &out, err
}

func (r *syncResult) messages(roomID string) []string {
	var out []string
	for _, ev := range r.Rooms.Join[roomID].Timeline.Events {
		if body, ok := ev.Content["body"].(string); ok && ev.Type == "m.room.message" {
			out = append(out, body)
		}
	}
	return out
}

// waitForMessage long-polls /sync from the start until text shows in the
// room's timeline or ctx ends.
func (c *matrixClient) waitForMessage(ctx context.Context, roomID, text string) error {
	since := ""
	for {
		res, err := c.sync(ctx, since, 5*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s never saw %q in %s through %s: %w", c.userID, text, roomID, c.base, err)
			}
			return err
		}
		for _, m := range res.messages(roomID) {
			if m == text {
				return nil
			}
		}
		since = res.NextBatch
	}
}

// upload stores media and returns its mxc:// URI.
func (c *matrixClient) upload(ctx context.Context, name, contentType string, data []byte) (string, error) {
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	path := "/_matrix/media/v3/upload?filename=" + url.QueryEscape(name)
	err := c.do(ctx, http.MethodPost, path, contentType, bytes.NewReader(data), &out)
	return out.ContentURI, err
}

// download fetches media through the authenticated client-v1 media API.
func (c *matrixClient) download(ctx context.Context, mxc string) ([]byte, error) {
	rest, ok := strings.CutPrefix(mxc, "mxc://")
	if !ok {
		return nil, fmt.Errorf("%q is not an mxc URI", mxc)
	}
	var data []byte
	err := c.do(ctx, http.MethodGet, "/_matrix/client/v1/media/download/"+rest, "", nil, &data)
	return data, err
}
