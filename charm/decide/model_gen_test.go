package decide_test

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// modelOp is one thing Juju or the world does to the application. Units
// are picked when the operation runs (Pick indexes the live units), so a
// history stays meaningful when shrinking drops operations before it.
type modelOp struct {
	Kind     string
	N        int
	Pick     int
	Endpoint string
	Key      string
	Value    any
}

// Operation kinds.
const (
	modelOpDeploy         = "deploy"
	modelOpAddUnit        = "add-unit"
	modelOpScaleDown      = "scale-down"
	modelOpRemoveMain     = "remove-main-unit"
	modelOpLeader         = "leader-change"
	modelOpIntegrate      = "integrate"
	modelOpRemoveRelation = "remove-relation"
	modelOpConfig         = "config"
	modelOpResetConfig    = "reset-config"
	modelOpRestart        = "container-restart"
	modelOpToolFails      = "tool-fails-once"
	modelOpHostile        = "hostile-relation"
	modelOpPeerBag        = "foreign-peer-bag"
	modelOpLoseSecretID   = "peer-bag-loses-secret-id"
	modelOpLostDeparted   = "scale-down-departed-lost"
	modelOpUpdateStatus   = "update-status"
	modelOpScaleDownLead  = "scale-down-leader"
	modelOpImage          = "container-image"
)

// modelKeepsLeader, as the deploy's Key, makes a departing leader keep
// leadership through its teardown (Juju 4.0; 3.6's lease tracker too).
const modelKeepsLeader = "teardown-keeps-leader"

// modelHistory is a generated history: its seed drives the scheduling of
// hooks between units and the fresh secrets.
type modelHistory struct {
	Seed uint64
	Ops  []modelOp
}

var modelProviders = []string{decide.DatabaseEndpoint, decide.RedisEndpoint, decide.MediaEndpoint, decide.BackupEndpoint}

// modelTopologyValues are the values the generator gives each topology
// option: sensible ones and bad ones.
var modelTopologyValues = map[string][]any{
	"event_persisters":        {0, 1, 2, 3, -1},
	"federation_senders":      {0, 1, 2, 3, 17},
	"pushers":                 {0, 1, 2, 3, "two"},
	"keep_singletons_on_main": {true, false, "maybe"},
	"max_processes_per_unit":  {1, 2, 3, 4, 0, 8},
	"workers_preset":          {"minimal", "balanced", "one-of-each", "everything"},
	"worker_counts":           {"", "sync=2", "typing=1,receipts=2", "event-persister=2,device-lists=1", "presence=2", "nosuch=1"},
	"workers_ignore_list":     {"", "synapse/1", "pusher-1", "synapse/0,generic-1"},
	"server_name":             {"other.example.org"},
}

// modelGenerate makes a history of 1 deploy and up to maxSteps steps
// (and the image fixes that follow some of them).
func modelGenerate(seed uint64, maxSteps int) modelHistory {
	rng := rand.New(rand.NewPCG(seed, 0x6e6))
	h := modelHistory{Seed: seed, Ops: []modelOp{{Kind: modelOpDeploy, N: 1 + rng.IntN(4)}}}
	if rng.IntN(2) == 0 {
		h.Ops[0].Key = modelKeepsLeader
	}
	steps := 1 + rng.IntN(maxSteps)
	for range steps {
		h.Ops = append(h.Ops, modelRandomOp(rng))
	}
	// Half the restarts onto a lacking image are followed, later, by one
	// onto the full image (the operator's fix), so that blocks lift.
	for i := 1; i < len(h.Ops); i++ {
		if op := h.Ops[i]; op.Kind == modelOpImage && op.Key != "" && rng.IntN(2) == 0 {
			at := i + 1 + rng.IntN(len(h.Ops)-i)
			h.Ops = slices.Insert(h.Ops, at, modelOp{Kind: modelOpImage, Pick: op.Pick})
		}
	}
	return h
}

