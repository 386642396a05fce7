package bed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/canonical/pebble/client"
)

// maxSocketPath is the longest unix socket path the kernel accepts
// (sizeof(sun_path) - 1).
const maxSocketPath = 107

// Bind mounts a host file or directory into a container. Binds survive
// container restarts, like a pod's volumes.
type Bind struct {
	// HostPath is the existing host file or directory to mount.
	HostPath string
	// Path is the absolute path inside the container, for example "/data".
	Path string
}

// ContainerOptions describe a simulated workload container.
type ContainerOptions struct {
	// Name is the container's name, for example "synapse" or
	// "synapse-nginx"; it only appears in logs and errors.
	Name string
	// Image is the read-only root filesystem (the lower overlay layer),
	// under its bed layer Files(Image).Layer when there is one. One of the
	// two must hold /usr/local/bin/pebble. Empty means Image(ctx).
	Image string
	// Dir is a host directory owned by this container. It holds the overlay
	// upper and work directories, the overlay's mount point and Pebble's
	// output (pebble.log). Keep it short: SocketDir defaults to a directory
	// in it, and unix socket paths are limited to 107 bytes.
	Dir string
	// SocketDir is the host directory that appears inside the container at
	// /charm/container. Pebble runs with PEBBLE=/charm/container/pebble and
	// PEBBLE_SOCKET=/charm/container/pebble.socket, so the host reaches it
	// at SocketDir/pebble.socket, as the charm reaches container X at
	// /charm/containers/X/pebble.socket under Juju. Like the emptyDir volume
	// it mirrors, it survives container restarts. Empty means Dir/charm.
	SocketDir string
	// Binds are mounted in order, after /charm/container.
	Binds []Bind
	// HostsFile, if set, is a host file bind-mounted at /etc/hosts, so that
	// names resolve per container. It may be rewritten while the container
	// runs, but only in place (truncate and write, as os.WriteFile does):
	// renaming a new file over it would leave the container on the old one.
	HostsFile string
}

// Container is a simulated sidecar workload container: a real Pebble daemon,
// PID 1 of its own PID and mount namespace, chrooted into an overlay of the
// image. It shares the host's network namespace: services bind to the
// container's own loopback address (127.x.y.z) directly.
//
// Its methods are safe for concurrent use.
type Container struct {
	opts   ContainerOptions
	client *client.Client

	mu   sync.Mutex // guards proc across Stop and Restart
	proc *process
}

// StartContainer starts a container and returns once its Pebble answers.
//
// Inside a new mount and PID namespace (mount propagation private), it
// mounts an overlay (lower: the image's bed layer, then the image; upper and
// work: Dir/upper, Dir/work)
// on Dir/root, binds SocketDir at /charm/container, then each Bind, then
// HostsFile at /etc/hosts, mounts /proc, a private /dev/pts and /dev/shm, and
// execs `chroot Dir/root /usr/local/bin/pebble run --create-dirs --hold`.
// Every mount lives only in that namespace, and dies with it.
func StartContainer(ctx context.Context, opts ContainerOptions) (*Container, error) {
	if err := opts.normalize(ctx); err != nil {
		return nil, fmt.Errorf("start container %s: %w", opts.Name, err)
	}
	c := &Container{opts: opts}
	c.client, _ = client.New(&client.Config{Socket: c.SocketPath()}) // cannot fail for a socket
	if err := c.start(ctx); err != nil {
		return nil, fmt.Errorf("start container %s: %w", opts.Name, err)
	}
	return c, nil
}

