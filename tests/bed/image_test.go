package bed_test

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// TestImageIsTheArchiveUnpacked: the bed's image holds exactly the files of
// the OCI archive image/build.sh wrote, with their types, modes, owners,
// link targets and contents, and nothing else.
func TestImageIsTheArchiveUnpacked(t *testing.T) {
	bed.RequireRoot(t)
	f := bed.Files(image(t))
	start := time.Now()
	layer := archiveLayer(t, f.Archive)
	defer layer.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(layer, 1<<20))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	seen := map[string]bool{}
	var files int
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		require.False(t, strings.HasPrefix(path.Base(name), ".wh."), "%s: a one-layer image has no whiteouts", name)
		if name == "" {
			continue
		}
		seen[name] = true
		p := filepath.Join(f.Root, name)
		fi, err := os.Lstat(p)
		if !assert.NoError(t, err, "%s is in the archive", name) {
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, [2]int{h.Uid, h.Gid}, [2]int{int(st.Uid), int(st.Gid)}, "%s: owner", name)
		assert.Equal(t, fs.FileMode(h.Mode)&fs.ModePerm, fi.Mode().Perm(), "%s: mode", name)
		switch h.Typeflag {
		case tar.TypeReg:
			files++
			if assert.True(t, fi.Mode().IsRegular(), "%s: a file", name) {
				assert.Equal(t, sha256Reader(t, tr), sha256File(t, p), "%s: content", name)
			}
		case tar.TypeSymlink:
			target, err := os.Readlink(p)
			assert.NoError(t, err, "%s: a symlink", name)
			assert.Equal(t, h.Linkname, target, "%s: link target", name)
		case tar.TypeDir:
			assert.True(t, fi.IsDir(), "%s: a directory", name)
		case tar.TypeLink:
			files++
			other, err := os.Lstat(filepath.Join(f.Root, strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")))
			if assert.NoError(t, err, "%s: link to %s", name, h.Linkname) {
				assert.True(t, os.SameFile(fi, other), "%s: the same file as %s", name, h.Linkname)
			}
		}
	}
	var extra []string
	require.NoError(t, filepath.WalkDir(f.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(f.Root, p); rel != "." && !seen[rel] {
			extra = append(extra, rel)
		}
		return nil
	}))
	assert.Empty(t, extra, "files in the bed's image that the archive lacks")
	assert.Greater(t, files, 10000, "the archive's files")
	t.Logf("%d entries, %d files, compared in %v", len(seen), files, time.Since(start).Round(time.Millisecond))
}

// TestBedLayerOnlyAdds: the bed layer adds Pebble, Debian's nginx and the
// TEST-ONLY stand-ins and replaces no file of the image, nor changes one of
// its directories' modes or owners.
func TestBedLayerOnlyAdds(t *testing.T) {
	bed.RequireRoot(t)
	f := bed.Files(image(t))
	for _, p := range []string{"usr/local/bin/pebble", "usr/sbin/nginx", "etc/nginx/mime.types", "var/lib/nginx", "var/log/nginx"} {
		_, err := os.Lstat(filepath.Join(f.Layer, p))
		assert.NoError(t, err, "%s in the bed layer", p)
		_, err = os.Lstat(filepath.Join(f.Root, p))
		assert.ErrorIs(t, err, fs.ErrNotExist, "%s is not in the image", p)
	}
	standins, err := filepath.Glob(filepath.Join(f.Layer, "usr/local/lib/python3.*/dist-packages/*.py"))
	require.NoError(t, err)
	var names []string
	for _, s := range standins {
		names = append(names, filepath.Base(s))
		data, err := os.ReadFile(s)
		require.NoError(t, err)
		assert.Contains(t, string(data), "TEST-ONLY STAND-IN", "%s is labelled", s)
	}
	assert.ElementsMatch(t, []string{"txredisapi.py", "s3_storage_provider.py"}, names)

	require.NoError(t, filepath.WalkDir(f.Layer, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.Layer, p)
		under, err := os.Lstat(filepath.Join(f.Root, rel))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		require.NoError(t, err)
		if !d.IsDir() || !under.IsDir() {
			t.Errorf("%s: the bed layer replaces the image's %s", rel, under.Mode().Type())
			return nil
		}
		over, err := d.Info()
		require.NoError(t, err)
		a, b := over.Sys().(*syscall.Stat_t), under.Sys().(*syscall.Stat_t)
		assert.Equal(t, fmt.Sprintf("%v %d:%d", under.Mode(), b.Uid, b.Gid), fmt.Sprintf("%v %d:%d", over.Mode(), a.Uid, a.Gid),
			"%s: the bed layer's directory as the image's", rel)
		return nil
	}))
}

