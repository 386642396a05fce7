package bed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/image"
)

// DefaultImage is where the workload image is unpacked unless
// SYNAPSE_BED_IMAGE says otherwise.
const DefaultImage = DefaultCacheDir + "/image/rootfs"

// standins holds the TEST-ONLY STAND-INS put into the bed layer when the
// image lacks the real Python modules. See standins/README.md.
//
//go:embed standins/txredisapi.py standins/s3_storage_provider.py standins/txredisapi-1.4.11.dist-info/METADATA
var standins embed.FS

// standinMarker appears in the header of every stand-in module, and tells
// our own earlier copies (which Image refreshes) from real modules (which it
// never touches).
const standinMarker = "TEST-ONLY STAND-IN"

// standinModule is one stand-in: the module name and the files that make it,
// relative to standins/ and to dist-packages alike.
type standinModule struct {
	name  string
	files []string
}

var standinModules = []standinModule{
	{name: "txredisapi", files: []string{"txredisapi.py", "txredisapi-1.4.11.dist-info/METADATA"}},
	{name: "s3_storage_provider", files: []string{"s3_storage_provider.py"}},
}

// bedDebs are the packages image/build.sh downloads (--debs) for the bed
// layer: the nginx container runs Debian's nginx from the same sid.
const bedDebs = "nginx"

var imagesReady struct {
	sync.Mutex
	paths map[string]bool
}

// ImagePath is where the workload image is unpacked: $SYNAPSE_BED_IMAGE, or
// DefaultImage when that is unset. Image makes sure it is built. Beside it
// (same name plus a suffix) are what it is made from, see ImageFiles.
func ImagePath() string {
	if p := os.Getenv("SYNAPSE_BED_IMAGE"); p != "" {
		return filepath.Clean(p)
	}
	return DefaultImage
}

// ImageFiles are the files of the bed image unpacked at Root.
type ImageFiles struct {
	// Root is the OCI archive unpacked, as umoci unpacks it: the exact
	// files of the image operators deploy. Nothing is ever written into it.
	Root string
	// Archive is the OCI archive image/build.sh --oci wrote (Root.oci.tar).
	Archive string
	// Layer is the bed layer (Root.bed-layer), mounted over Root in every
	// container: Pebble, Debian's nginx and the TEST-ONLY STAND-INS.
	Layer string
	// Debs holds the .debs of the bed layer (Root.debs).
	Debs string
	// Build is image/build.sh's working directory (Root.build): the script
	// and its ROOTFS, removed once packed.
	Build string
	// Recipe holds the hash of the image/build.sh that made Root
	// (Root.recipe), written last: Root is complete when it matches.
	Recipe string
}

// Files names the files of the image unpacked at root.
func Files(root string) ImageFiles {
	return ImageFiles{Root: root, Archive: root + ".oci.tar", Layer: root + ".bed-layer",
		Debs: root + ".debs", Build: root + ".build", Recipe: root + ".recipe"}
}

// Image returns the path of the Synapse workload image, unpacked from the
// OCI archive that image/build.sh builds (Debian sid, matrix-synapse
// pinned, hiredis, boto3, pysaml2, xmlsec1, the synapse user 991), used
// read-only as the lowest layer of every container. Over it goes the bed
// layer (Files(img).Layer), what the bed adds and operators do not deploy:
//   - /usr/local/bin/pebble, PebbleBinary's build (Juju injects its own);
//   - Debian's nginx, extracted from the .debs build.sh downloaded, for the
//     nginx container;
//   - the TEST-ONLY STAND-INS for txredisapi and s3_storage_provider, which
//     Debian lacks, but only where importing the real module fails.
//
// When the image was not built by the embedded recipe (a fresh machine, or
// build.sh changed) it runs build.sh --oci --debs, unpacks the archive with
// umoci and makes a fresh bed layer, all under a file lock. The work is
// done once per image and process; later calls return at once.
func Image(ctx context.Context) (string, error) {
	img := ImagePath()
	imagesReady.Lock()
	defer imagesReady.Unlock()
	if imagesReady.paths[img] {
		return img, nil
	}
	if err := EnsureHostPackages(ctx); err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	pebble, err := PebbleBinary(ctx)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	if err := os.MkdirAll(filepath.Dir(img), 0o755); err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	unlock, err := lockFile(ctx, img+".lock")
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	defer unlock()
	f := Files(img)
	if !f.built() {
		if err := f.build(ctx); err != nil {
			return "", fmt.Errorf("image %s: %w", img, err)
		}
	}
	if err := installPebble(f, pebble); err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	if err := installStandins(ctx, f); err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	if imagesReady.paths == nil {
		imagesReady.paths = map[string]bool{}
	}
	imagesReady.paths[img] = true
	return img, nil
}

