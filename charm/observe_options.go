package charm

import (
	"context"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// observeOptionImage checks what the options that are on need from the
// image: the invite checker module until homeserver.yaml loads it (a
// settled unit pays nothing), and the programs of the options this charm
// does not run (one file stat each, only while the option is on).
func observeOptionImage(ctx context.Context, s *decide.Snapshot, pc pebbleClient) error {
	if decide.InviteCheckerOn(s) {
		configured, err := container.FileContains(pc, workload.HomeserverPath, decide.InviteCheckerModule)
		if err != nil {
			return err
		}
		if !configured {
			if s.Image.Modules[decide.InviteCheckerModule], err = container.HasInviteChecker(ctx, pc); err != nil {
				return err
			}
		}
	}
	for _, p := range decide.OptionPrograms(s) {
		if s.Image.Programs == nil {
			s.Image.Programs = map[string]bool{}
		}
		has, err := container.HasFile(pc, p)
		if err != nil {
			return err
		}
		s.Image.Programs[p] = has
	}
	return nil
}
