package jujutest_test

import (
	"context"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

// A test sets up the unit's view, runs code against juju.New(m), then
// asserts on the model and on the tool calls made.
func Example() {
	m := jujutest.NewMemory("synapse/1")
	m.SetConfig(map[string]any{"server_name": "example.com"})
	peers := m.AddRelation("synapse-peers", "synapse", "synapse/0", "synapse/2")
	m.SetRelationData(peers, "synapse", true, map[string]string{"main-unit": "synapse/0"})

	tools := juju.New(m)
	ctx := context.Background()
	bag, _ := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: peers, Unit: "synapse", App: true})
	err := tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: peers, App: true, Data: map[string]string{"main-unit": "synapse/1"}})

	fmt.Println(bag["main-unit"])
	fmt.Println(err)
	fmt.Println(m.Calls())
	// Output:
	// synapse/0
	// relation-set synapse-peers:0: relation-set exited with code 1: ERROR cannot write relation settings
	// map[relation-get:1 relation-set:1]
}
