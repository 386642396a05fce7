package juju_test

import (
	"context"
	"fmt"
	"os"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

// A charm's first lines: the event from the environment, the tools, one
// switch. In production the runner is juju.ExecRunner{} and getenv is
// os.Getenv; here an in-memory model stands in.
func Example() {
	getenv := func(k string) string {
		return map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/database-relation-changed",
			"JUJU_UNIT_NAME":     "synapse/0",
			"JUJU_RELATION_ID":   "database:0",
			"JUJU_REMOTE_APP":    "postgresql-k8s",
		}[k]
	}
	m := jujutest.NewMemory("synapse/0")
	db := m.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	m.SetRelationData(db, "postgresql-k8s", true, map[string]string{"endpoints": "pg-0:5432"})

	event, err := juju.EventFromEnv(getenv) // os.Getenv
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctx := context.Background()
	tools := juju.New(m) // juju.New(juju.ExecRunner{})

	switch event.Kind() {
	case "relation-changed":
		bag, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: event.RelationID, Unit: event.RemoteApp, App: true})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("database at", bag["endpoints"])
	}
	_ = tools.StatusSet(ctx, &juju.StatusOptions{Status: juju.Active})
	fmt.Println(m.UnitStatus().Status)
	// Output:
	// database at pg-0:5432
	// active
}

func ExampleEvent_Kind() {
	for _, name := range []string{"synapse-pebble-ready", "synapse-peers-relation-departed", "config-changed"} {
		fmt.Println(juju.Event{Name: name}.Kind())
	}
	// Output:
	// pebble-ready
	// relation-departed
	// config-changed
}

// The leader publishes to the peer application bag: the data goes as JSON on
// stdin, never in argv.
func ExampleTools_RelationSet() {
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	peers := m.AddRelation("synapse-peers", "synapse", "synapse/1")
	tools := juju.New(m)

	err := tools.RelationSet(context.Background(), &juju.RelationSetOptions{
		RelationID: peers,
		App:        true,
		Data:       map[string]string{"main-unit": "synapse/0", "plan": `{"generation":1}`},
	})
	fmt.Println(err, m.Argv()[0])
	fmt.Println(m.RelationData(peers, "synapse", true)["plan"])
	// Output:
	// <nil> [relation-set -r synapse-peers:0 --app --file -]
	// {"generation":1}
}

// Find the application's secret by label; create it on first use.
func ExampleTools_SecretGet() {
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	tools := juju.New(m)
	ctx := context.Background()

	keys, err := tools.SecretGet(ctx, &juju.SecretGetOptions{Label: "synapse-keys"})
	if juju.IsNotFound(err) {
		_, err = tools.SecretAdd(ctx, &juju.SecretAddOptions{
			Content: map[string]string{"macaroon": "generated-value"},
			Label:   "synapse-keys",
		})
		if err == nil {
			keys, err = tools.SecretGet(ctx, &juju.SecretGetOptions{Label: "synapse-keys"})
		}
	}
	fmt.Println(len(keys["macaroon"]), err)
	// Output:
	// 15 <nil>
}
