package bed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// testContext is a context that ends shortly before the test's deadline.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// loopback picks a random unit address 127.0.x.y (never 127.0.0.1).
func loopback(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.%d.%d", 1+rand.IntN(250), 2+rand.IntN(250))
}

// freePort is bed.FreePort that fails the test on error.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	port, err := bed.FreePort(ip)
	require.NoError(t, err)
	return port
}

// image returns the workload image, building it if needed.
func image(t *testing.T) string {
	t.Helper()
	ctx := testContext(t, 10*time.Minute)
	start := time.Now()
	img, err := bed.Image(ctx)
	require.NoError(t, err, "the workload image (tests/bed/build-image.sh)")
	t.Logf("image %s ready in %v", img, time.Since(start).Round(time.Millisecond))
	return img
}

// startContainer starts a container and stops it at the end of the test.
func startContainer(t *testing.T, opts bed.ContainerOptions) *bed.Container {
	t.Helper()
	start := time.Now()
	c, err := bed.StartContainer(testContext(t, time.Minute), opts)
	require.NoError(t, err)
	t.Logf("container %s: pebble up in %v", opts.Name, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop container %s: %v", opts.Name, err)
		}
		if t.Failed() {
			if data, err := os.ReadFile(c.LogPath()); err == nil {
				t.Logf("%s %s:\n%s", opts.Name, c.LogPath(), lastLines(string(data), 60))
			}
		}
	})
	return c
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// push writes a file into a container through Pebble.
func push(t *testing.T, c *bed.Container, path, content string) {
	t.Helper()
	err := c.Client().Push(&client.PushOptions{
		Source: strings.NewReader(content), Path: path, MakeDirs: true, Permissions: 0o644,
	})
	require.NoError(t, err, "push %s", path)
}

// pull reads a file from a container through Pebble.
func pull(c *bed.Container, path string) (string, error) {
	var buf bytes.Buffer
	err := c.Client().Pull(&client.PullOptions{Path: path, Target: &buf})
	return buf.String(), err
}

// execIn runs a command in a container through Pebble and returns its
// standard output.
func execIn(t *testing.T, c *bed.Container, cmd ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer // written concurrently: one each
	p, err := c.Client().Exec(&client.ExecOptions{Command: cmd, Stdout: &stdout, Stderr: &stderr, Timeout: time.Minute})
	require.NoError(t, err, "exec %v", cmd)
	require.NoError(t, p.Wait(), "exec %v: %s%s", cmd, stdout.String(), stderr.String())
	return stdout.String()
}

// replan adds (combines) a layer and replans, waiting for the change.
func replan(t *testing.T, c *bed.Container, layer string) {
	t.Helper()
	pc := c.Client()
	require.NoError(t, pc.AddLayer(&client.AddLayerOptions{Combine: true, Label: "test", LayerData: []byte(layer)}))
	id, err := pc.Replan(&client.ServiceOptions{})
	require.NoError(t, err)
	ch, err := pc.WaitChange(id, &client.WaitChangeOptions{Timeout: time.Minute})
	require.NoError(t, err)
	require.Empty(t, ch.Err, "replan change failed")
}

// waitHTTP polls url until it answers 200, and returns the body.
func waitHTTP(t *testing.T, url string, timeout time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %v: %s", url, timeout, last)
	return nil
}

// doJSON sends a JSON request (body may be nil) and decodes a JSON answer.
func doJSON(t *testing.T, method, url, token string, body any, timeout time.Duration) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "%s %s answered %d: %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// baseURL is http://ip:port.
func baseURL(ip string, port int) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

// mountsUnder lists the host mount points at or under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			found = append(found, fields[4])
		}
	}
	return found
}

// namespaceMembers lists the host PIDs whose namespace of this kind ("pid"
// or "mnt") is ns, as read from /proc/PID/ns/KIND.
func namespaceMembers(t *testing.T, kind, ns string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", kind))
		if err == nil && link == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}
