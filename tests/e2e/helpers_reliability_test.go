package e2e

// Helpers for the reliability and soak scenarios: snapshots of what the
// charm controls (databags, rendered files), waiting for convergence as
// Juju's retries and periodic update-status would, reading a room's whole
// history back, and injecting faults the simulator has no switch for.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// probeKey is a databag key no charm reads: tests write it to make Juju
// fire relation-changed without changing anything the charm uses.
const probeKey = "reliability-probe"

// tappedApp wraps a simulated provider and keeps the RemoteRelation the
// simulator hands it, so that a test can write into the provider's bags
// later (and so fire relation-changed on our units).
type tappedApp struct {
	sim.RemoteApp
	mu sync.Mutex
	rr *sim.RemoteRelation
}

func (a *tappedApp) keep(r *sim.RemoteRelation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rr = r
}

// Created implements sim.RemoteApp.
func (a *tappedApp) Created(ctx context.Context, r *sim.RemoteRelation) error {
	a.keep(r)
	return a.RemoteApp.Created(ctx, r)
}

// Changed implements sim.RemoteApp.
func (a *tappedApp) Changed(ctx context.Context, r *sim.RemoteRelation) error {
	a.keep(r)
	return a.RemoteApp.Changed(ctx, r)
}

// UnitAddress implements sim.UnitAddresser when the wrapped app does.
func (a *tappedApp) UnitAddress(i int) string {
	if ua, ok := a.RemoteApp.(sim.UnitAddresser); ok {
		return ua.UnitAddress(i)
	}
	return ""
}

// relation is the provider's side of the relation.
func (a *tappedApp) relation() *sim.RemoteRelation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rr
}

// integrateTapped is deployment.integrate with the provider wrapped in a
// tappedApp, which it returns.
func (d *deployment) integrateTapped(app string) *tappedApp {
	d.t.Helper()
	remote, endpoint := d.provider(app)
	tapped := &tappedApp{RemoteApp: remote}
	d.integrateWith(app, tapped, endpoint)
	require.NotNil(d.t, tapped.relation(), "%s: the simulator never ran the provider's hooks", app)
	return tapped
}

// bagState flattens every committed databag of the model and every unit's
// charm state into "where key" -> value.
func (d *deployment) bagState() map[string]string {
	out := map[string]string{}
	for _, r := range d.m.Relations() {
		where := fmt.Sprintf("%s:%d", r.Endpoint, r.ID)
		add := func(bag string, data map[string]string) {
			for k, v := range data {
				out[where+" "+bag+" "+k] = v
			}
		}
		add(d.m.App(), r.AppData)
		for u, data := range r.UnitData {
			add(u, data)
		}
		if !r.Peer {
			add(r.RemoteApp, r.RemoteAppData)
			for u, data := range r.RemoteUnitData {
				add(u, data)
			}
		}
	}
	for _, u := range d.m.Units() {
		for k, v := range u.State {
			out["state "+u.Name+" "+k] = v
		}
	}
	return out
}

// diffState lists the keys that differ between two bagState snapshots,
// skipping the keys ignore accepts.
func diffState(before, after map[string]string, ignore func(key string) bool) []string {
	var out []string
	for k, v := range after {
		if ignore != nil && ignore(k) {
			continue
		}
		if old, ok := before[k]; !ok {
			out = append(out, fmt.Sprintf("%s: added %q", k, short(v)))
		} else if old != v {
			out = append(out, fmt.Sprintf("%s: %q -> %q", k, short(old), short(v)))
		}
	}
	for k := range before {
		if ignore != nil && ignore(k) {
			continue
		}
		if _, ok := after[k]; !ok {
			out = append(out, k+": deleted")
		}
	}
	sort.Strings(out)
	return out
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	size int64
	mod  time.Time
	mode fs.FileMode
}

// renderedFiles stamps every file the charm pushes: each unit's data
// storage (homeserver.yaml, log.yaml, worker files, secrets), skipping what
// Synapse itself writes there (media, SQLite, logs), and nginx.conf in each
// unit's nginx container.
func (d *deployment) renderedFiles() map[string]fileStamp {
	d.t.Helper()
	out := map[string]fileStamp{}
	for _, u := range d.m.Units() {
		root := u.StorageDirs["data"]
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if e.IsDir() {
				if rel == "media_store" || rel == "media" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(rel, ".log") || strings.Contains(rel, ".db") || strings.HasSuffix(rel, ".pid") || !e.Type().IsRegular() {
				return nil
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			out[u.Name+":/data/"+rel] = fileStamp{size: fi.Size(), mod: fi.ModTime(), mode: fi.Mode()}
			return nil
		})
		require.NoError(d.t, err)
		if c := d.bed.Container(u.Name, workload.NginxContainer); c != nil {
			if fi, err := os.Stat(filepath.Join(c.UpperDir(), workload.NginxConfigPath)); err == nil {
				out[u.Name+":"+workload.NginxConfigPath] = fileStamp{size: fi.Size(), mod: fi.ModTime(), mode: fi.Mode()}
			}
		}
	}
	return out
}

