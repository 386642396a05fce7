package sim_test

import (
	"context"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// A test deploys the charm binary on two units, relates it to a simulated
// PostgreSQL, runs the hooks and looks at the result.
func Example() {
	ctx := context.Background()
	m, err := sim.New(ctx, sim.Options{
		Charm:     "/tmp/build/dispatch", // go build -o /tmp/build/dispatch ./cmd/charm
		CharmRoot: ".",                   // charmcraft.yaml and metadata.yaml
		Workload:  &sim.BedWorkload{},    // real Pebble containers (sim.NoWorkload{} for none)
	})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	var pg sim.PostgresServer // e.g. a *bed.Postgres
	if err := m.ConfigSet(map[string]string{"server_name": "example.com"}); err != nil {
		panic(err)
	}
	if err := m.Deploy(ctx, 2); err != nil {
		panic(err)
	}
	if _, err := m.Integrate(ctx, &sim.PostgreSQL{Server: pg}, "database"); err != nil {
		panic(err)
	}
	if err := m.WaitIdle(ctx); err != nil {
		panic(err) // a *sim.HookError names the hooks that kept failing
	}
	for _, u := range m.Units() {
		fmt.Println(u.Name, u.WorkloadStatus.Status, u.WorkloadStatus.Message)
	}
	fmt.Println(m.Recorder().HookNames("synapse/1"))
}
