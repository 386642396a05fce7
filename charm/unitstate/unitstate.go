// Package unitstate is what a unit remembers between its hooks, so that a
// hook that changes nothing asks Juju and Pebble only what may have changed.
//
// It lives in one small file in the charm directory, inside the unit's pod
// (ops keeps its own state the same way, in .unit-state.db there): a new
// pod starts with none, so nothing survives a rescheduling, an address
// change or a new image. Every entry is a hint that the charm can always
// rebuild by asking again, never a source of truth: a missing, unreadable
// or foreign file is an empty state, and entries expire after MaxAge so
// that anything changed behind the charm's back is seen within that time.
package unitstate

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"
)

// FileName is the state file's name in the charm directory.
const FileName = ".synapse-charm-state.json"

// Path is the state file of the charm directory charmDir, "" (remember
// nothing) without one. The charm directory lives and dies with the pod,
// as the memory must (ops keeps .unit-state.db there).
func Path(charmDir string) string {
	if charmDir == "" {
		return ""
	}
	return filepath.Join(charmDir, FileName)
}

// MaxAge bounds how long an entry is trusted without asking again.
const MaxAge = time.Hour

// version changes when the meaning of an entry changes: a state written by
// another layout is dropped, never misread.
const version = 1

// State is everything remembered. The zero value remembers nothing.
type State struct {
	Version int `json:"version"`
	// Since is when the Juju-side entries (relation IDs, address, status,
	// port) were last all asked afresh; they are trusted until MaxAge.
	Since time.Time `json:"since"`
	// Relations holds relation-ids' answer per endpoint.
	Relations map[string][]string `json:"relations,omitempty"`
	// Members holds relation-list's answer per relation ID.
	Members map[string][]string `json:"members,omitempty"`
	// Bags holds this unit's own bags (key "<relation ID>/unit") and, on
	// the leader, its application's bags (key "<relation ID>/app") of the
	// relations where only this side writes them, as last read or written.
	Bags map[string]map[string]string `json:"bags,omitempty"`
	// RemoteApps holds relation-list --app's answer per relation ID: a
	// relation's remote application never changes.
	RemoteApps map[string]string `json:"remote-apps,omitempty"`
	// Address is network-get's bind address: the pod's, fixed for its life.
	Address string `json:"address,omitempty"`
	// Status is the unit status last set.
	Status *Status `json:"status,omitempty"`
	// PortOpen is true once open-port succeeded.
	PortOpen bool `json:"port-open,omitempty"`
	// Containers holds what the charm last left in each container, valid
	// while the same Pebble runs (container.ObserveKnown tells).
	Containers map[string]Container `json:"containers,omitempty"`
}

// Status is a unit status as set with status-set.
type Status struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// Container is what the charm knows of one container since its Pebble
// booted.
type Container struct {
	// BootID is Pebble's boot ID when these were recorded.
	BootID string `json:"boot-id"`
	// Since is when the files were last compared in full.
	Since time.Time `json:"since"`
	// Files is the hash of the files, executables and owners the charm
	// last pushed (or found identical); "" when unknown.
	Files string `json:"files,omitempty"`
	// Plan is Pebble's plan as last read, when no layer was added since.
	Plan string `json:"plan,omitempty"`
	// VolumeID is the data volume's ID as last read or written.
	VolumeID string `json:"volume-id,omitempty"`
}

// Load reads the state at path. A missing, unreadable or foreign file is
// an empty state: the charm then asks everything afresh.
func Load(path string) State {
	if path == "" {
		return State{}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return State{}
	}
	var s State
	if json.Unmarshal(data, &s) != nil || s.Version != version {
		return State{}
	}
	return s
}

// Clone returns a copy that shares nothing with s.
func (s State) Clone() State {
	c := s
	c.Relations = make(map[string][]string, len(s.Relations))
	for k, v := range s.Relations {
		c.Relations[k] = append([]string(nil), v...)
	}
	c.Members = make(map[string][]string, len(s.Members))
	for k, v := range s.Members {
		c.Members[k] = append([]string(nil), v...)
	}
	c.Bags = make(map[string]map[string]string, len(s.Bags))
	for k, v := range s.Bags {
		c.Bags[k] = maps.Clone(v)
	}
	c.RemoteApps = maps.Clone(s.RemoteApps)
	c.Containers = maps.Clone(s.Containers)
	if s.Status != nil {
		st := *s.Status
		c.Status = &st
	}
	return c
}

// Fresh reports whether the Juju-side entries may be trusted at now.
func (s *State) Fresh(now time.Time) bool {
	return s.Version == version && !s.Since.IsZero() && now.Sub(s.Since) < MaxAge && !now.Before(s.Since)
}

// Reset forgets the Juju-side entries and starts their clock at now.
func (s *State) Reset(now time.Time) {
	*s = State{Version: version, Since: now, Containers: s.Containers}
}

// ContainerFresh returns the container's entry when it was recorded for
// this boot of its Pebble and is younger than MaxAge.
func (s *State) ContainerFresh(name, bootID string, now time.Time) (Container, bool) {
	c, ok := s.Containers[name]
	if !ok || bootID == "" || c.BootID != bootID || now.Sub(c.Since) >= MaxAge || now.Before(c.Since) {
		return Container{}, false
	}
	return c, true
}

// SetContainer records a container's entry.
func (s *State) SetContainer(name string, c Container) {
	if s.Containers == nil {
		s.Containers = map[string]Container{}
	}
	s.Containers[name] = c
}

// Save writes the state to path when it differs from before (what Load
// returned), atomically. An empty path saves nothing.
func Save(path string, before, after State) error {
	if path == "" || equal(before, after) {
		return nil
	}
	after.Version = version
	data, err := json.Marshal(after)
	if err != nil {
		return fmt.Errorf("save unit state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".synapse-charm-state-*")
	if err != nil {
		return fmt.Errorf("save unit state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save unit state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save unit state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save unit state: %w", err)
	}
	return nil
}

// equal compares two states as their files would: an empty map is no map.
func equal(a, b State) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// Forget removes the state file: the next hook asks everything afresh.
func Forget(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("forget unit state: %w", err)
	}
	return nil
}
