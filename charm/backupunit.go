package charm

import (
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
)

// dataUnit returns an error naming the unit to run a backup or a restore
// on when this unit's volume does not hold the homeserver's local state:
// the unit the peer bag's data-home record names, or, before there is a
// record, the main of the plan. With no local state (PostgreSQL and S3
// media) any unit will do.
func dataUnit(s *decide.Snapshot) error {
	if s.Peer == nil {
		return nil
	}
	unit := s.Event.Unit
	home, err := decide.ParseDataHome(s.Peer.App)
	if err != nil {
		return fmt.Errorf("cannot tell which unit holds the data: %w", err)
	}
	if home != nil {
		if !home.Local() || home.Unit == unit {
			return nil
		}
		return fmt.Errorf("run it on %s: its volume holds %s", home.Unit, localState(home))
	}
	raw := s.Peer.App[decide.PlanKey]
	if raw == "" {
		return nil
	}
	plan, err := topology.Decode(raw)
	if err != nil {
		return fmt.Errorf("cannot tell which unit is the main: %w", err)
	}
	if plan.Main == "" || plan.Main == unit {
		return nil
	}
	return fmt.Errorf("run it on %s: it is the main, whose volume holds the SQLite database and the media", plan.Main)
}

// localState names what of the homeserver's state lives on a volume.
func localState(h *decide.DataHome) string {
	switch {
	case h.Database == decide.StoreSQLite && h.Media == decide.StoreLocal:
		return "the SQLite database and the media"
	case h.Database == decide.StoreSQLite:
		return "the SQLite database"
	}
	return "the media"
}
