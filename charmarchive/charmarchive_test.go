package charmarchive_test

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	jujucharm "github.com/juju/charm/v12"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
)

// repoRoot is the directory holding go.mod, two levels up from here.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	return root
}

// TestPackedCharmJujuAccepts builds synapse.charm with the one command the
// README gives (the real dispatch binary included) and opens it with
// Juju's own charm library, as the controller does on deploy: the archive
// reads, its metadata checks as format v2 with the manifest's bases, every
// option and action of charmcraft.yaml parses, and dispatch is executable.
func TestPackedCharmJujuAccepts(t *testing.T) {
	root := repoRoot(t)
	out := filepath.Join(t.TempDir(), "synapse.charm")
	cmd := exec.Command("go", "run", "./cmd/pack-charm", "-o", out)
	cmd.Dir = root
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)

	ch, err := jujucharm.ReadCharmArchive(out)
	require.NoError(t, err, "Juju refuses the archive")
	format, reasons := jujucharm.MetaFormatReasons(ch)
	assert.Equal(t, jujucharm.FormatV2, format, "reasons: %v", reasons)
	require.NoError(t, jujucharm.CheckMeta(ch))
	require.NotNil(t, ch.Manifest())
	require.NoError(t, ch.Manifest().Validate())
	require.Len(t, ch.Manifest().Bases, 1)
	assert.Equal(t, "ubuntu@24.04/stable on amd64", ch.Manifest().Bases[0].String())
	assert.Equal(t, "synapse", ch.Meta().Name)

	// Every option and action of charmcraft.yaml survived the packing,
	// through Juju's config and actions parsers.
	var cc struct {
		Config struct {
			Options map[string]any `yaml:"options"`
		} `yaml:"config"`
		Actions map[string]any `yaml:"actions"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "charmcraft.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &cc))
	require.NotEmpty(t, cc.Config.Options)
	assert.Len(t, ch.Config().Options, len(cc.Config.Options))
	assert.Len(t, ch.Actions().ActionSpecs, len(cc.Actions))
	_, err = jujucharm.ReadConfig(bytes.NewReader(mustZipFile(t, out, "config.yaml")))
	require.NoError(t, err)
	_, err = jujucharm.ReadActionsYaml("synapse", bytes.NewReader(mustZipFile(t, out, "actions.yaml")))
	require.NoError(t, err)

	zr, err := zip.OpenReader(out)
	require.NoError(t, err)
	defer zr.Close()
	modes := map[string]os.FileMode{}
	for _, f := range zr.File {
		modes[f.Name] = f.Mode()
	}
	assert.Equal(t, map[string]os.FileMode{
		"actions.yaml": 0o644, "config.yaml": 0o644, "dispatch": 0o755, charmarchive.BackupActions: 0o755,
		"manifest.yaml": 0o644, "metadata.yaml": 0o644,
	}, modes)
	info, err := os.Stat(out)
	require.NoError(t, err)
	t.Logf("synapse.charm: %d bytes", info.Size())
}

func mustZipFile(t *testing.T, archive, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	require.NoError(t, err)
	defer zr.Close()
	f, err := zr.Open(name)
	require.NoError(t, err)
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(f)
	require.NoError(t, err)
	return buf.Bytes()
}

// sources are the repository's files with a stand-in binary: what is
// checked here is the packing, not the charm.
func sources(t *testing.T) charmarchive.Sources {
	t.Helper()
	src, err := charmarchive.ReadSources(repoRoot(t), filepath.Join(repoRoot(t), "go.mod"), filepath.Join(repoRoot(t), "go.mod"))
	require.NoError(t, err)
	src.Dispatch = []byte("#!/bin/sh\necho a stand-in for the charm binary\n")
	src.Backup = []byte("#!/bin/sh\necho a stand-in for the backup actions' binary\n")
	return src
}

// TestBuildIsReproducible: the same sources give the same bytes.
func TestBuildIsReproducible(t *testing.T) {
	a, err := charmarchive.Build(sources(t))
	require.NoError(t, err)
	b, err := charmarchive.Build(sources(t))
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

// TestJujuRefusesWhatTheBuilderRefuses: without a base Juju refuses the
// charm (no manifest bases); the builder says so first, naming the fix.
func TestJujuRefusesWhatTheBuilderRefuses(t *testing.T) {
	src := sources(t)
	src.Charmcraft = bytes.Replace(src.Charmcraft, []byte("\nbase: ubuntu@24.04\n"), []byte("\n"), 1)
	_, err := charmarchive.Build(src)
	require.ErrorContains(t, err, "has no base (e.g. base: ubuntu@24.04)")

	// And Juju's own check, on an archive whose manifest has no bases:
	// what the builder's refusal stands for.
	good, err := charmarchive.Build(sources(t))
	require.NoError(t, err)
	bad := rewriteZip(t, good, "manifest.yaml", []byte("bases: []\n"))
	path := filepath.Join(t.TempDir(), "bad.charm")
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	ch, err := jujucharm.ReadCharmArchive(path)
	if err == nil {
		err = jujucharm.CheckMeta(ch)
	}
	t.Logf("Juju: %v", err)
	assert.Error(t, err, "Juju accepted a charm whose manifest has no bases")
}

// rewriteZip returns archive with one file's content replaced.
func rewriteZip(t *testing.T, archive []byte, name string, content []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&f.FileHeader)
		require.NoError(t, err)
		if f.Name == name {
			_, err = w.Write(content)
			require.NoError(t, err)
			continue
		}
		r, err := f.Open()
		require.NoError(t, err)
		data := new(bytes.Buffer)
		_, err = data.ReadFrom(r)
		require.NoError(t, err)
		r.Close()
		_, err = w.Write(data.Bytes())
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
