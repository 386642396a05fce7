package charm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/unitstate"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// The hook tools asked through the unit's memory (charm/unitstate): each
// answers from it when Juju cannot have changed the answer since, and
// records what Juju said otherwise. Each hook-tool call is a process start
// and a round trip to the unit agent, on every unit, for every event.

// relationIDs is relation-ids for endpoint. The relations of an endpoint
// change only through relation-created and relation-broken, which run on
// this unit with the endpoint's name, so the answer is asked again on any
// hook of the endpoint. goal-state would name the endpoints with
// relations in one call, but it leaves out a relation whose other side
// consumes an offer of ours (apiserver/facades/agent/uniter/uniter.go,
// goalStateRelations: "on the offering side of a remote relation, don't
// show anything").
func (c *charm) relationIDs(ctx context.Context, endpoint string) ([]string, error) {
	if ids, ok := c.state.Relations[endpoint]; ok && c.ev.RelationName != endpoint {
		return ids, nil
	}
	ids, err := c.tools.RelationIDs(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	remembered := ids
	if c.ev.Kind() == "relation-broken" && c.ev.RelationName == endpoint {
		// Gone once this hook ends, though Juju may still list it now.
		remembered = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == c.ev.RelationID })
	}
	if c.state.Relations == nil {
		c.state.Relations = map[string][]string{}
	}
	c.state.Relations[endpoint] = slices.Clone(remembered)
	return ids, nil
}

