package bed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Redis is a redis-server on 127.0.0.1 without persistence and without a
// password, started by StartRedis.
type Redis struct {
	dir  string
	port int

	mu   sync.Mutex // guards proc across Stop and Restart
	proc *process
}

// StartRedis starts redis-server on a free port of 127.0.0.1, with dir as its
// working directory and log (dir/redis.log), no RDB or AOF persistence and
// protected mode off (it listens on loopback only). It returns once the
// server answers PING.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	if err := EnsureHostPackages(ctx); err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("start redis: %w (apt-get install redis-server)", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	r := &Redis{dir: dir}
	// A free port may be taken between choosing and binding it: try again.
	for attempt := 0; ; attempt++ {
		if r.port, err = FreePort("127.0.0.1"); err != nil {
			return nil, fmt.Errorf("start redis: %w", err)
		}
		if err = r.start(ctx); err == nil {
			return r, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return nil, fmt.Errorf("start redis: %w", err)
		}
	}
}

// start runs redis-server in the foreground, so its PID is ours to signal
// (a daemonized Redis deletes its pidfile on shutdown).
func (r *Redis) start(ctx context.Context) error {
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", itoa(r.port),
		"--save", "", "--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--dir", r.dir, "--logfile", "")
	cmd.Dir = r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	proc, err := startProcess("redis-server", cmd, filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return err
	}
	r.proc = proc
	ctx, cancel := withDeadline(ctx, 10*time.Second)
	defer cancel()
	if err := proc.waitReady(ctx, r.Ping); err != nil {
		_ = proc.stop(syscall.SIGKILL, time.Second)
		return err
	}
	return nil
}

// Host is the address the server listens on: 127.0.0.1.
func (r *Redis) Host() string { return "127.0.0.1" }

// Port is the TCP port the server listens on.
func (r *Redis) Port() int { return r.port }

// PID is the host PID of redis-server.
func (r *Redis) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc.pid()
}

// Ping sends PING and expects PONG.
func (r *Redis) Ping(ctx context.Context) error {
	reply, err := r.Do(ctx, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("redis ping: unexpected reply %q", reply)
	}
	return nil
}

// FlushAll empties every database, for per-test isolation.
func (r *Redis) FlushAll(ctx context.Context) error {
	_, err := r.Do(ctx, "FLUSHALL")
	return err
}

// Do sends one command on a fresh connection and returns the reply as text:
// a status or bulk string as is, an integer in decimal, a nil reply as "",
// and an array as its elements joined by newlines. An error reply is an
// error.
func (r *Redis) Do(ctx context.Context, args ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(r.Host(), itoa(r.port)))
	if err != nil {
		return "", fmt.Errorf("redis %s: %w", firstArg(args), err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return "", fmt.Errorf("redis %s: %w", firstArg(args), err)
	}
	reply, err := readRESP(bufio.NewReader(conn))
	if err != nil {
		return "", fmt.Errorf("redis %s: %w", firstArg(args), err)
	}
	return reply, nil
}

// Stop shuts the server down and waits for it to exit. Stopping twice is
// fine.
func (r *Redis) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop()
}

func (r *Redis) stop() error {
	if r.proc == nil {
		return nil
	}
	if err := r.proc.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		return fmt.Errorf("stop redis: %w", err)
	}
	return nil
}

// Restart stops the server and starts it again, empty, on the same port, as
// a Redis outage would; clients see their connections drop.
func (r *Redis) Restart(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.stop(); err != nil {
		return err
	}
	if err := r.start(ctx); err != nil {
		return fmt.Errorf("restart redis: %w", err)
	}
	return nil
}

// readRESP reads one RESP2 reply and renders it as text (see Redis.Do).
func readRESP(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		var n int
		if _, err := fmt.Sscan(line[1:], &n); err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		var n int
		if _, err := fmt.Sscan(line[1:], &n); err != nil {
			return "", fmt.Errorf("bad array length %q", line)
		}
		items := make([]string, 0, max(n, 0))
		for i := 0; i < n; i++ {
			item, err := readRESP(br)
			if err != nil {
				return "", err
			}
			items = append(items, item)
		}
		return strings.Join(items, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
