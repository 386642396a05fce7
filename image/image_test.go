// Package image holds the recipe of the Synapse workload image
// (build.sh); this test checks an OCI archive the recipe wrote, the way a
// container runtime reads it: index, manifest, config, then the one layer.
package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// archiveEnv names the archive to check. CI sets it after
// `image/build.sh --oci` (about 75 s on a CI machine, 3.5 min on a busy one);
// building it here would double that cost.
const archiveEnv = "SYNAPSE_IMAGE_ARCHIVE"

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		Env        []string `json:"Env"`
		Entrypoint []string `json:"Entrypoint"`
		Cmd        []string `json:"Cmd"`
		WorkingDir string   `json:"WorkingDir"`
		User       string   `json:"User"`
	} `json:"config"`
}

// layerEntry is what the test keeps of a file in the layer.
type layerEntry struct {
	mode     int64
	uid, gid int
	typ      byte
	link     string
	content  []byte // only for the few files the test reads
}

// readContent lists the files whose content the test reads.
var readContent = map[string]bool{
	"etc/passwd":          true,
	"etc/group":           true,
	"var/lib/dpkg/status": true,
}

func TestArchive(t *testing.T) {
	archive := os.Getenv(archiveEnv)
	if archive == "" {
		t.Skipf("%s is unset: build with `image/build.sh --oci synapse-image.tar ROOTFS` and set it", archiveEnv)
	}
	blobs := readBlobs(t, archive)

	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	require.NoError(t, json.Unmarshal(blobs["index.json"], &index), "index.json")
	require.Len(t, index.Manifests, 1, "one image in the archive")
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	require.NoError(t, json.Unmarshal(blob(t, blobs, index.Manifests[0].Digest), &manifest), "manifest")

	var cfg imageConfig
	require.NoError(t, json.Unmarshal(blob(t, blobs, manifest.Config.Digest), &cfg), "config")
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)
	assert.Contains(t, cfg.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"Pebble runs `python3 -m synapse...` through PATH")
	assert.Contains(t, cfg.Config.Env, "LANG=C.UTF-8")
	assert.Empty(t, cfg.Config.Entrypoint, "Juju's Pebble is the entrypoint")
	assert.Empty(t, cfg.Config.Cmd)
	assert.Equal(t, "/data", cfg.Config.WorkingDir)
	assert.Empty(t, cfg.Config.User, "root: Pebble starts Synapse as uid 991 itself")

	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		out, err := exec.Command(skopeo, "inspect", "oci-archive:"+archive).Output()
		require.NoError(t, err, "skopeo inspect")
		var got struct{ Digest string }
		require.NoError(t, json.Unmarshal(out, &got))
		assert.Equal(t, index.Manifests[0].Digest, got.Digest, "skopeo, which pushes the image, reads the same image")
	}

	require.Len(t, manifest.Layers, 1, "one layer")
	files := readLayer(t, blob(t, blobs, manifest.Layers[0].Digest))
	t.Logf("%d files in the layer", len(files))

	for _, p := range []string{"usr/bin/synapse_homeserver", "usr/bin/xmlsec1", "usr/bin/python3"} {
		e, ok := files[p]
		if assert.True(t, ok, "%s in the image", p) && e.typ == tar.TypeReg {
			assert.NotZero(t, e.mode&0o111, "%s is executable", p)
		}
	}
	for _, m := range []string{"synapse", "synapse/app/homeserver.py", "synapse/app/generic_worker.py",
		"hiredis", "boto3", "botocore", "saml2", "psycopg2", "yaml"} {
		assert.Contains(t, files, "usr/lib/python3/dist-packages/"+m, "Python module %s", m)
	}
	assert.Contains(t, string(files["var/lib/dpkg/status"].content),
		"Package: matrix-synapse\nStatus: install ok installed\n", "matrix-synapse installed")
	assert.Regexp(t, `(?m)^Package: matrix-synapse\n(?:[^\n]+\n)*?Version: 1\.160\.0-1$`,
		string(files["var/lib/dpkg/status"].content), "the Synapse the charm pins")

	assert.Contains(t, string(files["etc/passwd"].content), "\nsynapse:x:991:991:", "the synapse user, uid 991")
	assert.Contains(t, string(files["etc/group"].content), "\nsynapse:x:991:", "the synapse group, gid 991")
	if data, ok := files["data"]; assert.True(t, ok, "/data in the image") {
		assert.Equal(t, [2]int{991, 991}, [2]int{data.uid, data.gid}, "/data belongs to synapse")
	}

	// Nothing the charm does not need, nothing test-only.
	for name, e := range files {
		if e.typ == tar.TypeDir {
			continue
		}
		for _, prefix := range []string{"usr/share/man/", "usr/share/info/", "usr/share/locale/",
			"var/lib/apt/lists/deb.", "usr/local/bin/pebble"} {
			if strings.HasPrefix(name, prefix) {
				t.Errorf("%s is in the image", name)
			}
		}
		if strings.HasSuffix(name, ".deb") {
			t.Errorf("%s is in the image", name)
		}
		if strings.HasPrefix(name, "usr/share/doc/") && path.Base(name) != "copyright" {
			t.Errorf("%s is in the image (docs other than copyright files)", name)
		}
		for _, standin := range []string{"txredisapi", "s3_storage_provider", "nginx"} {
			if strings.Contains(path.Base(name), standin) && strings.HasPrefix(name, "usr/local/") {
				t.Errorf("%s is in the image: stand-ins are test-only", name)
			}
		}
	}
	assert.NotContains(t, files, "usr/sbin/nginx", "nginx runs in its own container and image")
}

// readBlobs reads index.json and every blob of the oci-archive.
func readBlobs(t *testing.T, archive string) map[string][]byte {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	blobs := map[string][]byte{}
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "read %s", archive)
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err, "read %s in %s", name, archive)
		blobs[name] = b
	}
	return blobs
}

// blob returns the blob of a digest, checking it is there.
func blob(t *testing.T, blobs map[string][]byte, digest string) []byte {
	t.Helper()
	algo, hex, ok := strings.Cut(digest, ":")
	require.True(t, ok, "digest %q", digest)
	b, ok := blobs["blobs/"+algo+"/"+hex]
	require.True(t, ok, "blob %s in the archive", digest)
	return b
}

// readLayer lists a gzipped layer's files by path without a leading slash.
func readLayer(t *testing.T, layer []byte) map[string]layerEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	require.NoError(t, err, "layer")
	files := map[string]layerEntry{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "layer")
		name := strings.TrimPrefix(path.Clean(h.Name), "/")
		name = strings.TrimPrefix(name, "./")
		e := layerEntry{mode: h.Mode, uid: h.Uid, gid: h.Gid, typ: h.Typeflag, link: h.Linkname}
		if readContent[name] {
			e.content, err = io.ReadAll(tr)
			require.NoError(t, err, "layer: %s", name)
		}
		files[name] = e
	}
	require.NotEmpty(t, files, fmt.Sprintf("layer of %d bytes has files", len(layer)))
	return files
}
