package bed_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// TestContainerServiceAnswersFromHost adds a Pebble layer whose service
// binds the unit's own loopback address, and reaches it from the host.
func TestContainerServiceAnswersFromHost(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	dir := t.TempDir()
	addr := loopback(t)
	port := freePort(t, addr)
	hosts := filepath.Join(dir, "hosts")
	require.NoError(t, os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+addr+" unit-0.test\n"), 0o644))

	c := startContainer(t, bed.ContainerOptions{Name: "workload", Image: img, Dir: filepath.Join(dir, "c"), HostsFile: hosts})
	assert.FileExists(t, c.SocketPath(), "the host sees Pebble's socket in SocketDir")

	push(t, c, "/srv/www/index.html", "hello from the container\n")
	start := time.Now()
	replan(t, c, fmt.Sprintf(`
services:
  web:
    override: replace
    command: python3 -m http.server --bind %s %d --directory /srv/www
    startup: enabled
`, addr, port))
	body := waitHTTP(t, baseURL(addr, port)+"/index.html", 20*time.Second)
	t.Logf("replan to first answer: %v", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, "hello from the container\n", string(body))

	// Names resolve through the bound hosts file, which the caller may
	// rewrite in place while the container runs.
	assert.Contains(t, execIn(t, c, "getent", "hosts", "unit-0.test"), addr)
	require.NoError(t, os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+addr+" unit-0.test\n127.0.9.9 unit-1.test\n"), 0o644))
	assert.Contains(t, execIn(t, c, "getent", "hosts", "unit-1.test"), "127.0.9.9")

	// The container has its own PID namespace with Pebble as PID 1.
	assert.Equal(t, "1\n", execIn(t, c, "sh", "-c", "echo $PPID"), "exec'd commands are children of Pebble, PID 1")
}

// TestContainerRestartKeepsBindsOnly restarts a container as Kubernetes
// does: a fresh filesystem, the same volumes, a new Pebble without layers.
func TestContainerRestartKeepsBindsOnly(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	c := startContainer(t, bed.ContainerOptions{
		Name: "workload", Image: img, Dir: filepath.Join(dir, "c"),
		Binds: []bed.Bind{{HostPath: data, Path: "/data"}},
	})

	push(t, c, "/data/kept.txt", "persistent")
	push(t, c, "/etc/scratch.txt", "ephemeral")
	push(t, c, "/charm/container/shared.txt", "emptyDir")
	replan(t, c, `
services:
  sleeper:
    override: replace
    command: sleep 1000
    startup: enabled
`)
	assert.FileExists(t, filepath.Join(data, "kept.txt"), "/data is the host directory")
	assert.FileExists(t, filepath.Join(c.UpperDir(), "etc", "scratch.txt"), "other writes go to the overlay upper dir")
	_, err := os.Stat(filepath.Join(img, "etc", "scratch.txt"))
	assert.True(t, os.IsNotExist(err), "the image is never written")
	before, err := c.Client().SysInfo()
	require.NoError(t, err)

	start := time.Now()
	require.NoError(t, c.Restart(testContext(t, time.Minute)))
	t.Logf("restart took %v", time.Since(start).Round(time.Millisecond))

	after, err := c.Client().SysInfo()
	require.NoError(t, err)
	assert.NotEqual(t, before.BootID, after.BootID, "a restarted Pebble has a new boot id")
	got, err := pull(c, "/data/kept.txt")
	require.NoError(t, err)
	assert.Equal(t, "persistent", got)
	got, err = pull(c, "/charm/container/shared.txt")
	require.NoError(t, err)
	assert.Equal(t, "emptyDir", got)
	_, err = pull(c, "/etc/scratch.txt")
	assert.Error(t, err, "writes outside volumes vanish with a restart")
	services, err := c.Client().Services(&client.ServicesOptions{})
	require.NoError(t, err)
	assert.Empty(t, services, "layers do not survive a restart")
	plan, err := c.Client().PlanBytes(nil)
	require.NoError(t, err)
	assert.NotContains(t, string(plan), "sleeper")
}

// TestContainerStopLeavesNothing checks that after Stop no process of the
// container is left and no mount of it ever reached the host.
func TestContainerStopLeavesNothing(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	mountsBefore := mountsUnder(t, dir)
	imgMountsBefore := mountsUnder(t, img)

	c, err := bed.StartContainer(testContext(t, time.Minute), bed.ContainerOptions{
		Name: "leaky", Image: img, Dir: filepath.Join(dir, "c"),
		Binds: []bed.Bind{{HostPath: data, Path: "/data"}},
	})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})
	replan(t, c, `
services:
  one:
    override: replace
    command: sleep 1000
    startup: enabled
  two:
    override: replace
    command: sh -c 'sleep 1000 & sleep 1000'
    startup: enabled
`)
	pidNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.PID()))
	require.NoError(t, err)
	mntNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", c.PID()))
	require.NoError(t, err)
	self, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	assert.NotEqual(t, self, mntNS, "the container has its own mount namespace")
	members := namespaceMembers(t, "pid", pidNS)
	assert.GreaterOrEqual(t, len(members), 4, "pebble and its services: %v", members)
	assert.Empty(t, mountsUnder(t, filepath.Join(dir, "c")), "the container's mounts are not in the host's table")

	start := time.Now()
	require.NoError(t, c.Stop())
	stopped = true
	t.Logf("stop took %v", time.Since(start).Round(time.Millisecond))

	assert.Empty(t, namespaceMembers(t, "pid", pidNS), "no process of the container is left")
	assert.Empty(t, namespaceMembers(t, "mnt", mntNS), "nothing holds the container's mount namespace")
	assert.Equal(t, mountsBefore, mountsUnder(t, dir))
	assert.Equal(t, imgMountsBefore, mountsUnder(t, img))
	_, err = os.Stat(filepath.Join(dir, "c", "work"))
	assert.True(t, os.IsNotExist(err), "the overlay work dir is removed")
	assert.DirExists(t, data, "caller-owned directories stay")
	entries, err := os.ReadDir(filepath.Join(dir, "c", "root"))
	require.NoError(t, err)
	assert.Empty(t, entries, "the mount point is an empty directory on the host")
	require.NoError(t, c.Stop(), "stopping twice is fine")
}

// TestContainerOptionsChecked rejects options that could not work.
func TestContainerOptionsChecked(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	ctx := testContext(t, time.Minute)
	_, err := bed.StartContainer(ctx, bed.ContainerOptions{Name: "x", Image: img, Dir: t.TempDir(),
		SocketDir: "/tmp/" + strings.Repeat("s", 100)})
	assert.ErrorContains(t, err, "socket path")
	_, err = bed.StartContainer(ctx, bed.ContainerOptions{Name: "x", Image: img, Dir: t.TempDir(),
		Binds: []bed.Bind{{HostPath: "/nonexistent/bed", Path: "/data"}}})
	assert.ErrorContains(t, err, "bind /data")
	_, err = bed.StartContainer(ctx, bed.ContainerOptions{Name: "x", Image: img, Dir: t.TempDir(),
		Binds: []bed.Bind{{HostPath: t.TempDir(), Path: "data"}}})
	assert.ErrorContains(t, err, "must be absolute")
}
