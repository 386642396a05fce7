package sim

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/canonical/pebble/client"
)

// Snapshots of every container's Pebble, to show which services run and to
// count process restarts between two points of a scenario.

// ServiceState is one Pebble service.
type ServiceState struct {
	Name         string    `json:"name"`
	Startup      string    `json:"startup"`
	Current      string    `json:"current"`
	CurrentSince time.Time `json:"current-since"`
}

// ContainerState is one container's Pebble.
type ContainerState struct {
	// BootID changes whenever the container (its Pebble) restarts.
	BootID string `json:"boot-id,omitempty"`
	// Services are the services of the plan, by name.
	Services []ServiceState `json:"services"`
	// Error says why Pebble could not be asked ("" when it answered).
	Error string `json:"error,omitempty"`
}

// PebbleSnapshot maps unit -> container -> state.
type PebbleSnapshot map[string]map[string]ContainerState

// PebbleSnapshot asks every container of every unit for its services.
func (m *Model) PebbleSnapshot(ctx context.Context) PebbleSnapshot {
	m.mu.Lock()
	type target struct{ unit, container, socket string }
	var targets []target
	for _, u := range m.sortedUnits() {
		for _, c := range m.meta.Containers {
			targets = append(targets, target{u.name, c.Name, filepath.Join(u.containersDir, c.Name, "pebble.socket")})
		}
	}
	m.mu.Unlock()
	snap := PebbleSnapshot{}
	for _, t := range targets {
		if snap[t.unit] == nil {
			snap[t.unit] = map[string]ContainerState{}
		}
		snap[t.unit][t.container] = containerState(ctx, t.socket)
	}
	return snap
}

func containerState(ctx context.Context, socket string) ContainerState {
	if _, err := os.Stat(socket); err != nil {
		return ContainerState{Services: []ServiceState{}, Error: "no pebble socket"}
	}
	type result struct {
		st ContainerState
	}
	done := make(chan result, 1)
	go func() {
		st := ContainerState{Services: []ServiceState{}}
		c, err := client.New(&client.Config{Socket: socket})
		if err != nil {
			st.Error = err.Error()
			done <- result{st}
			return
		}
		if info, err := c.SysInfo(); err == nil {
			st.BootID = info.BootID
		}
		svcs, err := c.Services(&client.ServicesOptions{})
		if err != nil {
			st.Error = err.Error()
			done <- result{st}
			return
		}
		for _, s := range svcs {
			st.Services = append(st.Services, ServiceState{Name: s.Name, Startup: string(s.Startup), Current: string(s.Current), CurrentSince: s.CurrentSince})
		}
		sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Name < st.Services[j].Name })
		done <- result{st}
	}()
	select {
	case r := <-done:
		return r.st
	case <-time.After(10 * time.Second):
		return ContainerState{Services: []ServiceState{}, Error: "pebble did not answer within 10s"}
	case <-ctx.Done():
		return ContainerState{Services: []ServiceState{}, Error: ctx.Err().Error()}
	}
}

// Restarts counts the service processes that restarted between two
// snapshots, keyed "unit/container/service": a service active in both whose
// current-since moved, or an active service of a container whose boot id
// changed (the container restarted) that is active again.
func Restarts(before, after PebbleSnapshot) map[string]int {
	out := map[string]int{}
	for unit, containers := range after {
		for cname, st := range containers {
			prev, ok := before[unit][cname]
			if !ok {
				continue
			}
			prevSvcs := map[string]ServiceState{}
			for _, s := range prev.Services {
				prevSvcs[s.Name] = s
			}
			rebooted := prev.BootID != "" && st.BootID != "" && prev.BootID != st.BootID
			for _, s := range st.Services {
				p, ok := prevSvcs[s.Name]
				if !ok || p.Current != "active" || s.Current != "active" {
					continue
				}
				if rebooted || !p.CurrentSince.Equal(s.CurrentSince) {
					out[unit+"/"+cname+"/"+s.Name]++
				}
			}
		}
	}
	return out
}
