// Command jujusim drives the Juju unit-agent simulator (tests/sim) from the
// command line.
//
//	jujusim run [flags] SCENARIO.yaml   run a scenario, print the model as JSON
//	jujusim up [flags] --units N        bring up a deployment on the real stack and keep it up
//
// The scenario format and the output are described in tests/sim/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

func main() {
	os.Exit(mainCode(os.Args[1:], os.Stdout, os.Stderr))
}

func mainCode(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = runCommand(ctx, args[1:], stdout, stderr)
	case "up":
		err = upCommand(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	default:
		usage(stderr)
		return 2
	}
	if err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "jujusim: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "jujusim: %v\n", err)
		return 1
	}
	return 0
}

type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  jujusim run [--charm PATH] [--charm-root DIR] [--workload bed|none] [--dir DIR] [--keep] SCENARIO.yaml
  jujusim up --units N [--charm PATH] [--charm-root DIR] [--dir DIR]

run executes the scenario's steps and prints the model as JSON (juju status
shape, plus Pebble services and counters). up builds the charm, starts
PostgreSQL, Redis and S3, deploys N units on real Pebble containers and
keeps them up until interrupted. See tests/sim/README.md.
`)
}

// commonFlags are shared by run and up.
type commonFlags struct {
	charm     string
	charmRoot string
	workload  string
	dir       string
	keep      bool
	verbose   bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.charm, "charm", "", "charm binary to run as dispatch (default: this module's charm, packed by cmd/pack-charm and installed whole)")
	fs.StringVar(&c.charmRoot, "charm-root", "", "directory with charmcraft.yaml/metadata.yaml (default: the packed charm's, or the module root with -charm)")
	fs.StringVar(&c.dir, "dir", "", "working directory (default: a new directory under /tmp, removed at exit)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory")
	fs.BoolVar(&c.verbose, "v", false, "log every hook to stderr")
}

// packCharm builds synapse.charm as an operator gets it (cmd/pack-charm)
// and unpacks it into dir/charm as Juju does; it returns that directory.
func packCharm(ctx context.Context, root, dir string) (string, error) {
	archive := filepath.Join(dir, "synapse.charm")
	if err := sim.PackCharm(ctx, root, archive); err != nil {
		return "", err
	}
	unpacked := filepath.Join(dir, "charm")
	if err := charmarchive.Unpack(archive, unpacked); err != nil {
		return "", fmt.Errorf("unpack the charm: %w", err)
	}
	return unpacked, nil
}

// resolveCharm returns the charm binary and charm root. Without -charm it
// packs this module's charm and installs the whole archive in each unit,
// as Juju does (the backup actions' program with dispatch).
func (c *commonFlags) resolveCharm(ctx context.Context, scratch string) (charm, root string, err error) {
	if c.charm != "" {
		root = c.charmRoot
		if root == "" {
			if root, err = sim.ModuleRoot(); err != nil {
				root = ""
			}
		}
		return c.charm, root, nil
	}
	modRoot, err := sim.ModuleRoot()
	if err != nil {
		return "", "", err
	}
	unpacked, err := packCharm(ctx, modRoot, scratch)
	if err != nil {
		return "", "", err
	}
	root = c.charmRoot
	if root == "" {
		root = unpacked
	}
	return filepath.Join(unpacked, "dispatch"), root, nil
}

// workDir creates the working directory and returns a cleanup.
func (c *commonFlags) workDir() (string, func(), error) {
	if c.dir != "" {
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return "", nil, err
		}
		return c.dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "jujusim-")
	if err != nil {
		return "", nil, err
	}
	return d, func() {
		if !c.keep {
			os.RemoveAll(d)
		}
	}, nil
}
