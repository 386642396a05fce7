package charm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
)

// psScript lists the container's processes as "uid gid cmdline", as ps
// would: the container has its own PID namespace and /proc.
const psScript = `
import os
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        status = open("/proc/%s/status" % pid).read()
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode().strip()
    except OSError:
        continue
    ids = {l.split(":")[0]: l.split()[1] for l in status.splitlines() if l.startswith(("Uid:", "Gid:"))}
    print(ids["Uid"], ids["Gid"], cmd)
`

// synapseProcesses returns "uid gid cmdline" of every Synapse process in
// the synapse container.
func (u *unit) synapseProcesses() []string {
	u.t.Helper()
	var out, errOut bytes.Buffer
	proc, err := u.container.Client().Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", psScript}, Stdout: &out, Stderr: &errOut, Timeout: 30 * time.Second,
	})
	require.NoError(u.t, err)
	require.NoError(u.t, proc.Wait(), errOut.String())
	var procs []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "synapse.app.") {
			procs = append(procs, line)
		}
	}
	return procs
}

// TestSynapseRunsUnprivileged: no Synapse process runs as root; the
// secrets are 0600 and owned by Synapse's user; Synapse still registers
// users and stores media; data a root-run Synapse left behind is given
// to the user once, and Synapse writes it again.
func TestSynapseRunsUnprivileged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	u := newUnit(t)
	u.run("config-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)

	procs := u.synapseProcesses()
	require.NotEmpty(t, procs, "no Synapse process in the container")
	for _, p := range procs {
		assert.True(t, strings.HasPrefix(p, "991 991 "), "Synapse process not running as 991:991: %s", p)
	}
	for _, secret := range []string{"signing.key", "macaroon", "registration", "form", "replication"} {
		fi, err := os.Stat(filepath.Join(u.dir, "data", "secrets", secret))
		require.NoError(t, err, secret)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), secret)
		sys := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, [2]uint32{991, 991}, [2]uint32{sys.Uid, sys.Gid}, "owner of %s", secret)
	}

	serves := func(user string) {
		t.Helper()
		res := u.action("register-user", map[string]any{"username": user})
		c := matrix.New("http://" + u.addr + ":8080")
		require.NoError(t, c.Login(ctx, user, res["user-password"]))
		mxc, err := c.Upload(ctx, "hello.txt", "text/plain", []byte("hello from "+user))
		require.NoError(t, err)
		data, err := c.Download(ctx, mxc)
		require.NoError(t, err)
		assert.Equal(t, "hello from "+user, string(data))
	}
	serves("alice")

	// Data left by a Synapse that ran as root (an older charm, the Python
	// charm): the next hook gives it to Synapse's user before starting it.
	// Pebble reports a service inactive as soon as it sends SIGTERM, while
	// Synapse may still be closing its database: wait for the stop change
	// and for the process to be gone before touching its files.
	id, err := u.container.Client().Stop(&client.ServiceOptions{Names: []string{"synapse"}})
	require.NoError(t, err)
	_, err = u.container.Client().WaitChange(id, &client.WaitChangeOptions{Timeout: 60 * time.Second})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(u.synapseProcesses()) == 0 }, 30*time.Second, 100*time.Millisecond)
	out, err := exec.Command("chown", "-R", "0:0", filepath.Join(u.dir, "data")).CombinedOutput()
	require.NoError(t, err, string(out))
	u.run("update-status")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	for _, p := range []string{"", "homeserver.db", "media_store"} {
		fi, err := os.Stat(filepath.Join(u.dir, "data", p))
		require.NoError(t, err, p)
		assert.Equal(t, uint32(991), fi.Sys().(*syscall.Stat_t).Uid, "owner of /data/%s", p)
	}
	serves("bob")
}

// whois returns what Synapse recorded of a user's connections.
func whois(t *testing.T, base string, c *matrix.Client) string {
	t.Helper()
	var body json.RawMessage
	require.NoError(t, c.WithBase(base).Do(context.Background(), http.MethodGet, "/_synapse/admin/v1/whois/"+c.UserID, nil, &body))
	return string(body)
}

// getFrom makes an authenticated request through nginx from a source
// address, with an X-Forwarded-For header.
func getFrom(t *testing.T, source, url, token, forwardedFor string) {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
}

// TestClientAddressesCannotBeForged: a client's own X-Forwarded-For does
// not reach Synapse's record of its address; the ingress's does, once
// trusted_proxies names it.
func TestClientAddressesCannotBeForged(t *testing.T) {
	u := newUnit(t)
	u.run("config-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	direct := "http://" + u.addr + ":8008"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	login := func(user string) *matrix.Client {
		res := u.action("register-user", map[string]any{"username": user})
		c := matrix.New(direct)
		require.NoError(t, c.Login(ctx, user, res["user-password"]))
		return c
	}
	c, probe := login("mallory"), login("probe")
	nginx := "http://" + u.addr + ":8080"
	whoami := nginx + "/_matrix/client/v3/account/whoami"

	const forged, proxied = "203.0.113.66", "198.51.100.7"
	getFrom(t, "127.0.0.5", whoami, c.Token, forged)
	seen := whois(t, direct, c)
	assert.NotContains(t, seen, forged, "a client's own X-Forwarded-For reached Synapse")
	assert.Contains(t, seen, `"127.0.0.5"`, "Synapse records the address nginx saw")

	// The ingress at 127.0.0.77 is trusted: its header is the client's
	// address; a client elsewhere still cannot forge one.
	u.mem.SetConfig(map[string]any{"server_name": "test.local", "public_baseurl": "http://test.local/", "trusted_proxies": "127.0.0.77/32"})
	u.run("config-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	// nginx reloads in the background: another user waits for it.
	require.Eventually(t, func() bool {
		getFrom(t, "127.0.0.77", whoami, probe.Token, proxied)
		return strings.Contains(whois(t, direct, probe), strconv.Quote(proxied))
	}, 20*time.Second, 200*time.Millisecond, "nginx reloaded with the trusted proxy")
	getFrom(t, "127.0.0.77", whoami, c.Token, forged+", "+proxied)
	getFrom(t, "127.0.0.6", whoami, c.Token, "203.0.113.67")
	seen = whois(t, direct, c)
	assert.Contains(t, seen, strconv.Quote(proxied), "the trusted ingress's X-Forwarded-For is the client's address")
	assert.NotContains(t, seen, forged, "only the entry the ingress added is trusted")
	assert.NotContains(t, seen, "203.0.113.67", "an untrusted peer's header is ignored")
	assert.Contains(t, seen, `"127.0.0.6"`, "an untrusted peer is the client")
	assert.NotContains(t, seen, `"127.0.0.77"`, fmt.Sprintf("the ingress is not the client: %s", seen))
}
