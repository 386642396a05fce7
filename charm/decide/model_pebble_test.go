package decide_test

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// modelContainer is Pebble in one workload container: its plan (the
// combined layers), which services run, the files pushed, and how often
// each service was restarted.
type modelContainer struct {
	up       bool
	plan     workload.Layer
	active   map[string]bool
	files    map[string][]byte
	restarts map[string]int
}

func newModelContainer(up bool) *modelContainer {
	return &modelContainer{
		up:       up,
		plan:     workload.Layer{Services: map[string]workload.Service{}, Checks: map[string]workload.Check{}, LogTargets: map[string]workload.LogTarget{}},
		active:   map[string]bool{},
		files:    map[string][]byte{},
		restarts: map[string]int{},
	}
}

// restartContainer is a container restart: Pebble's state and the files
// outside the unit's storage (/data) are lost.
func (c *modelContainer) restartContainer() {
	fresh := newModelContainer(true)
	for path, data := range c.files {
		if strings.HasPrefix(path, workload.DataDir+"/") {
			fresh.files[path] = data
		}
	}
	*c = *fresh
}

// snapshot copies what an apply can change, for changedSince.
func (c *modelContainer) snapshot() modelContainer {
	return modelContainer{
		up:       c.up,
		plan:     workload.Layer{Summary: c.plan.Summary, Services: maps.Clone(c.plan.Services), Checks: maps.Clone(c.plan.Checks), LogTargets: maps.Clone(c.plan.LogTargets)},
		active:   maps.Clone(c.active),
		files:    maps.Clone(c.files),
		restarts: maps.Clone(c.restarts),
	}
}

// changedSince says what an apply changed since snap: "" for nothing.
func (c *modelContainer) changedSince(snap modelContainer) string {
	running := func(active map[string]bool) []string {
		var out []string
		for name, on := range active {
			if on {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	switch {
	case !maps.EqualFunc(c.files, snap.files, bytes.Equal):
		return "files pushed or removed"
	case !reflect.DeepEqual(c.plan, snap.plan):
		return "the Pebble plan changed"
	case !slices.Equal(running(c.active), running(snap.active)):
		return fmt.Sprintf("services running %v, were %v", running(c.active), running(snap.active))
	case !maps.Equal(c.restarts, snap.restarts):
		return "services restarted"
	}
	return ""
}

// state is what Pebble reports to the observer.
func (c *modelContainer) state() decide.ContainerFacts {
	if !c.up {
		return decide.ContainerFacts{}
	}
	plan := workload.Layer{Summary: c.plan.Summary, Services: maps.Clone(c.plan.Services), Checks: maps.Clone(c.plan.Checks), LogTargets: maps.Clone(c.plan.LogTargets)}
	return decide.ContainerFacts{Reachable: true, State: workload.PebbleState{Plan: plan, Active: maps.Clone(c.active), CanStopChecks: true}}
}

// modelStart is one service (re)started by an apply, with what it was
// defined as before and is defined as now.
type modelStart struct {
	service    string
	restart    bool
	before     workload.Service
	hadBefore  bool
	definition workload.Service
}

// apply carries out a container plan as container.Execute does: push the
// files that differ, prune the charm's directories, combine the layer,
// then stop, restart and start. onStart sees every (re)start with the
// files in place.
func (c *modelContainer) apply(p *decide.ContainerPlan, onStart func(modelStart)) {
	keep := map[string]bool{}
	for _, f := range p.Want.Files {
		keep[f.Path] = true
		if !bytes.Equal(c.files[f.Path], f.Content) {
			c.files[f.Path] = bytes.Clone(f.Content)
		}
	}
	for _, e := range p.Want.Executables {
		keep[e.Path] = true
		if c.files[e.Path] == nil {
			c.files[e.Path] = []byte("binary")
		}
	}
	for path := range c.files {
		for _, dir := range p.Want.PruneDirs {
			if strings.HasPrefix(path, dir+"/") && !keep[path] {
				delete(c.files, path)
			}
		}
	}
	before := maps.Clone(c.plan.Services)
	if l := p.Changes.Layer; l != nil {
		if l.Summary != "" {
			c.plan.Summary = l.Summary
		}
		maps.Copy(c.plan.Services, l.Services)
		maps.Copy(c.plan.Checks, l.Checks)
		maps.Copy(c.plan.LogTargets, l.LogTargets)
	}
	for _, name := range p.Changes.Stop {
		c.active[name] = false
	}
	for _, step := range []struct {
		names   []string
		restart bool
	}{{p.Changes.Restart, true}, {p.Changes.Start, false}} {
		for _, name := range step.names {
			if step.restart {
				c.restarts[name]++
			}
			c.active[name] = true
			prev, had := before[name]
			onStart(modelStart{service: name, restart: step.restart, before: prev, hadBefore: had, definition: c.plan.Services[name]})
		}
	}
}

// modelImage is the synapse image lacking need (by its name in the
// contract), or the full image for "": the report its probe gives.
func modelImage(need string) workload.ImageReport {
	if need == "" {
		return workload.ImageReport{Fingerprint: "full", SynapseVersion: modelVersion}
	}
	return workload.ImageReport{Fingerprint: "lacks-" + strings.ReplaceAll(need, "/", "_"), Missing: []string{need}, SynapseVersion: modelVersion}
}

// modelImageLacks are the images a container may restart onto: the full
// one (twice as likely, so that a block can lift), or one lacking exactly
// one need.
var modelImageLacks = []string{"", "", "psycopg2", "txredisapi", "s3_storage_provider", "/etc/ssl/certs", workload.SynapseUserNeed}

// modelNeed is the contract's need named name.
func modelNeed(name string) workload.ImageNeed {
	for _, n := range workload.SynapseImageContract {
		if n.Name == name {
			return n
		}
	}
	panic("no need " + name + " in the image contract")
}

// readiness is every wanted ready check passing when its service runs.
func (c *modelContainer) readiness(want workload.Container) *workload.Readiness {
	r := &workload.Readiness{}
	for _, check := range want.ReadyChecks {
		if !c.active[strings.TrimSuffix(check, "-ready")] {
			r.NotReady = append(r.NotReady, check)
		}
	}
	return r
}
