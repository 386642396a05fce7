// Command pack-charm builds synapse.charm, the archive `juju deploy`
// takes, without charmcraft: it builds ./cmd/charm as the dispatch binary
// and ./cmd/charm-backup as the backup actions' binary (static, trimmed
// paths, stripped, as charmcraft.yaml's go part does) and packs them with
// the metadata, config and actions.
//
//	go run ./cmd/pack-charm [-o synapse.charm] [-dispatch prebuilt-binary] [-backup prebuilt-binary]
//
// Run it from the repository root.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
)

func main() {
	out := flag.String("o", "synapse.charm", "the archive to write")
	dispatch := flag.String("dispatch", "", "a dispatch binary already built (default: build ./cmd/charm)")
	backup := flag.String("backup", "", "a backup actions' binary already built (default: build ./cmd/charm-backup)")
	flag.Parse()
	if err := run(*out, *dispatch, *backup); err != nil {
		fmt.Fprintln(os.Stderr, "pack-charm:", err)
		os.Exit(1)
	}
}

func run(out, dispatch, backup string) error {
	dir, err := os.MkdirTemp("", "pack-charm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&dispatch, "./cmd/charm"}, {&backup, "./cmd/charm-backup"}} {
		if *b.path != "" {
			continue
		}
		*b.path = filepath.Join(dir, filepath.Base(b.pkg))
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", *b.path, b.pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build %s: %w", b.pkg, err)
		}
	}
	src, err := charmarchive.ReadSources(".", dispatch, backup)
	if err != nil {
		return err
	}
	archive, err := charmarchive.Build(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, archive, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Printf("%s: %d bytes\n", out, len(archive))
	return nil
}
