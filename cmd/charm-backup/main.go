// Command charm-backup runs the synapse charm's backup actions
// (create-backup, list-backups, delete-backup, restore-backup). It is
// packed beside dispatch as backup-actions, and dispatch (cmd/charm) execs
// it for those actions with Juju's environment unchanged, so that only
// this program links OpenPGP (charm/backupcrypt), whose start-up cost
// every hook would otherwise pay. It reads the event, the parameters and
// the secrets as dispatch does: from the environment and the hook tools.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/backupcrypt"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/unitstate"
)

func main() {
	ev, err := juju.EventFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "synapse charm backup-actions: %v\n", err)
		os.Exit(1)
	}
	if !ev.IsAction || !charm.IsBackupAction(ev.Name) {
		// Hooks belong to dispatch: two programs reconciling would be two
		// sources of truth.
		fmt.Fprintf(os.Stderr, "synapse charm backup-actions: %s is not a backup action: dispatch runs it\n", ev.Name)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// dispatch, beside this program, is the exporter the observed unit
	// runs: the same Exporter dispatch passes keeps the snapshot the same.
	exporter := ""
	if self, err := os.Executable(); err == nil {
		exporter = filepath.Join(filepath.Dir(self), "dispatch")
	}
	err = charm.Run(ctx, charm.Options{
		Tools:     juju.New(juju.ExecRunner{}),
		Event:     ev,
		Log:       os.Stderr,
		Exporter:  exporter,
		StateFile: unitstate.Path(ev.CharmDir),
		Backups:   backupcrypt.OpenPGP{},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "synapse charm: %s: %v\n", ev.Name, err)
		os.Exit(1)
	}
}