// diffFiles lists the files written, added or removed between two stamps.
func diffFiles(before, after map[string]fileStamp) []string {
	var out []string
	for k, v := range after {
		if old, ok := before[k]; !ok {
			out = append(out, k+": created")
		} else if old != v {
			out = append(out, fmt.Sprintf("%s: rewritten (size %d -> %d, mtime %s -> %s, mode %v -> %v)",
				k, old.size, v.size, old.mod.Format(time.StampMicro), v.mod.Format(time.StampMicro), old.mode, v.mode))
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k+": removed")
		}
	}
	sort.Strings(out)
	return out
}

// hookSummary formats hook records, one per line, with the charm's
// "applied ..." lines and failures, for failure messages.
func hookSummary(hooks []sim.HookRecord) string {
	var b strings.Builder
	for _, h := range hooks {
		fmt.Fprintf(&b, "  %s (attempt %d, exit %d)\n", h, h.Attempt, h.ExitCode)
		for _, line := range strings.Split(strings.TrimSpace(h.Output), "\n") {
			if strings.Contains(line, "applied ") || strings.Contains(line, "published plan") || h.ExitCode != 0 {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	return b.String()
}

// statuses formats every unit's workload status.
func (d *deployment) statuses() string {
	var parts []string
	for _, u := range d.m.Units() {
		s := fmt.Sprintf("%s %s: %q", u.Name, u.WorkloadStatus.Status, u.WorkloadStatus.Message)
		if u.FailedHook != "" {
			s += " (in error on " + u.FailedHook + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// allActive reports whether every unit is active and none is in error.
func (d *deployment) allActive() bool {
	for _, u := range d.m.Units() {
		if u.WorkloadStatus.Status != "active" || u.FailedHook != "" {
			return false
		}
	}
	return true
}

// converge runs hooks until every unit is active, within timeout, the way
// a real model gets there: Juju keeps retrying a failed hook (the
// simulator gives up after Options.MaxRetries, so a unit in error is
// resolved and retried here, and reported) and fires update-status
// periodically (here first, and every round: a status is only as fresh as
// the last hook). It returns the hook failures seen.
func (d *deployment) converge(timeout time.Duration) []string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	var failures []string
	d.m.UpdateStatus()
	for round := 1; ; round++ {
		err := d.m.WaitIdle(ctx)
		var he *sim.HookError
		switch {
		case errors.As(err, &he):
			failures = append(failures, he.Failures...)
			d.t.Logf("converge round %d: hooks failed, retrying them as Juju would: %s", round, he)
			for _, u := range d.m.Units() {
				if u.FailedHook != "" {
					require.NoError(d.t, d.m.Resolve(u.Name, false))
				}
			}
		case err != nil:
			d.t.Fatalf("converge: %v; statuses: %s", err, d.statuses())
		case d.allActive():
			if round > 1 {
				d.t.Logf("converged after %d rounds of update-status", round)
			}
			return failures
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("not converged within %s: %s; hook failures: %v", timeout, d.statuses(), failures)
		case <-time.After(2 * time.Second):
		}
		d.m.UpdateStatus()
	}
}

// eventually calls f until it succeeds or timeout passes, every interval,
// and returns the last error.
func eventually(ctx context.Context, timeout, interval time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = f(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, last)
		case <-time.After(interval):
		}
	}
}

// sendTxn sends a text message with a caller-chosen transaction id, so a
// retry (through any unit) of a send whose answer was lost is deduplicated
// by Synapse instead of posting the message twice.
func sendTxn(ctx context.Context, c *matrix.Client, room, txn, text string) (string, error) {
	var out struct {
		EventID string `json:"event_id"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/send/m.room.message/" + url.PathEscape(txn)
	if err := c.Do(ctx, "PUT", path, map[string]any{"msgtype": "m.text", "body": text}, &out); err != nil {
		return "", err
	}
	if out.EventID == "" {
		return "", fmt.Errorf("send %q: no event_id in the answer", text)
	}
	return out.EventID, nil
}

// roomTexts reads a room's whole history (newest first pages of
// /messages, at most 1000 pages) and returns the bodies of its text
// messages, oldest first.
func roomTexts(ctx context.Context, c *matrix.Client, room string) ([]string, error) {
	var out []string
	from := ""
	for page := 0; page < 1000; page++ {
		q := url.Values{"dir": {"b"}, "limit": {"500"}}
		if from != "" {
			q.Set("from", from)
		}
		var res struct {
			Chunk []matrix.Event `json:"chunk"`
			End   string         `json:"end"`
		}
		if err := c.Do(ctx, "GET", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?"+q.Encode(), nil, &res); err != nil {
			return nil, err
		}
		for _, ev := range res.Chunk {
			if body, ok := ev.Content["body"].(string); ok && ev.Type == "m.room.message" {
				out = append(out, body)
			}
		}
		if res.End == "" || len(res.Chunk) == 0 {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
			return out, nil
		}
		from = res.End
	}
	return nil, fmt.Errorf("room %s: history longer than 1000 pages", room)
}

// missing returns the texts of want that are not in have.
func missing(want, have []string) []string {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	var out []string
	for _, w := range want {
		if !set[w] {
			out = append(out, w)
		}
	}
	return out
}

// failToolOnce makes the next call of a hook tool by unit fail once (exit 1,
// "ERROR ..." on stderr, as a failing Juju API call does) when its argv
// contains every string of argv, by putting a wrapper script in front of
// the simulator's hook-tool symlink. The simulator has no switch for this;
// the hook tools are found on the hook's PATH, so the wrapper is what the
// charm runs. It returns a function that reports whether the failure fired;
// the symlink is restored when the test ends (or by calling restore).
func failToolOnce(t testing.TB, m *sim.Model, tool, unit string, argv ...string) (fired func() bool, restore func()) {
	t.Helper()
	dir := filepath.Join(m.Dir(), "tools")
	link := filepath.Join(dir, tool)
	target, err := os.Readlink(link)
	require.NoError(t, err, "the simulator's %s is not a symlink any more: this injection needs updating", tool)
	require.Equal(t, "hooktool", target)
	marker := filepath.Join(t.TempDir(), "fired")
	var match strings.Builder
	for _, a := range argv {
		fmt.Fprintf(&match, "  case \" $* \" in *' %s '*) ;; *) exec %q %s \"$@\";; esac\n", a, filepath.Join(dir, "hooktool"), tool)
	}
	script := fmt.Sprintf(`#!/bin/sh
# injected by failToolOnce: fail the first matching %[1]s of %[2]s once
if [ "$JUJU_UNIT_NAME" = %[2]q ]; then
%[3]s  if mkdir %[4]q 2>/dev/null; then
    echo "ERROR injected failure: connection to the controller lost" >&2
    exit 1
  fi
fi
exec %[5]q %[1]s "$@"
`, tool, unit, match.String(), marker, filepath.Join(dir, "hooktool"))
	tmp := link + ".inject"
	require.NoError(t, os.WriteFile(tmp, []byte(script), 0o755))
	require.NoError(t, os.Rename(tmp, link))
	var once sync.Once
	restore = func() {
		once.Do(func() {
			tmp := link + ".restore"
			os.Remove(tmp)
			if err := os.Symlink("hooktool", tmp); err == nil {
				err = os.Rename(tmp, link)
				if err != nil {
					t.Errorf("restore %s: %v", link, err)
				}
			} else {
				t.Errorf("restore %s: %v", link, err)
			}
		})
	}
	t.Cleanup(restore)
	fired = func() bool {
		_, err := os.Stat(marker)
		return err == nil
	}
	return fired, restore
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// registerUser is deployment.register made robust to a loaded machine:
// the user gets a password chosen here, and a register-user that failed
// is run again (at most 6 times, within 5 minutes), as an operator would.
// A run can fail after Synapse registered the user (the charm gave up
// waiting for the answer): then the next run says the user exists, and
// the chosen password logs in. Failed runs are logged: they are a finding
// about the action, not about the scenario.
func (d *deployment) registerUser(unit, username string) *matrix.Client {
	d.t.Helper()
	return d.registerWithPassword(unit, username, fmt.Sprintf("pw-%s-%d", username, time.Now().UnixNano()), false)
}

// registerWithPassword is registerUser with the password given, and
// optionally a server admin.
func (d *deployment) registerWithPassword(unit, username, password string, admin bool) *matrix.Client {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	registered := false
	for attempt := 1; attempt <= 6 && !registered && time.Now().Before(deadline); attempt++ {
		res, err := d.m.RunAction(d.ctx, unit, "register-user", map[string]any{"username": username, "password": password, "admin": admin})
		require.NoError(d.t, err)
		switch {
		case res.Status == "completed":
			registered = true
		case attempt > 1 && (strings.Contains(res.Message, "taken") || strings.Contains(res.Message, "exists") || strings.Contains(res.Message, "in use")):
			d.t.Logf("register-user %s on %s: run %d says the user exists (an earlier run got through): %s", username, unit, attempt, res.Message)
			registered = true
		default:
			d.t.Logf("register-user %s on %s: run %d failed: %s", username, unit, attempt, res.Message)
		}
	}
	require.True(d.t, registered, "register-user %s on %s kept failing", username, unit)
	c := matrix.New(d.nginx(unit))
	err := eventually(d.ctx, 2*time.Minute, time.Second, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c.Login(ctx, username, password)
	})
	require.NoError(d.t, err, "%s logs in through %s", username, unit)
	return c
}