// recipeHash names the embedded image/build.sh, as build.sh names itself.
func recipeHash() string {
	sum := sha256.Sum256([]byte(image.BuildScript))
	return hex.EncodeToString(sum[:])
}

// built reports whether the image was unpacked from an archive of this
// recipe and its bed layer made.
func (f ImageFiles) built() bool {
	have, err := os.ReadFile(f.Recipe)
	if err != nil || strings.TrimSpace(string(have)) != recipeHash() {
		return false
	}
	for _, p := range []string{f.Archive, filepath.Join(f.Root, "usr/bin/synapse_homeserver"), filepath.Join(f.Layer, "usr/sbin/nginx")} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// build runs the recipe, unpacks the archive and makes the bed layer,
// logging to Root.build.log and timing each step there.
func (f ImageFiles) build(ctx context.Context) error {
	logPath := f.Root + ".build.log"
	log, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer log.Close()
	fmt.Fprintf(os.Stderr, "bed: building the workload image %s (rootfs, OCI archive, unpack, bed layer: about 3-7 min; log %s)\n", f.Root, logPath)
	if err := os.Remove(f.Recipe); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("build: %w", err)
	}
	steps := []struct {
		name string
		run  func(context.Context, *os.File) error
	}{
		{"rootfs and OCI archive (image/build.sh)", f.runRecipe},
		{"unpack (umoci raw unpack)", f.unpack},
		{"bed layer (nginx .debs)", f.makeLayer},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(ctx, log); err != nil {
			return fmt.Errorf("build: %s: %w; %s", s.name, err, tail(logPath))
		}
		fmt.Fprintf(log, "bed: %s: %.1f s\n", s.name, time.Since(start).Seconds())
	}
	if err := os.WriteFile(f.Recipe, []byte(recipeHash()+"\n"), 0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// runRecipe runs image/build.sh --oci Archive --debs Debs nginx, from a
// copy in Build, into Build/rootfs, which it then removes: the archive is
// the product. The image is dated by build.sh's last commit, as when an
// operator runs it from a clone, so both get the same digest.
func (f ImageFiles) runRecipe(ctx context.Context, log *os.File) error {
	if err := os.MkdirAll(f.Build, 0o755); err != nil {
		return err
	}
	script := filepath.Join(f.Build, "build.sh")
	if err := writeFileAtomic(script, []byte(image.BuildScript), 0o755); err != nil {
		return err
	}
	rootfs := filepath.Join(f.Build, "rootfs")
	cmd := exec.CommandContext(ctx, "/bin/sh", script, "--oci", f.Archive, "--debs", f.Debs, bedDebs, rootfs)
	cmd.Env = os.Environ()
	if epoch, err := recipeEpoch(ctx); err == nil {
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH="+epoch)
	} else {
		fmt.Fprintf(log, "bed: %v: the image is dated by SOURCE_DATE_EPOCH or 1970\n", err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return err
	}
	return os.RemoveAll(rootfs)
}

// recipeEpoch is the time of image/build.sh's last commit, unless
// SOURCE_DATE_EPOCH is set.
func recipeEpoch(ctx context.Context) (string, error) {
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		return e, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "log", "-1", "--format=%ct", "--", "image/build.sh").Output()
	e := strings.TrimSpace(string(out))
	if err != nil || e == "" {
		return "", fmt.Errorf("git log image/build.sh in %s: %v", root, err)
	}
	return e, nil
}

// unpack extracts the oci-archive (a tar of an OCI layout) and unpacks its
// one image with umoci into Root, replacing what was there.
func (f ImageFiles) unpack(ctx context.Context, log *os.File) error {
	work := f.Root + ".unpack"
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	layout := filepath.Join(work, "layout")
	if err := os.MkdirAll(layout, 0o755); err != nil {
		return err
	}
	run := func(name string, args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stdout, cmd.Stderr = &out, log
		err := cmd.Run()
		return strings.TrimSpace(out.String()), err
	}
	if _, err := run("tar", "-C", layout, "-xf", f.Archive); err != nil {
		return err
	}
	tags, err := run("umoci", "ls", "--layout", layout)
	if err != nil {
		return err
	}
	if tags == "" || strings.Contains(tags, "\n") {
		return fmt.Errorf("%s holds tags %q, not one", f.Archive, tags)
	}
	rootfs := filepath.Join(work, "rootfs")
	if _, err := run("umoci", "raw", "unpack", "--image", layout+":"+tags, rootfs); err != nil {
		return err
	}
	if err := os.RemoveAll(f.Root); err != nil {
		return err
	}
	return os.Rename(rootfs, f.Root)
}

// makeLayer makes a fresh bed layer with Debian's nginx, extracted from the
// .debs with dpkg-deb -x. Their maintainer scripts do not run: what
// nginx-common's postinst would do that nginx needs is done here (its log
// directory's owner; the charm's nginx logs to stderr and stdout).
func (f ImageFiles) makeLayer(ctx context.Context, log *os.File) error {
	if err := os.RemoveAll(f.Layer); err != nil {
		return err
	}
	if err := os.Mkdir(f.Layer, 0o755); err != nil {
		return err
	}
	debs, err := filepath.Glob(filepath.Join(f.Debs, "*.deb"))
	if err != nil || len(debs) == 0 {
		return fmt.Errorf("no .debs in %s (%v)", f.Debs, err)
	}
	for _, deb := range debs {
		cmd := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, f.Layer)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w", filepath.Base(deb), err)
		}
	}
	// root:adm 0755, as nginx-common's postinst leaves it.
	logDir := filepath.Join(f.Layer, "var/log/nginx")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if err := os.Chown(logDir, 0, 4); err != nil {
		return err
	}
	if err := os.Chmod(f.Layer, 0o755); err != nil {
		return err
	}
	return nil
}