// TestNginxRunsFromTheBedLayer runs Debian's nginx, extracted without its
// maintainer scripts, the way the charm runs it (prefix /tmp/, errors to
// stderr) but with nginx's compiled-in temporary and log paths, and
// reaches it from the host.
func TestNginxRunsFromTheBedLayer(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	addr := loopback(t)
	port := freePort(t, addr)
	c := startContainer(t, bed.ContainerOptions{Name: "synapse-nginx", Image: img, Dir: filepath.Join(t.TempDir(), "c")})
	push(t, c, "/etc/nginx/nginx.conf", fmt.Sprintf(`
pid nginx.pid;
events {}
http {
    include /etc/nginx/mime.types;
    server {
        listen %s:%d;
        location / { return 200 "nginx from the bed layer\n"; }
    }
}
`, addr, port))
	replan(t, c, `
services:
  nginx:
    override: replace
    command: /usr/sbin/nginx -p /tmp/ -e stderr -c /etc/nginx/nginx.conf -g "daemon off;"
    startup: enabled
`)
	body := waitHTTP(t, baseURL(addr, port)+"/", 20*time.Second)
	assert.Equal(t, "nginx from the bed layer\n", string(body))
	assert.Contains(t, execIn(t, c, "sh", "-c", "/usr/sbin/nginx -v 2>&1"), "nginx/")
}

// archiveLayer opens the one layer blob of an oci-archive (a tar of an OCI
// layout): index.json, its manifest, the manifest's layer.
func archiveLayer(t *testing.T, archive string) io.ReadCloser {
	t.Helper()
	blob := func(name string) []byte {
		r := archiveMember(t, archive, name)
		defer r.Close()
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		return data
	}
	type descriptor struct {
		Digest string `json:"digest"`
	}
	var index struct{ Manifests []descriptor }
	require.NoError(t, json.Unmarshal(blob("index.json"), &index))
	require.Len(t, index.Manifests, 1)
	var manifest struct{ Layers []descriptor }
	require.NoError(t, json.Unmarshal(blob(blobPath(index.Manifests[0].Digest)), &manifest))
	require.Len(t, manifest.Layers, 1)
	return archiveMember(t, archive, blobPath(manifest.Layers[0].Digest))
}

func blobPath(digest string) string { return "blobs/" + strings.Replace(digest, ":", "/", 1) }

// archiveMember opens one member of a tar; closing it closes the tar.
func archiveMember(t *testing.T, archive, name string) io.ReadCloser {
	t.Helper()
	file, err := os.Open(archive)
	require.NoError(t, err)
	tr := tar.NewReader(file)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			file.Close()
			t.Fatalf("%s has no %s", archive, name)
		}
		require.NoError(t, err)
		if path.Clean(h.Name) == name {
			return struct {
				io.Reader
				io.Closer
			}{tr, file}
		}
	}
}

func sha256Reader(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	_, err := io.Copy(h, r)
	require.NoError(t, err)
	return fmt.Sprintf("%x", h.Sum(nil))
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	file, err := os.Open(p)
	require.NoError(t, err)
	defer file.Close()
	return sha256Reader(t, file)
}
