package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func cacheDir() string {
	if os.Geteuid() == 0 {
		return DefaultCacheDir
	}
	return filepath.Join(os.TempDir(), "synapse-bed-appservice")
}

// fakeHomeserver records the client API calls the service makes.
type fakeHomeserver struct {
	mu    sync.Mutex
	calls []string // "METHOD path body"
	auth  []string
}

func (f *fakeHomeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.EscapedPath()+" "+string(body))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{}`)
}

func (f *fakeHomeserver) snapshot() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]string(nil), f.auth...)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The service registers its bot, joins on invite and echoes a message,
// all with the as_token; it refuses a transaction without the hs_token.
func TestEchoAgainstAFakeHomeserver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := Install(ctx, cacheDir())
	if err != nil {
		t.Fatal(err)
	}
	hs := &fakeHomeserver{}
	srv := httptest.NewServer(hs)
	defer srv.Close()
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	reg := NewRegistration(url, "test.local", "echo")
	if !strings.HasPrefix(reg.ID, "echo-") || reg.ASToken == reg.HSToken || len(reg.ASToken) < 32 {
		t.Fatalf("registration %+v", reg)
	}
	var parsed map[string]any
	if err := json.Unmarshal([]byte(reg.YAML()), &parsed); err != nil {
		t.Fatal(err)
	}
	if got := parsed["namespaces"].(map[string]any)["users"].([]any)[0].(map[string]any)["regex"]; got != `@echo_.*:test\.local` {
		t.Fatalf("users regex %v", got)
	}
	s, err := Start(ctx, t, dir, reg, srv.URL, "test.local")
	if err != nil {
		t.Fatal(err)
	}

	txn := func(token string, events ...map[string]any) int {
		b, _ := json.Marshal(map[string]any{"events": events})
		req, _ := http.NewRequestWithContext(ctx, "PUT", url+"/_matrix/app/v1/transactions/"+fmt.Sprint(time.Now().UnixNano()), bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	invite := map[string]any{"type": "m.room.member", "room_id": "!r:test.local", "sender": "@alice:test.local",
		"state_key": "@echo_bot:test.local", "content": map[string]any{"membership": "invite"}, "event_id": "$1"}
	msg := map[string]any{"type": "m.room.message", "room_id": "!r:test.local", "sender": "@alice:test.local",
		"content": map[string]any{"msgtype": "m.text", "body": "hi"}, "event_id": "$2"}
	if code := txn("wrong", msg); code != 403 && code != 401 {
		t.Fatalf("transaction with a wrong hs_token: HTTP %d", code)
	}
	if code := txn(reg.HSToken, invite, msg); code != 200 {
		t.Fatalf("transaction: HTTP %d", code)
	}
	if _, err := s.Wait(ctx, func(e Event) bool { return e.Kind == "echoed" && e.Body == "hi" && e.OK }); err != nil {
		t.Fatalf("%v; output:\n%s", err, s.Output())
	}
	if _, err := s.Wait(ctx, func(e Event) bool { return e.Kind == "joined" && e.Room == "!r:test.local" }); err != nil {
		t.Fatal(err)
	}
	calls, auth := hs.snapshot()
	joined := strings.Join(calls, "\n")
	for _, want := range []string{
		`POST /_matrix/client/v3/register {"type":"m.login.application_service","username":"echo_bot","inhibit_login":true}`,
		`POST /_matrix/client/v3/join/!r%3Atest.local {}`,
		`{"msgtype":"m.notice","body":"echo: hi"}`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no call %s in:\n%s", want, joined)
		}
	}
	for _, a := range auth {
		if a != "Bearer "+reg.ASToken {
			t.Errorf("call with Authorization %q, want the as_token", a)
		}
	}
	s.Stop()
	if _, err := s.Wait(ctx, func(e Event) bool { return e.Kind == "never" }); err != ErrExited {
		t.Fatalf("Wait after Stop: %v", err)
	}
}
