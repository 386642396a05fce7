package bed

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// DefaultImage is where the workload image lives unless SYNAPSE_BED_IMAGE
// says otherwise.
const DefaultImage = DefaultCacheDir + "/chroot"

//go:embed build-image.sh
var buildImageScript string

// standins holds the TEST-ONLY STAND-INS installed into the image when the
// real Python modules are absent. See standins/README.md.
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

var imagesReady struct {
	sync.Mutex
	paths map[string]bool
}

// ImagePath is the workload image's location: $SYNAPSE_BED_IMAGE, or
// DefaultImage when that is unset. Image makes sure it is built.
func ImagePath() string {
	if p := os.Getenv("SYNAPSE_BED_IMAGE"); p != "" {
		return filepath.Clean(p)
	}
	return DefaultImage
}

// Image returns the path of the Synapse workload image, a Debian sid root
// filesystem with matrix-synapse, python3-hiredis, python3-boto3,
// ca-certificates, nginx, python3-pysaml2 and xmlsec1, used read-only as the
// lower layer of every container. If ImagePath() lacks Synapse it builds
// the image with build-image.sh (mmdebstrap, about 75 s, under a file lock);
// if it lacks pysaml2 or xmlsec1 the same script adds them (about 25 s).
// It then makes sure that:
//   - /usr/local/bin/pebble is PebbleBinary's build;
//   - the TEST-ONLY STAND-INS for txredisapi and s3_storage_provider are in
//     /usr/local/lib/python3.X/dist-packages, but only where importing the
//     real module fails (a real module is never replaced).
//
// The work is done once per image and process; later calls return at once.
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
	if !imageBuilt(img) {
		if err := buildImage(ctx, img); err != nil {
			return "", err
		}
	}
	pebble, err := PebbleBinary(ctx)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	unlock, err := lockFile(ctx, img+".lock")
	if err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	defer unlock()
	if err := installPebble(img, pebble); err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	if err := installStandins(ctx, img); err != nil {
		return "", fmt.Errorf("image %s: %w", img, err)
	}
	if imagesReady.paths == nil {
		imagesReady.paths = map[string]bool{}
	}
	imagesReady.paths[img] = true
	return img, nil
}

// imageContents are the paths build-image.sh puts into the image: when one
// is missing, the script builds the image, or upgrades an older one (SAML2
// support came later).
var imageContents = []string{"usr/bin/synapse_homeserver", "usr/lib/python3/dist-packages/saml2", "usr/bin/xmlsec1"}

// imageBuilt reports whether img holds everything build-image.sh installs,
// Synapse's user (uid 991, added later) included.
func imageBuilt(img string) bool {
	for _, p := range imageContents {
		if _, err := os.Stat(filepath.Join(img, p)); err != nil {
			return false
		}
	}
	passwd, err := os.ReadFile(filepath.Join(img, "etc/passwd"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 2 && fields[2] == SynapseUID {
			return true
		}
	}
	return false
}

// SynapseUID is the user (and group) Synapse runs as in the image, as in
// the upstream image.
const SynapseUID = "991"

// buildImage runs build-image.sh, logging to <img>.build.log.
func buildImage(ctx context.Context, img string) error {
	logPath := img + ".build.log"
	if err := os.MkdirAll(filepath.Dir(img), 0o755); err != nil {
		return fmt.Errorf("build image %s: %w", img, err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("build image %s: %w", img, err)
	}
	defer logFile.Close()
	fmt.Fprintf(os.Stderr, "bed: building the workload image %s (about 75 s; log %s)\n", img, logPath)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", buildImageScript, "build-image.sh", img)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build image %s: %w; %s", img, err, tail(logPath))
	}
	return nil
}

// installPebble copies the Pebble binary to /usr/local/bin/pebble in the
// image unless an identical one is there.
func installPebble(img, pebble string) error {
	want, err := os.ReadFile(pebble)
	if err != nil {
		return fmt.Errorf("install pebble: %w", err)
	}
	dst := filepath.Join(img, "usr/local/bin/pebble")
	if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
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

// chrootPython runs the image's python3 (outside any container: no /proc,
// which python does not need) without writing bytecode into the image.
func chrootPython(ctx context.Context, img string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "chroot", append([]string{img, "/usr/bin/python3"}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8", "HOME=/root"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("chroot %s python3: %w: %s", img, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// installStandins installs each stand-in whose real module does not import,
// and refreshes stand-ins installed earlier whose content changed.
func installStandins(ctx context.Context, img string) error {
	names := make([]string, 0, len(standinModules))
	for _, m := range standinModules {
		names = append(names, m.name)
	}
	out, err := chrootPython(ctx, img, append([]string{"-c", pythonProbe}, names...)...)
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
		changed, err := writeStandin(filepath.Join(img, probe.Site), m)
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
	if _, err := chrootPython(ctx, img, "-c", check); err != nil {
		return fmt.Errorf("stand-ins: installed %v but they do not import: %w", written, err)
	}
	return nil
}

// writeStandin writes a stand-in's files under site unless they are already
// identical there, and reports whether it wrote anything.
func writeStandin(site string, m standinModule) (bool, error) {
	changed := false
	for _, name := range m.files {
		want, err := fs.ReadFile(standins, "standins/"+name)
		if err != nil {
			return false, err
		}
		dst := filepath.Join(site, name)
		if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return false, err
		}
		if err := writeFileAtomic(dst, want, 0o644); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}
