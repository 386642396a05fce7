// Command charm is the synapse charm, installed as the charm's dispatch
// file: it reads the event from the environment Juju gives, runs one
// reconcile (or action), and exits non-zero only when Juju should retry.
//
// `dispatch nginx-exporter ...` runs the nginx exporter instead: the charm
// copies this static binary into the nginx container, whose image ships
// no exporter, so one build serves both jobs.
//
// The backup actions run in another program of the charm, backup-actions
// (cmd/charm-backup), which this one execs: OpenPGP's packages would cost
// every hook milliseconds of start-up.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/unitstate"
	"github.com/synapse-charm/synapse-k8s-go/workload/nginxexporter"
)

// backupProgram is the backup actions' program beside dispatch
// (charmarchive.BackupActions).
const backupProgram = "backup-actions"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "nginx-exporter" {
		os.Exit(nginxexporter.Main(os.Args[2:], os.Stderr))
	}
	// Where this binary is, to copy it into the nginx container; without
	// it the charm runs no exporter (and says so in the log).
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "synapse charm: no nginx exporter: %v\n", err)
		self = ""
	}
	ev, err := juju.EventFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "synapse charm: %v\n", err)
		os.Exit(1)
	}
	if ev.IsAction && charm.IsBackupAction(ev.Name) && self != "" {
		// The same environment and nothing else: the program reads the
		// passphrase and the S3 keys itself, with the hook tools.
		prog := filepath.Join(filepath.Dir(self), backupProgram)
		err := syscall.Exec(prog, []string{prog}, os.Environ())
		// Only a failed exec returns: the action runs here and fails,
		// naming the fix.
		fmt.Fprintf(os.Stderr, "synapse charm: %s: %v\n", ev.Name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = charm.Run(ctx, charm.Options{
		Tools:     juju.New(juju.ExecRunner{}),
		Event:     ev,
		Log:       os.Stderr,
		Exporter:  self,
		StateFile: unitstate.Path(ev.CharmDir),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "synapse charm: %s: %v\n", ev.Name, err)
		os.Exit(1)
	}
}