func modelRandomOp(rng *rand.Rand) modelOp {
	pick := rng.IntN(8)
	switch r := rng.IntN(121); {
	case r < 12:
		return modelOp{Kind: modelOpAddUnit}
	case r < 20:
		return modelOp{Kind: modelOpScaleDown}
	case r < 25:
		return modelOp{Kind: modelOpRemoveMain}
	case r < 32:
		return modelOp{Kind: modelOpLeader, Pick: pick}
	case r < 50:
		return modelOp{Kind: modelOpIntegrate, Endpoint: modelProviders[rng.IntN(len(modelProviders))]}
	case r < 56:
		return modelOp{Kind: modelOpRemoveRelation, Endpoint: modelProviders[rng.IntN(len(modelProviders))]}
	case r < 72:
		keys := []string{"event_persisters", "federation_senders", "pushers", "keep_singletons_on_main", "max_processes_per_unit", "server_name",
			"workers_preset", "worker_counts", "workers_ignore_list"}
		key := keys[rng.IntN(len(keys))]
		values := modelTopologyValues[key]
		return modelOp{Kind: modelOpConfig, Key: key, Value: values[rng.IntN(len(values))]}
	case r < 77:
		return modelOp{Kind: modelOpResetConfig}
	case r < 83:
		container := workload.SynapseContainer
		if rng.IntN(2) == 0 {
			container = workload.NginxContainer
		}
		return modelOp{Kind: modelOpRestart, Pick: pick, Key: container}
	case r < 88:
		return modelOp{Kind: modelOpToolFails, Pick: pick}
	case r < 92:
		return modelOp{Kind: modelOpHostile, Endpoint: modelProviders[rng.IntN(len(modelProviders))]}
	case r < 96:
		variants := []string{"plan-version-2", "plan-missing-keys", "plan-garbage", "no-server-name"}
		return modelOp{Kind: modelOpPeerBag, Key: variants[rng.IntN(len(variants))]}
	case r < 100:
		return modelOp{Kind: modelOpLoseSecretID}
	case r < 105:
		return modelOp{Kind: modelOpLostDeparted, Pick: pick}
	case r < 110:
		return modelOp{Kind: modelOpUpdateStatus}
	case r < 115:
		return modelOp{Kind: modelOpScaleDownLead}
	default:
		return modelOp{Kind: modelOpImage, Pick: pick, Key: modelImageLacks[rng.IntN(len(modelImageLacks))]}
	}
}

// apply carries out an operation on the world and says, for the
// scenario, what it did ("" when it did nothing in this world).
func (w *modelWorld) apply(op modelOp) string {
	live := w.liveUnits()
	pickUnit := func() *modelUnit {
		if len(live) == 0 {
			return nil
		}
		return live[op.Pick%len(live)]
	}
	switch op.Kind {
	case modelOpDeploy:
		w.keepsLeader = op.Key == modelKeepsLeader
		for range op.N {
			w.addUnit()
		}
		mode := "a departing leader hands over first"
		if w.keepsLeader {
			mode = "a departing leader keeps leadership through its teardown"
		}
		return fmt.Sprintf("juju deploy synapse -n %d   (leader %s; %s)", op.N, w.leader, mode)
	case modelOpAddUnit:
		if len(live) >= 5 {
			return ""
		}
		return "juju add-unit synapse   (" + w.addUnit().name + ")"
	case modelOpScaleDown:
		if len(live) < 2 {
			return ""
		}
		u := live[len(live)-1]
		w.removeUnit(u, false)
		return fmt.Sprintf("juju scale-application synapse %d   (removes %s; leader %s)", len(live)-1, u.name, w.leader)
	case modelOpScaleDownLead:
		if len(live) < 2 {
			return ""
		}
		u := live[len(live)-1]
		w.electLeader(u)
		w.removeUnit(u, false)
		return fmt.Sprintf("leadership moves to %s, then juju scale-application synapse %d removes it   (leader %s)", u.name, len(live)-1, w.leader)
	case modelOpLostDeparted:
		if len(live) < 2 {
			return ""
		}
		u := pickUnit()
		w.removeUnit(u, true)
		return fmt.Sprintf("juju remove-unit %s; the others never receive its relation-departed   (leader %s)", u.name, w.leader)
	case modelOpUpdateStatus:
		w.updateStatus()
		return "update-status on every unit"
	case modelOpRemoveMain:
		main := w.leader
		if w.check.plan != nil {
			main = w.check.plan.Main
		}
		u := w.units[main]
		if len(live) < 2 || !w.isLive(main) {
			return ""
		}
		w.removeUnit(u, false)
		return fmt.Sprintf("juju remove-unit %s   (the main; leader %s)", main, w.leader)
	case modelOpLeader:
		u := pickUnit()
		if u == nil || u.name == w.leader {
			return ""
		}
		w.electLeader(u)
		return "leadership moves to " + u.name
	case modelOpIntegrate:
		if w.rels[op.Endpoint] != nil {
			return ""
		}
		w.integrate(op.Endpoint)
		return "juju integrate synapse:" + op.Endpoint + " " + w.rels[op.Endpoint].remoteApp
	case modelOpRemoveRelation:
		r := w.rels[op.Endpoint]
		if r == nil {
			return ""
		}
		w.removeRelation(op.Endpoint)
		return "juju remove-relation synapse:" + op.Endpoint + " " + r.remoteApp
	case modelOpConfig:
		w.config[op.Key] = op.Value
		w.configChanged()
		return fmt.Sprintf("juju config synapse %s=%v", op.Key, op.Value)
	case modelOpResetConfig:
		w.config = map[string]any{"server_name": modelServerName}
		w.configChanged()
		return "juju config synapse --reset (every option but server_name=" + modelServerName + ")"
	case modelOpRestart:
		u := pickUnit()
		if u == nil {
			return ""
		}
		w.container(u, op.Key).restartContainer()
		w.enqueue(u, modelHook{Kind: "pebble-ready", Container: op.Key})
		return "container " + op.Key + " of " + u.name + " restarts (its Pebble state and files outside /data are lost)"
	case modelOpImage:
		u := pickUnit()
		if u == nil {
			return ""
		}
		u.image = modelImage(op.Key)
		u.synapse.restartContainer()
		w.enqueue(u, modelHook{Kind: "pebble-ready", Container: workload.SynapseContainer})
		onto := "the full image"
		if op.Key != "" {
			onto = "an image lacking " + modelNeed(op.Key).String()
		}
		return "container " + workload.SynapseContainer + " of " + u.name + " restarts onto " + onto
	case modelOpToolFails:
		u := pickUnit()
		if u == nil {
			return ""
		}
		u.failNextWrite = true
		w.enqueue(u, modelHook{Kind: "update-status"})
		return "the next relation-set of " + u.name + " fails once"
	case modelOpHostile:
		return w.hostile(op.Endpoint)
	case modelOpPeerBag:
		return w.foreignPeerBag(op.Key)
	case modelOpLoseSecretID:
		if w.peerApp[decide.SecretIDKey] == "" {
			return ""
		}
		delete(w.peerApp, decide.SecretIDKey)
		w.check.worldChanged()
		w.updateStatus()
		return "the peer application bag loses " + decide.SecretIDKey + " (a restored model)"
	}
	panic("unknown operation " + op.Kind)
}

