// Command pack-charm builds synapse.charm, the archive `juju deploy`
// takes, without charmcraft: it builds ./cmd/charm as the dispatch binary
// (static, trimmed paths, stripped, as charmcraft.yaml's go part does)
// and packs it with the metadata, config and actions.
//
//	go run ./cmd/pack-charm [-o synapse.charm] [-dispatch prebuilt-binary]
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
	flag.Parse()
	if err := run(*out, *dispatch); err != nil {
		fmt.Fprintln(os.Stderr, "pack-charm:", err)
		os.Exit(1)
	}
}

func run(out, dispatch string) error {
	if dispatch == "" {
		dir, err := os.MkdirTemp("", "pack-charm")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dispatch = filepath.Join(dir, "dispatch")
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", dispatch, "./cmd/charm")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build ./cmd/charm: %w", err)
		}
	}
	src, err := charmarchive.ReadSources(".", dispatch)
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
