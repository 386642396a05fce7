package juju_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

func TestToolErrorFormat(t *testing.T) {
	tests := []struct {
		err  juju.ToolError
		want string
	}{
		{juju.ToolError{Tool: "relation-get", ExitCode: 1, Stderr: "ERROR permission denied\n"},
			"relation-get exited with code 1: ERROR permission denied"},
		{juju.ToolError{Tool: "is-leader", ExitCode: 2},
			"is-leader exited with code 2"},
		{juju.ToolError{Tool: "x", ExitCode: 1, Stderr: strings.Repeat("e", 3000)},
			"x exited with code 1: " + strings.Repeat("e", 2048) + "..."},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.err.Error())
	}
}

// TestToolErrorWrapped: Tools wrap the ToolError with the call, keep it
// reachable with errors.As, and never repeat argv (which may hold data).
func TestToolErrorWrapped(t *testing.T) {
	rec := newRecorder()
	rec.err["relation-set"] = &juju.ToolError{Tool: "relation-set", ExitCode: 1, Stderr: "ERROR cannot write relation settings\n"}
	err := juju.New(rec).RelationSet(context.Background(), &juju.RelationSetOptions{
		RelationID: "database:3", App: true, Data: map[string]string{"password": "hunter2"},
	})
	require.Error(t, err)
	assert.Equal(t, "relation-set database:3: relation-set exited with code 1: ERROR cannot write relation settings", err.Error())
	var te *juju.ToolError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 1, te.ExitCode)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestIsNotFound(t *testing.T) {
	assert.True(t, juju.IsNotFound(fmt.Errorf("secret-get x: %w", &juju.ToolError{Tool: "secret-get", ExitCode: 1, Stderr: "ERROR secret \"x\" not found\n"})))
	assert.False(t, juju.IsNotFound(&juju.ToolError{Tool: "secret-get", ExitCode: 1, Stderr: "ERROR permission denied\n"}))
	assert.False(t, juju.IsNotFound(errors.New("not found")), "only a tool's answer counts")
	assert.False(t, juju.IsNotFound(nil))
}

// writeTool puts a shell script named name on a fresh PATH directory.
func writeTool(t *testing.T, dir, name, script string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755))
}

func TestExecRunner(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	writeTool(t, dir, "echo-tool", `printf '%s|' "$@"; printf 'stdin='; cat; printf ' env=%s' "$JUJU_CONTEXT_ID"`)
	writeTool(t, dir, "fail-tool", `echo "ERROR permission denied" >&2; exit 3`)
	writeTool(t, dir, "slow-tool", `sleep 5`)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx := context.Background()

	r := juju.ExecRunner{Env: []string{"JUJU_CONTEXT_ID=ctx-1", "PATH=" + os.Getenv("PATH")}}
	out, err := r.Run(ctx, "echo-tool", []string{"-r", "db:1", "--file", "-"}, []byte(`{"a":"b"}`))
	require.NoError(t, err)
	assert.Equal(t, `-r|db:1|--file|-|stdin={"a":"b"} env=ctx-1`, string(out))

	out, err = r.Run(ctx, "echo-tool", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, `|stdin= env=ctx-1`, string(out), "no stdin reads as empty")

	_, err = r.Run(ctx, "fail-tool", []string{"s3cr3t"}, nil)
	var te *juju.ToolError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, juju.ToolError{Tool: "fail-tool", ExitCode: 3, Stderr: "ERROR permission denied\n"}, *te)
	assert.NotContains(t, err.Error(), "s3cr3t")

	_, err = r.Run(ctx, "no-such-tool", nil, nil)
	require.Error(t, err)
	assert.False(t, errors.As(err, &te), "a tool that never ran is not a ToolError")
	assert.ErrorIs(t, err, exec.ErrNotFound)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = r.Run(cctx, "slow-tool", nil, nil)
	assert.ErrorIs(t, err, context.Canceled)

	// The zero ExecRunner inherits the environment, through Tools too.
	t.Setenv("JUJU_CONTEXT_ID", "ctx-2")
	writeTool(t, dir, "is-leader", `echo true`)
	leader, err := juju.New(juju.ExecRunner{}).IsLeader(ctx)
	require.NoError(t, err)
	assert.True(t, leader)
}
