package juju

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs hook tools. ExecRunner runs the real ones; tests use
// jujutest.Memory or any other fake.
type Runner interface {
	// Run executes one hook tool with args and optional stdin, returning stdout.
	// A tool that ran and failed is reported as a *ToolError.
	Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error)
}

// ExecRunner runs the hook tools as processes. Juju puts its tools directory
// first on the charm's PATH, so tools are found by the usual PATH lookup.
type ExecRunner struct {
	// Env is the environment each tool runs with, as "KEY=value" entries.
	// Nil means the charm's own environment, which is what the tools need
	// (JUJU_CONTEXT_ID, JUJU_AGENT_SOCKET_ADDRESS, ...).
	Env []string
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = r.Env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("run %s: %w", tool, ctxErr)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return stdout.Bytes(), &ToolError{Tool: tool, ExitCode: exitErr.ExitCode(), Stderr: stderr.String()}
	}
	return nil, fmt.Errorf("run %s: %w", tool, err)
}

// ToolError reports a hook tool that ran and exited with a non-zero code.
// It deliberately does not carry the arguments: they may hold data that must
// not reach a log line.
type ToolError struct {
	// Tool is the hook tool's name, e.g. "relation-get".
	Tool string
	// ExitCode is the tool's exit code.
	ExitCode int
	// Stderr is what the tool wrote to standard error, e.g.
	// "ERROR permission denied\n".
	Stderr string
}

// maxStderrInError bounds how much of stderr Error() repeats.
const maxStderrInError = 2048

// Error names the tool, its exit code and its stderr.
func (e *ToolError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if len(msg) > maxStderrInError {
		msg = msg[:maxStderrInError] + "..."
	}
	if msg == "" {
		return fmt.Sprintf("%s exited with code %d", e.Tool, e.ExitCode)
	}
	return fmt.Sprintf("%s exited with code %d: %s", e.Tool, e.ExitCode, msg)
}

// IsNotFound reports whether err is a hook tool's "not found" error, such as
// secret-get of a label or ID that does not exist (ops raises
// SecretNotFoundError on the same test).
func IsNotFound(err error) bool {
	var te *ToolError
	return errors.As(err, &te) && strings.Contains(te.Stderr, "not found")
}

// IsPermissionDenied reports whether a hook tool refused access, e.g.
// relation-get on a relation this unit has not entered yet (install and
// storage-attached run before relation-created).
func IsPermissionDenied(err error) bool {
	var te *ToolError
	return errors.As(err, &te) && strings.Contains(te.Stderr, "permission denied")
}