func (w *modelWorld) configChanged() {
	for _, u := range w.liveUnits() {
		w.enqueue(u, modelHook{Kind: "config-changed"})
	}
}

func (w *modelWorld) updateStatus() {
	for _, u := range w.liveUnits() {
		w.enqueue(u, modelHook{Kind: "update-status"})
	}
}

// hostile puts garbage in a provider's bags.
func (w *modelWorld) hostile(endpoint string) string {
	r := w.rels[endpoint]
	if r == nil {
		return ""
	}
	r.hostile = true
	switch endpoint {
	case decide.DatabaseEndpoint:
		r.app["endpoints"] = "postgresql:fivefourthreetwo\n"
		r.app["username"], r.app["password"] = "u", "p"
	case decide.RedisEndpoint:
		r.units[r.remoteApp+"/0"]["port"] = "-1; FLUSHALL"
	default:
		r.app["bucket"], r.app["access-key"], r.app["secret-key"] = "b", "a", "s"
		r.app["s3-uri-style"] = "../../etc"
	}
	w.remoteChanged(r)
	return r.remoteApp + " writes garbage in its " + endpoint + " relation bags"
}

// foreignPeerBag leaves the peer application bag as another revision of
// the charm would.
func (w *modelWorld) foreignPeerBag(variant string) string {
	switch variant {
	case "plan-version-2":
		w.peerApp[decide.PlanKey] = `{"version":2,"generation":9,"main":"synapse/0","processes":[{"name":"main","role":"main","unit":"synapse/0","index":0}],"shards":3}`
	case "plan-missing-keys":
		w.peerApp[decide.PlanKey] = `{"version":1,"generation":3}`
	case "plan-garbage":
		w.peerApp[decide.PlanKey] = "main_unit_id=synapse/0"
	case "no-server-name":
		if w.peerApp[decide.ServerNameKey] == "" {
			return ""
		}
		delete(w.peerApp, decide.ServerNameKey)
	}
	w.check.worldChanged()
	w.updateStatus()
	return "another revision leaves the peer application bag with " + variant
}
