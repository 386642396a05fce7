package sim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// BedWorkload runs every container of every unit as a tests/bed container:
// a real Pebble, PID 1 of its own namespaces, in an overlay root over the
// bed image, with the unit's socket directory at /charm/container, its
// storage bound at the mount locations and the model's hosts file at
// /etc/hosts. It needs root.
type BedWorkload struct {
	// Image is the workload image; empty means bed.Image.
	Image string

	mu    sync.Mutex
	units map[string]map[string]*bed.Container
}

// StartUnit implements Workload.
func (w *BedWorkload) StartUnit(ctx context.Context, u UnitInfo) ([]string, error) {
	started := map[string]*bed.Container{}
	var ready []string
	for _, c := range u.Containers {
		opts := bed.ContainerOptions{
			Name:      u.Name + "/" + c.Name,
			Image:     w.Image,
			Dir:       filepath.Join(u.Dir, "rootfs", c.Name),
			SocketDir: c.SocketDir,
			HostsFile: u.HostsFile,
		}
		for _, mt := range c.Mounts {
			opts.Binds = append(opts.Binds, bed.Bind{HostPath: mt.HostPath, Path: mt.Location})
		}
		ctr, err := bed.StartContainer(ctx, opts)
		if err != nil {
			for _, s := range started {
				s.Stop()
			}
			return nil, err
		}
		started[c.Name] = ctr
		ready = append(ready, c.Name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.units == nil {
		w.units = map[string]map[string]*bed.Container{}
	}
	w.units[u.Name] = started
	return ready, nil
}

// RestartContainer implements Workload.
func (w *BedWorkload) RestartContainer(ctx context.Context, unit, container string) (bool, error) {
	w.mu.Lock()
	c := w.units[unit][container]
	w.mu.Unlock()
	if c == nil {
		return false, fmt.Errorf("no container %s in unit %s", container, unit)
	}
	if err := c.Restart(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// StopUnit implements Workload.
func (w *BedWorkload) StopUnit(ctx context.Context, unit string) error {
	w.mu.Lock()
	containers := w.units[unit]
	delete(w.units, unit)
	w.mu.Unlock()
	var errs []error
	for _, c := range containers {
		if err := c.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Container returns a running bed container of a unit, for tests that look
// inside (its root directory, its Pebble client).
func (w *BedWorkload) Container(unit, container string) *bed.Container {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.units[unit][container]
}
