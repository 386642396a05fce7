package charm

import (
	"context"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// recoverRestore rolls back or completes a restore-backup that was killed
// half done, before anything starts Synapse. A failure fails the hook:
// Synapse stays as it is (stopped, when the database was moved aside) and
// Juju runs the hook again.
func (c *charm) recoverRestore(ctx context.Context, s *decide.Snapshot, how workload.RestoreRecovery) error {
	pc, err := c.pebble(workload.SynapseContainer)
	if err != nil {
		return err
	}
	if err := container.RecoverRestore(ctx, pc, how); err != nil {
		return fmt.Errorf("%s the restore interrupted in phase %s: %w", how, s.RestorePending, err)
	}
	c.logf("restore interrupted in phase %s: %s done", s.RestorePending, how)
	return nil
}
