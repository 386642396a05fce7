package sim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Test charms are shell scripts installed as dispatch: they exercise the
// simulator through the real hooktool binary, as a Go charm would.

// quietCharm runs every hook and does nothing.
const quietCharm = "exit 0\n"

// writeCharm writes a dispatch script with body and returns its path.
func writeCharm(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dispatch")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// testCharmRoot is a copy of the synapse metadata with typed config options
// and an action.
func testCharmRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("testdata/charm")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// newModel creates a model with a script charm, closed at cleanup.
func newModel(t *testing.T, body string, opts Options) *Model {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Charm = writeCharm(t, body)
	if opts.CharmRoot == "" {
		opts.CharmRoot = testCharmRoot(t)
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Millisecond
	}
	m, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// deploy deploys n units and waits until idle.
func deploy(t *testing.T, m *Model, n int) {
	t.Helper()
	ctx := testCtx(t)
	if err := m.Deploy(ctx, n); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
}

func waitIdle(t *testing.T, m *Model) {
	t.Helper()
	if err := m.WaitIdle(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// tool runs one hook tool in a unit's context (like juju exec) and returns
// its result.
func tool(t *testing.T, m *Model, unit string, args ...string) *ExecResult {
	t.Helper()
	return toolOpts(t, m, unit, ExecOptions{Command: args})
}

func toolOpts(t *testing.T, m *Model, unit string, opts ExecOptions) *ExecResult {
	t.Helper()
	res, err := m.Exec(testCtx(t), unit, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mustTool runs a tool that must succeed and returns its stdout.
func mustTool(t *testing.T, m *Model, unit string, args ...string) string {
	t.Helper()
	res := tool(t, m, unit, args...)
	if res.Code != 0 {
		t.Fatalf("%s: exit %d, stderr %q", strings.Join(args, " "), res.Code, res.Stderr)
	}
	return res.Stdout
}

// postgresApp is a static stand-in for postgresql-k8s with known bags.
func postgresApp() *StaticApp {
	return &StaticApp{
		AppName: "postgresql-k8s", EndpointName: "database", InterfaceName: "postgresql_client",
		AppData:  map[string]string{"endpoints": "pg:5432", "database": "synapse"},
		UnitData: map[int]map[string]string{0: {"role": "primary"}},
	}
}

// integrate relates app on endpoint and waits until idle.
func integrate(t *testing.T, m *Model, app RemoteApp, endpoint string) int {
	t.Helper()
	id, err := m.Integrate(testCtx(t), app, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	return id
}

// hookNames returns the names of the hooks run since mark, as
// HookRecord.String.
func hookNames(m *Model, mark int) []string {
	var out []string
	for _, h := range m.Recorder().HooksSince(mark) {
		out = append(out, h.String())
	}
	return out
}

// unitHooks filters hook strings to one unit and drops the unit prefix.
func unitHooks(hooks []string, unit string) []string {
	var out []string
	for _, h := range hooks {
		if rest, ok := strings.CutPrefix(h, unit+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

func mustTime(s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return v
}