// normalize checks the options and fills in defaults.
func (o *ContainerOptions) normalize(ctx context.Context) error {
	if o.Name == "" {
		return fmt.Errorf("no Name")
	}
	if o.Dir == "" {
		return fmt.Errorf("no Dir")
	}
	if o.Image == "" {
		img, err := Image(ctx)
		if err != nil {
			return err
		}
		o.Image = img
	}
	abs := func(p *string) error {
		a, err := filepath.Abs(*p)
		*p = a
		return err
	}
	if o.SocketDir == "" {
		o.SocketDir = filepath.Join(o.Dir, "charm")
	}
	for _, p := range []*string{&o.Image, &o.Dir, &o.SocketDir} {
		if err := abs(p); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(o.topLayer(), "usr/local/bin/pebble")); err != nil {
		return fmt.Errorf("image %s has no pebble (use bed.Image): %w", o.Image, err)
	}
	if n := len(filepath.Join(o.SocketDir, "pebble.socket")); n > maxSocketPath {
		return fmt.Errorf("socket path %s/pebble.socket is %d bytes, more than %d: use a shorter Dir or SocketDir",
			o.SocketDir, n, maxSocketPath)
	}
	binds := make([]Bind, len(o.Binds))
	for i, b := range o.Binds {
		if !path.IsAbs(b.Path) || path.Clean(b.Path) == "/" {
			return fmt.Errorf("bind %s: Path %q must be absolute and not /", b.HostPath, b.Path)
		}
		b.Path = path.Clean(b.Path)
		if err := abs(&b.HostPath); err != nil {
			return err
		}
		if _, err := os.Stat(b.HostPath); err != nil {
			return fmt.Errorf("bind %s: %w", b.Path, err)
		}
		binds[i] = b
	}
	o.Binds = binds
	if o.HostsFile != "" {
		if err := abs(&o.HostsFile); err != nil {
			return err
		}
		if fi, err := os.Stat(o.HostsFile); err != nil || fi.IsDir() {
			return fmt.Errorf("HostsFile %s must be an existing file (%v)", o.HostsFile, err)
		}
	}
	for _, d := range []string{o.Dir, o.SocketDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// lowerDirs are the overlay's read-only layers, top first: the image's bed
// layer (Pebble, nginx, the TEST-ONLY stand-ins) when it has one, then the
// image.
func (o *ContainerOptions) lowerDirs() []string {
	if layer := Files(o.Image).Layer; isDir(layer) {
		return []string{layer, o.Image}
	}
	return []string{o.Image}
}

// topLayer is the top read-only layer, where Pebble is.
func (o *ContainerOptions) topLayer() string { return o.lowerDirs()[0] }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// start runs the namespace's init script and waits for Pebble.
func (c *Container) start(ctx context.Context) error {
	for _, d := range []string{c.upperDir(), c.workDir(), c.rootDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	script, err := c.script()
	if err != nil {
		return err
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The shell becomes PID 1 of a new PID namespace, in a new mount
		// namespace, and execs into Pebble, which stays PID 1.
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		// If the test process dies, the container dies with it.
		Pdeathsig: syscall.SIGKILL,
	}
	proc, err := startProcess("pebble in container "+c.opts.Name, cmd, c.LogPath())
	if err != nil {
		return err
	}
	c.proc = proc
	ctx, cancel := withDeadline(ctx, 30*time.Second)
	defer cancel()
	err = proc.waitReady(ctx, func(context.Context) error {
		_, err := c.client.SysInfo()
		return err
	})
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, time.Second)
		return err
	}
	return nil
}

// script is the shell script that sets up the root and execs Pebble.
func (c *Container) script() (string, error) {
	o := c.opts
	root := c.rootDir()
	var s strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	inRoot := func(p string) string { return shellQuote(filepath.Join(root, p)) }
	line("set -eu")
	line("mount --make-rprivate /")
	line("mount -t overlay overlay -o %s %s",
		shellQuote("lowerdir="+strings.Join(o.lowerDirs(), ":")+",upperdir="+c.upperDir()+",workdir="+c.workDir()), shellQuote(root))
	mountBind := func(host, target string) error {
		fi, err := os.Stat(host)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			line("mkdir -p %s", inRoot(target))
		} else {
			line("mkdir -p %s", inRoot(path.Dir(target)))
			line("[ -e %[1]s ] || : > %[1]s", inRoot(target))
		}
		line("mount --bind %s %s", shellQuote(host), inRoot(target))
		return nil
	}
	if err := mountBind(o.SocketDir, "/charm/container"); err != nil {
		return "", err
	}
	for _, b := range o.Binds {
		if err := mountBind(b.HostPath, b.Path); err != nil {
			return "", err
		}
	}
	if o.HostsFile != "" {
		if err := mountBind(o.HostsFile, "/etc/hosts"); err != nil {
			return "", err
		}
	}
	line("mkdir -p %s %s %s", inRoot("/proc"), inRoot("/dev/pts"), inRoot("/dev/shm"))
	line("mount -t proc proc %s", inRoot("/proc"))
	line("mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts %s", inRoot("/dev/pts"))
	line("[ -e %[1]s ] || : > %[1]s", inRoot("/dev/ptmx"))
	line("mount --bind %s %s", inRoot("/dev/pts/ptmx"), inRoot("/dev/ptmx"))
	line("mount -t tmpfs -o mode=1777,size=64m shm %s", inRoot("/dev/shm"))
	line("exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 " +
		"PEBBLE=/charm/container/pebble PEBBLE_SOCKET=/charm/container/pebble.socket " +
		"chroot " + shellQuote(root) + " /usr/local/bin/pebble run --create-dirs --hold")
	return s.String(), nil
}

