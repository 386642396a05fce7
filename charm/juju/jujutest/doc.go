// Package jujutest is an in-memory stand-in for the Juju hook tools, for unit
// tests and benchmarks of code built on package juju.
//
// Memory models one unit's view of its model (config, leadership, relations
// and all their bags, network, secrets, status, logs, actions, ports, charm
// state, goal state). It is a fake of the tool command lines, not of the Go
// API: juju.Tools calls it with exactly the argv and stdin the real tools
// receive, Memory parses them as the tools do and enforces Juju's rules
// (only the leader writes the application bag, unknown relation IDs fail,
// secret keys are validated, and so on). So a test through Memory exercises
// the same code path as production. The relation and secret tools, and the
// command-line parsing, are tests/jujuc's: the one implementation of those
// rules, which the simulator in tests/sim serves as well; Memory is its
// in-process host, applying writes at once.
//
//	m := jujutest.NewMemory("synapse/0")
//	m.SetLeader(true)
//	m.SetConfig(map[string]any{"server_name": "example.com"})
//	db := m.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
//	m.SetRelationData(db, "postgresql-k8s", true, map[string]string{"endpoints": "db:5432"})
//	tools := juju.New(m)
//	// ... run the charm with tools, then assert on m.UnitStatus(), m.RelationData(...), m.Calls()
//
// Memory is safe for concurrent use.
package jujutest
