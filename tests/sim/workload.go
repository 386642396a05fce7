package sim

import (
	"context"
	"os"
)

// Workload runs the units' workload containers. The simulator never starts
// processes itself: it tells a Workload when a unit appears, when one of its
// containers restarts and when it goes away, and fires
// <container>-pebble-ready for every container the Workload reports up.
type Workload interface {
	// StartUnit starts every container of a new unit. Container X's Pebble
	// must listen on unit.ContainersDir/X/pebble.socket, see unit.HostsFile
	// at /etc/hosts and each of its mounts at Location. It returns the
	// containers whose Pebble is up.
	StartUnit(ctx context.Context, unit UnitInfo) (ready []string, err error)
	// RestartContainer restarts one container of a unit as Kubernetes does:
	// a fresh filesystem from the image, storage kept, a new Pebble (new
	// boot id, no layers). It reports whether Pebble came back up.
	RestartContainer(ctx context.Context, unit, container string) (ready bool, err error)
	// StopUnit stops every container of a unit and releases what it holds.
	StopUnit(ctx context.Context, unit string) error
}

// NoWorkload runs nothing: it creates each container's socket directory
// and leaves it empty. It suits tests of the simulator and of hook order,
// where no Pebble is needed.
type NoWorkload struct {
	// PebbleReady makes every container count as up, so that
	// <container>-pebble-ready fires after start (and after a restart).
	// Without it, fire them with Model.PebbleReady.
	PebbleReady bool
}

// StartUnit implements Workload.
func (w NoWorkload) StartUnit(ctx context.Context, unit UnitInfo) ([]string, error) {
	var ready []string
	for _, c := range unit.Containers {
		if err := os.MkdirAll(c.SocketDir, 0o755); err != nil {
			return nil, err
		}
		for _, mt := range c.Mounts {
			if err := os.MkdirAll(mt.HostPath, 0o755); err != nil {
				return nil, err
			}
		}
		if w.PebbleReady {
			ready = append(ready, c.Name)
		}
	}
	return ready, nil
}

// RestartContainer implements Workload.
func (w NoWorkload) RestartContainer(ctx context.Context, unit, container string) (bool, error) {
	return w.PebbleReady, nil
}

// StopUnit implements Workload.
func (w NoWorkload) StopUnit(ctx context.Context, unit string) error { return nil }