// mkdirLike creates dir (relative) in the layer with each missing element
// owned and moded as in the image, so that the layer, on top, does not
// change the image's directories.
func mkdirLike(layer, root, dir string) error {
	parts := strings.Split(filepath.Clean(dir), string(filepath.Separator))
	for i := range parts {
		rel := filepath.Join(parts[:i+1]...)
		dst := filepath.Join(layer, rel)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		mode, uid, gid := fs.FileMode(0o755), 0, 0
		if fi, err := os.Stat(filepath.Join(root, rel)); err == nil && fi.IsDir() {
			st := fi.Sys().(*syscall.Stat_t)
			mode, uid, gid = fi.Mode().Perm()|fi.Mode()&(fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky), int(st.Uid), int(st.Gid)
		}
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		if err := os.Chown(dst, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(dst, mode); err != nil {
			return err
		}
	}
	return nil
}

// installPebble copies the Pebble binary to /usr/local/bin/pebble in the
// bed layer unless an identical one is there.
func installPebble(f ImageFiles, pebble string) error {
	want, err := os.ReadFile(pebble)
	if err != nil {
		return fmt.Errorf("install pebble: %w", err)
	}
	dst := filepath.Join(f.Layer, "usr/local/bin/pebble")
	if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := mkdirLike(f.Layer, f.Root, "usr/local/bin"); err != nil {
		return fmt.Errorf("install pebble: %w", err)
	}
	if err := writeFileAtomic(dst, want, 0o755); err != nil {
		return fmt.Errorf("install pebble: %w", err)
	}
	return nil
}

// pythonProbe tells, for each module named in argv, where it comes from:
// "missing", "broken: <error>", "real" (importable from elsewhere) or
// "ours" (found at our install path: not imported, it may be outdated).
const pythonProbe = `
import importlib, importlib.util, json, sys
ver = "%d.%d" % sys.version_info[:2]
site = "/usr/local/lib/python%s/dist-packages" % ver
out = {"version": ver, "site": site, "on_path": site in sys.path, "modules": {}}
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
    except Exception as e:
        spec = None
    if spec is None:
        out["modules"][name] = "missing"
    elif spec.origin and spec.origin.startswith(site + "/"):
        out["modules"][name] = "ours" if "` + standinMarker + `" in open(spec.origin).read() else "real"
    else:
        try:
            importlib.import_module(name)
            out["modules"][name] = "real"
        except Exception as e:
            out["modules"][name] = "broken: %s: %s" % (type(e).__name__, e)
print(json.dumps(out))
`

// probeResult is what pythonProbe prints.
type probeResult struct {
	Version string            `json:"version"`
	Site    string            `json:"site"`
	OnPath  bool              `json:"on_path"`
	Modules map[string]string `json:"modules"`
}

// imagePython runs python3 (outside any container: no /proc, which python
// does not need) in the image with the bed layer over it, mounted read-only
// in a mount namespace of its own, without writing bytecode.
func imagePython(ctx context.Context, f ImageFiles, args ...string) ([]byte, error) {
	mnt, err := os.MkdirTemp("", "synapse-bed-image.")
	if err != nil {
		return nil, err
	}
	defer os.Remove(mnt)
	script := "set -e; mount --make-rprivate /; mount -t overlay overlay -o " +
		shellQuote("lowerdir="+f.Layer+":"+f.Root) + " " + shellQuote(mnt) + "; " +
		`exec chroot "$0" /usr/bin/python3 "$@"`
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "/bin/sh", "-c", script, mnt}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8", "HOME=/root"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("python3 in %s: %w: %s", f.Root, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// installStandins puts into the bed layer each stand-in whose real module
// does not import, and refreshes stand-ins written earlier whose content
// changed.
func installStandins(ctx context.Context, f ImageFiles) error {
	names := make([]string, 0, len(standinModules))
	for _, m := range standinModules {
		names = append(names, m.name)
	}
	out, err := imagePython(ctx, f, append([]string{"-c", pythonProbe}, names...)...)
	if err != nil {
		return fmt.Errorf("stand-ins: probe: %w", err)
	}
	var probe probeResult
	if err := json.Unmarshal(out, &probe); err != nil {
		return fmt.Errorf("stand-ins: probe printed %q: %w", out, err)
	}
	if !probe.OnPath {
		return fmt.Errorf("stand-ins: %s is not on the image python's sys.path", probe.Site)
	}
	var written []string
	for _, m := range standinModules {
		status := probe.Modules[m.name]
		if status == "real" {
			continue
		}
		changed, err := writeStandin(f, strings.TrimPrefix(probe.Site, "/"), m)
		if err != nil {
			return fmt.Errorf("stand-ins: install %s: %w", m.name, err)
		}
		if changed {
			written = append(written, m.name)
		}
	}
	if len(written) == 0 {
		return nil
	}
	// Check that what we wrote imports, Synapse and all, in the image.
	check := "import " + strings.Join(written, ", ")
	if slices.Contains(written, "txredisapi") {
		check += "; import importlib.metadata as m; assert m.version('txredisapi') == '1.4.11'"
	}
	if _, err := imagePython(ctx, f, "-c", check); err != nil {
		return fmt.Errorf("stand-ins: installed %v but they do not import: %w", written, err)
	}
	return nil
}

// writeStandin writes a stand-in's files under site (relative) in the bed
// layer unless they are already identical there, and reports whether it
// wrote anything.
func writeStandin(f ImageFiles, site string, m standinModule) (bool, error) {
	changed := false
	for _, name := range m.files {
		want, err := fs.ReadFile(standins, "standins/"+name)
		if err != nil {
			return false, err
		}
		dst := filepath.Join(f.Layer, site, name)
		if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
			continue
		}
		if err := mkdirLike(f.Layer, f.Root, filepath.Dir(filepath.Join(site, name))); err != nil {
			return false, err
		}
		if err := writeFileAtomic(dst, want, 0o644); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// SynapseUID is the user (and group) Synapse runs as in the image, as in
// the upstream image.
const SynapseUID = "991"
