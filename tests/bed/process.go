package bed

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pollInterval is how often readiness probes run.
const pollInterval = 20 * time.Millisecond

// RequireRoot skips the test unless it runs as root, which the bed needs for
// namespaces, mounts, chroot and running PostgreSQL as its own user.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("tests/bed needs root (namespaces, mounts, chroot, the postgres user); run as root, as CI does")
	}
}

// FreePort returns a TCP port that is free on the IPv4 address ip (for
// example "127.0.0.1" or a unit's "127.0.1.2") at the time of the call.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("free port on %s: %w", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a child process whose exit is observed in the background.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // set before done is closed
}

// startProcess starts cmd with its output appended to logPath.
func startProcess(name string, cmd *exec.Cmd, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logFile.Close()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the host PID of the process.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits up to grace for the process to end, then kills it and
// waits again. It returns an error only when the process would not die.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: pid %d did not exit after SIGKILL", p.name, p.pid())
	}
}

// waitReady calls probe until it succeeds, the process exits or ctx ends.
func (p *process) waitReady(ctx context.Context, probe func(context.Context) error) error {
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready (%v): %s", p.name, p.err, tail(p.logPath))
		}
		if last = probe(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last probe: %v)", p.name, ctx.Err(), last)
		case <-p.done:
		case <-time.After(pollInterval):
		}
	}
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "log " + path + ":\n" + strings.Join(lines, "\n")
}

// withDeadline gives ctx a deadline of d unless it already has an earlier one.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// itoa is strconv.Itoa, for building argument lists.
func itoa(n int) string { return strconv.Itoa(n) }