// relationUnits is relation-list for a relation: the remote units this
// unit has seen join. Juju's hook context lists the members its own
// relation-joined and relation-departed hooks recorded, so the answer can
// change only in a hook of that relation, where it is asked again.
func (c *charm) relationUnits(ctx context.Context, id string) ([]string, error) {
	if units, ok := c.state.Members[id]; ok && !(c.ev.RelationID == id && membershipHook(c.ev.Kind())) {
		return slices.Clone(units), nil
	}
	units, err := c.tools.RelationList(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.state.Members == nil {
		c.state.Members = map[string][]string{}
	}
	c.state.Members[id] = slices.Clone(units)
	return units, nil
}

// membershipHook reports whether a relation hook of this kind may change
// the relation's members as this unit sees them.
func membershipHook(kind string) bool {
	switch kind {
	case "relation-created", "relation-joined", "relation-departed", "relation-broken":
		return true
	}
	return false
}

// ownBag is relation-get of this unit's own bag: only this unit writes it
// (Juju keeps a failed hook's writes as it keeps its memory: not at all).
func (c *charm) ownBag(ctx context.Context, id string) (map[string]string, error) {
	return c.writtenOnlyHere(ctx, id+"/unit", &juju.RelationGetOptions{RelationID: id, Unit: c.ev.Unit})
}

// localBag is relation-get of the application's bag of a relation, which
// only the leader reads and writes. Remembered only while this unit stays
// leader: observe drops the entries on a hook where it is not, and on
// leader-elected, since another leader may have written in between. The
// peer relation's is always asked: an operator's fix goes through it.
func (c *charm) localBag(ctx context.Context, id string) (map[string]string, error) {
	return c.writtenOnlyHere(ctx, id+"/app", &juju.RelationGetOptions{RelationID: id, Unit: c.ev.App, App: true})
}

func (c *charm) writtenOnlyHere(ctx context.Context, key string, opts *juju.RelationGetOptions) (map[string]string, error) {
	if bag, ok := c.state.Bags[key]; ok {
		return maps.Clone(bag), nil
	}
	bag, err := c.tools.RelationGet(ctx, opts)
	if err != nil {
		return nil, err
	}
	if c.state.Bags == nil {
		c.state.Bags = map[string]map[string]string{}
	}
	c.state.Bags[key] = maps.Clone(bag)
	return bag, nil
}

// forgetAppBags drops the remembered application bags (see localBag).
func (c *charm) forgetAppBags() {
	for key := range c.state.Bags {
		if strings.HasSuffix(key, "/app") {
			delete(c.state.Bags, key)
		}
	}
}

// forgetRelation drops everything remembered of a relation that is
// going away (its relation-broken): no later hook asks for it.
func (c *charm) forgetRelation(id string) {
	delete(c.state.Bags, id+"/unit")
	delete(c.state.Bags, id+"/app")
	delete(c.state.Members, id)
	delete(c.state.RemoteApps, id)
}

// rememberWritten applies a successful relation-set to a remembered bag
// ("" deletes a key, as in Juju). A bag not remembered stays unknown.
func (c *charm) rememberWritten(id string, app bool, data map[string]string) {
	key := id + "/unit"
	if app {
		key = id + "/app"
	}
	bag, ok := c.state.Bags[key]
	if !ok {
		return
	}
	for k, v := range data {
		if v == "" {
			delete(bag, k)
		} else {
			bag[k] = v
		}
	}
}

// remoteApp is relation-list --app: a relation's remote application is
// fixed for the relation's life.
func (c *charm) remoteApp(ctx context.Context, id string) (string, error) {
	if app, ok := c.state.RemoteApps[id]; ok && app != "" {
		return app, nil
	}
	app, err := c.tools.RelationRemoteApp(ctx, id)
	if err != nil {
		return "", err
	}
	if app != "" {
		if c.state.RemoteApps == nil {
			c.state.RemoteApps = map[string]string{}
		}
		c.state.RemoteApps[id] = app
	}
	return app, nil
}

// bindAddress is network-get's bind address on the peer endpoint: the
// pod's address, which the pod keeps for its life (and the state file
// lives and dies with the pod).
func (c *charm) bindAddress(ctx context.Context) (string, error) {
	if c.state.Address != "" {
		return c.state.Address, nil
	}
	net, err := c.tools.NetworkGet(ctx, PeerEndpoint)
	if err != nil {
		return "", err
	}
	c.state.Address = net.BindAddress()
	return c.state.Address, nil
}

// setStatus is status-set, skipped when the unit already shows it. Only
// the charm sets a unit's workload status.
func (c *charm) setStatus(ctx context.Context, level juju.StatusName, message string) error {
	want := unitstate.Status{Level: string(level), Message: message}
	if c.state.Status != nil && *c.state.Status == want {
		return nil
	}
	if err := c.tools.StatusSet(ctx, &juju.StatusOptions{Status: level, Message: message}); err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	c.state.Status = &want
	return nil
}

// openPort is open-port for nginx's port, once.
func (c *charm) openPort(ctx context.Context, port int) error {
	if c.state.PortOpen {
		return nil
	}
	if err := c.tools.OpenPort(ctx, port, "tcp"); err != nil {
		return fmt.Errorf("open port %d: %w", port, err)
	}
	c.state.PortOpen = true
	return nil
}

// knownContainer is what the unit remembers of a container, for
// container.ObserveKnown (which checks the Pebble boot); nothing once the
// entry has expired.
func (c *charm) knownContainer(name string) container.Known {
	k, ok := c.state.Containers[name]
	if !ok || c.opts.Now().Sub(k.Since) >= unitstate.MaxAge {
		return container.Known{}
	}
	return container.Known{BootID: k.BootID, PlanYAML: k.Plan}
}

// rememberObserved records the plan just observed; an entry of another
// Pebble boot, or expired, is dropped (its files are unknown).
func (c *charm) rememberObserved(name string, st workload.PebbleState) {
	k, ok := c.state.ContainerFresh(name, st.BootID, c.opts.Now())
	if !ok {
		k = unitstate.Container{BootID: st.BootID, Since: c.opts.Now()}
	}
	k.Plan = st.PlanYAML
	c.state.SetContainer(name, k)
}

// volumeID is the data volume's ID: read once per boot of the synapse
// container's Pebble, since the volume cannot change under a running
// container.
func (c *charm) volumeID(pc pebbleClient, bootID string) (string, error) {
	k, ok := c.state.ContainerFresh(workload.SynapseContainer, bootID, c.opts.Now())
	if ok && k.VolumeID != "" {
		return k.VolumeID, nil
	}
	id, err := container.VolumeID(pc)
	if err != nil {
		return "", err
	}
	c.rememberVolumeID(bootID, id)
	return id, nil
}

// rememberVolumeID records the volume ID read or written in this boot.
func (c *charm) rememberVolumeID(bootID, id string) {
	k, ok := c.state.ContainerFresh(workload.SynapseContainer, bootID, c.opts.Now())
	if !ok || id == "" {
		return
	}
	k.VolumeID = id
	c.state.SetContainer(workload.SynapseContainer, k)
}

// filesKnown reports whether want's files are what the charm last pushed
// (or found identical) in this boot of the container's Pebble.
func (c *charm) filesKnown(name, bootID string, want workload.Container) bool {
	k, ok := c.state.ContainerFresh(name, bootID, c.opts.Now())
	return ok && k.Files != "" && k.Files == workload.FilesHash(want)
}

// rememberApplied records what an apply left in the container: its files,
// and no plan when a layer was added (the next hook reads it).
func (c *charm) rememberApplied(name, bootID string, want workload.Container, res container.ApplyResult, compared bool) {
	k, ok := c.state.ContainerFresh(name, bootID, c.opts.Now())
	if !ok {
		return
	}
	k.Files = workload.FilesHash(want)
	if compared {
		k.Since = c.opts.Now()
	}
	if res.LayerChanged {
		k.Plan = ""
	}
	c.state.SetContainer(name, k)
}

// forgetContainer drops what the unit remembers of a container whose
// content the hook changed another way (a restore's recovery).
func (c *charm) forgetContainer(name string) {
	delete(c.state.Containers, name)
}
