// Package charmarchive builds the .charm archive Juju deploys, the way
// `charmcraft pack` lays it out, without charmcraft: a zip holding
// metadata.yaml, manifest.yaml (the bases Juju requires), config.yaml and
// actions.yaml (the config and actions sections of charmcraft.yaml), the
// dispatch binary and the backup actions' binary (BackupActions), both
// executable.
package charmarchive

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Sources are the files an archive is built from.
type Sources struct {
	Metadata   []byte // metadata.yaml
	Charmcraft []byte // charmcraft.yaml: base, platforms, config, actions
	Dispatch   []byte // the charm binary
	// Backup is the backup actions' binary (cmd/charm-backup), packed as
	// BackupActions; without it the backup actions fail, saying so.
	Backup []byte
}

// BackupActions is the name of the backup actions' binary in the charm,
// beside dispatch, which execs it.
const BackupActions = "backup-actions"

// ReadSources reads metadata.yaml and charmcraft.yaml from the charm's
// source directory, and the built dispatch and backup binaries from their
// paths.
func ReadSources(root, dispatch, backup string) (Sources, error) {
	var s Sources
	for _, f := range []struct {
		path string
		dst  *[]byte
	}{
		{filepath.Join(root, "metadata.yaml"), &s.Metadata},
		{filepath.Join(root, "charmcraft.yaml"), &s.Charmcraft},
		{dispatch, &s.Dispatch},
		{backup, &s.Backup},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return Sources{}, fmt.Errorf("read charm sources: %w", err)
		}
		*f.dst = data
	}
	return s, nil
}

// epoch is every entry's modification time: the same sources give the
// same archive, byte for byte.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Build returns the .charm archive. The same sources give the same bytes.
func Build(s Sources) ([]byte, error) {
	files, err := Files(s)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
		// Juju runs dispatch as a program: its mode travels in the zip's
		// external attributes, as charmcraft writes them.
		mode := os.FileMode(0o644)
		if name == "dispatch" || name == BackupActions {
			mode = 0o755
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("add %s to the charm archive: %w", name, err)
		}
		if _, err := w.Write(files[name]); err != nil {
			return nil, fmt.Errorf("add %s to the charm archive: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close the charm archive: %w", err)
	}
	return buf.Bytes(), nil
}

// Files returns the archive's files by name.
func Files(s Sources) (map[string][]byte, error) {
	if len(s.Dispatch) == 0 {
		return nil, fmt.Errorf("charm archive: the dispatch binary is empty")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(s.Charmcraft, &doc); err != nil {
		return nil, fmt.Errorf("parse charmcraft.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("charmcraft.yaml is not a mapping")
	}
	sections := map[string]*yaml.Node{}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		sections[root.Content[i].Value] = root.Content[i+1]
	}
	manifest, err := manifest(sections)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"metadata.yaml": s.Metadata,
		"manifest.yaml": manifest,
		"dispatch":      s.Dispatch,
	}
	if len(s.Backup) > 0 {
		files[BackupActions] = s.Backup
	}
	// Through yaml.Node, so that scalar tags survive (a quoted "0" stays
	// a string), as charmcraft copies the sections.
	for _, key := range []string{"config", "actions"} {
		node, ok := sections[key]
		if !ok {
			return nil, fmt.Errorf("charmcraft.yaml has no %s section", key)
		}
		out, err := yaml.Marshal(node)
		if err != nil {
			return nil, fmt.Errorf("encode %s.yaml: %w", key, err)
		}
		files[key+".yaml"] = out
	}
	return files, nil
}

// manifest derives manifest.yaml's bases from charmcraft.yaml's base
// ("ubuntu@24.04") and platforms: Juju refuses a charm without bases.
func manifest(sections map[string]*yaml.Node) ([]byte, error) {
	base := sections["base"]
	if base == nil || base.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("charmcraft.yaml has no base (e.g. base: ubuntu@24.04)")
	}
	name, channel, ok := strings.Cut(base.Value, "@")
	if !ok || name == "" || channel == "" {
		return nil, fmt.Errorf("charmcraft.yaml base %q is not <name>@<channel>", base.Value)
	}
	platforms := sections["platforms"]
	if platforms == nil || platforms.Kind != yaml.MappingNode || len(platforms.Content) == 0 {
		return nil, fmt.Errorf("charmcraft.yaml has no platforms")
	}
	var archs []string
	for i := 0; i < len(platforms.Content); i += 2 {
		archs = append(archs, platforms.Content[i].Value)
	}
	sort.Strings(archs)
	out, err := yaml.Marshal(map[string]any{
		"bases": []map[string]any{{"name": name, "channel": channel, "architectures": archs}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode manifest.yaml: %w", err)
	}
	return out, nil
}
