// Package appservice runs a real Matrix application service for the e2e
// tests: echo-as.js on the npm package matrix-appservice (pinned in
// package.json and package-lock.json), under the host's Node.js (>= 18).
// The node modules are installed once into a cache directory keyed by the
// hash of the embedded files.
package appservice

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "embed"
)

var (
	//go:embed package.json
	packageJSON []byte
	//go:embed package-lock.json
	packageLock []byte
	//go:embed echo-as.js
	script []byte
)

// DefaultCacheDir holds the installed node modules, one directory per
// version of the embedded files.
const DefaultCacheDir = "/var/cache/synapse-bed/appservice"

// Install installs the node modules (npm ci) into cacheDir once, under a
// file lock so concurrent test processes share one install, and returns
// the directory holding echo-as.js and its node_modules.
func Install(ctx context.Context, cacheDir string) (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("install appservice: %w (install Node.js >= 18 and npm: apt-get install nodejs npm)", err)
	}
	sum := sha256.New()
	for _, b := range [][]byte{packageJSON, packageLock, script} {
		sum.Write(b)
	}
	dir := filepath.Join(cacheDir, hex.EncodeToString(sum.Sum(nil))[:16])
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("install appservice: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("install appservice: %w", err)
	}
	defer unlock()
	done := filepath.Join(dir, ".installed")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("install appservice: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install appservice: %w", err)
	}
	for name, b := range map[string][]byte{"package.json": packageJSON, "package-lock.json": packageLock, "echo-as.js": script} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", fmt.Errorf("install appservice: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--omit=dev")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install appservice: npm ci: %w\n%s", err, tail(out, 2000))
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", fmt.Errorf("install appservice: %w", err)
	}
	return dir, nil
}

// Registration is an application service registration (the file Synapse
// lists in app_service_config_files).
type Registration struct {
	ID              string      `json:"id"`
	URL             string      `json:"url"`
	ASToken         string      `json:"as_token"`
	HSToken         string      `json:"hs_token"`
	SenderLocalpart string      `json:"sender_localpart"`
	RateLimited     bool        `json:"rate_limited"`
	Namespaces      *Namespaces `json:"namespaces"`
}

// Namespaces are the users, aliases and rooms the service claims.
type Namespaces struct {
	Users   []Namespace `json:"users"`
	Aliases []Namespace `json:"aliases"`
	Rooms   []Namespace `json:"rooms"`
}

// Namespace is one regex.
type Namespace struct {
	Regex     string `json:"regex"`
	Exclusive bool   `json:"exclusive"`
}

// NewRegistration returns a registration for a service at url (e.g.
// "http://127.0.0.1:<port>") on server_name, with fresh tokens, a unique
// id "<name>-<random>", the bot "<name>_bot" and the exclusive user
// namespace @<name>_.*.
func NewRegistration(url, serverName, name string) Registration {
	return Registration{
		ID: name + "-" + token()[:8], URL: url, ASToken: token(), HSToken: token(),
		SenderLocalpart: name + "_bot",
		Namespaces: &Namespaces{
			Users:   []Namespace{{Regex: "@" + regexp.QuoteMeta(name) + "_.*:" + regexp.QuoteMeta(serverName), Exclusive: true}},
			Aliases: []Namespace{}, Rooms: []Namespace{},
		},
	}
}

// YAML renders the registration; JSON is YAML, as Synapse reads it.
func (r Registration) YAML() string {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // plain strings and bools
	}
	return string(b) + "\n"
}

// Bot is the bot's user id on serverName.
func (r Registration) Bot(serverName string) string {
	return "@" + r.SenderLocalpart + ":" + serverName
}

func token() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Event is one JSON line echo-as.js prints: kind "listening", "joined",
// "message", "echoed", "error" or "fatal".
type Event struct {
	Kind   string `json:"kind"`
	Room   string `json:"room,omitempty"`
	Sender string `json:"sender,omitempty"`
	Body   string `json:"body,omitempty"`
	OK     bool   `json:"ok,omitempty"`
	Error  string `json:"error,omitempty"`
	Status int    `json:"status,omitempty"`
	Path   string `json:"path,omitempty"`
}

// Service is a running echo application service.
type Service struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	events []Event
	log    strings.Builder
	notify chan struct{} // closed and replaced on each new event
}

// Start runs echo-as.js from dir (see Install) with reg, calling the
// client API at homeserver, and waits until it listens and its bot user
// exists (so Synapse must already have loaded reg). It stops with t.
func Start(ctx context.Context, t testing.TB, dir string, reg Registration, homeserver, serverName string) (*Service, error) {
	regPath := filepath.Join(t.TempDir(), "registration.json")
	if err := os.WriteFile(regPath, []byte(reg.YAML()), 0o600); err != nil {
		return nil, fmt.Errorf("start appservice: %w", err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "echo-as.js"), regPath, homeserver, serverName)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start appservice: %w", err)
	}
	s := &Service{cmd: cmd, done: make(chan struct{}), notify: make(chan struct{})}
	cmd.Stderr = &lockedWriter{s: s}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start appservice: %w", err)
	}
	go s.read(stdout)
	t.Cleanup(s.Stop)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := s.Wait(wctx, func(e Event) bool { return e.Kind == "listening" }); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start appservice: %w; output:\n%s", err, s.Output())
	}
	return s, nil
}

func (s *Service) read(r io.Reader) {
	defer close(s.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		var e Event
		s.mu.Lock()
		s.log.WriteString(line + "\n")
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind != "" {
			s.events = append(s.events, e)
			close(s.notify)
			s.notify = make(chan struct{})
		}
		s.mu.Unlock()
	}
	_ = s.cmd.Wait()
}

type lockedWriter struct{ s *Service }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

// Events returns what the service did so far.
func (s *Service) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Output is everything the service printed.
func (s *Service) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// ErrExited is returned by Wait when the service ended.
var ErrExited = errors.New("appservice exited")

// Wait returns the first event, past or future, that match accepts,
// waiting until ctx ends or the service exits.
func (s *Service) Wait(ctx context.Context, match func(Event) bool) (Event, error) {
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.events); seen++ {
			if e := s.events[seen]; match(e) {
				s.mu.Unlock()
				return e, nil
			}
			if s.events[seen].Kind == "fatal" {
				err := fmt.Errorf("appservice: %s", s.events[seen].Error)
				s.mu.Unlock()
				return Event{}, err
			}
		}
		notify := s.notify
		s.mu.Unlock()
		select {
		case <-notify:
		case <-s.done:
			// Drain what was read before the exit.
			s.mu.Lock()
			n := len(s.events)
			s.mu.Unlock()
			if seen == n {
				return Event{}, ErrExited
			}
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Stop ends the service and waits for it.
func (s *Service) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// lockFile takes an exclusive flock on path, waiting until it is free or
// ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