// Name is the container's name.
func (c *Container) Name() string { return c.opts.Name }

// SocketPath is the host path of Pebble's socket: SocketDir/pebble.socket.
func (c *Container) SocketPath() string { return filepath.Join(c.opts.SocketDir, "pebble.socket") }

// SocketDir is the host directory mounted at /charm/container.
func (c *Container) SocketDir() string { return c.opts.SocketDir }

// Client is a Pebble client for this container. It stays valid across
// Restart.
func (c *Container) Client() *client.Client { return c.client }

// LogPath is the host file that collects Pebble's own output (services'
// output also goes there, as it does to a container's log).
func (c *Container) LogPath() string { return filepath.Join(c.opts.Dir, "pebble.log") }

// RootDir is the host directory where the container's root is mounted; it
// is visible only inside the container's mount namespace, so on the host it
// is an empty directory. Use Pebble (Pull, Exec) to look inside.
func (c *Container) RootDir() string { return c.rootDir() }

// UpperDir is the host directory that holds what the container wrote to its
// own filesystem (outside Binds and SocketDir) since it last started.
func (c *Container) UpperDir() string { return c.upperDir() }

// PID is the host PID of the container's Pebble (PID 1 inside).
func (c *Container) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc.pid()
}

func (c *Container) rootDir() string  { return filepath.Join(c.opts.Dir, "root") }
func (c *Container) upperDir() string { return filepath.Join(c.opts.Dir, "upper") }
func (c *Container) workDir() string  { return filepath.Join(c.opts.Dir, "work") }

// Stop stops the container: SIGTERM to Pebble, which stops its services;
// SIGKILL after 20 s. When Pebble, the namespace's PID 1, exits, the kernel
// kills every other process in it, and the mounts go with the namespace.
// Stop waits for all of that, then removes the overlay work directory. The
// upper directory stays for inspection until Restart. Stopping twice is fine.
func (c *Container) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stop()
}

func (c *Container) stop() error {
	if c.proc == nil {
		return nil
	}
	if err := c.proc.stop(syscall.SIGTERM, 20*time.Second); err != nil {
		return fmt.Errorf("stop container %s: %w", c.opts.Name, err)
	}
	c.client.CloseIdleConnections()
	if err := os.RemoveAll(c.workDir()); err != nil {
		return fmt.Errorf("stop container %s: %w", c.opts.Name, err)
	}
	return nil
}

// Restart restarts the container as Kubernetes does: stop it, discard its
// filesystem changes (a fresh overlay upper directory), keep SocketDir and
// Binds, and start it again. Pebble comes back with a new boot ID (as PID 1
// it makes one up) and no layers.
func (c *Container) Restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stop(); err != nil {
		return err
	}
	if err := os.RemoveAll(c.upperDir()); err != nil {
		return fmt.Errorf("restart container %s: %w", c.opts.Name, err)
	}
	if err := c.start(ctx); err != nil {
		return fmt.Errorf("restart container %s: %w", c.opts.Name, err)
	}
	return nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
