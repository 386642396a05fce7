// Package jujuc is the one implementation, for tests, of the Juju 3.6 hook
// tools that carry Juju's rules: relation-ids, relation-list, relation-get,
// relation-set, relation-model-get and the secret-* tools. It parses their
// command lines as Juju's jujuc commands do (gnuflag), formats their output
// as cmd.Output does, and enforces who may read or write which relation bag
// and who may create, read, change, grant or remove which secret.
//
// It holds no unit agent: a Host (the simulator in tests/sim, or the
// in-process charm/juju/jujutest.Memory) supplies the model it answers
// from, and decides when a change takes effect: Memory applies writes at
// once, the simulator buffers them until the hook exits 0. Both therefore
// follow the same rules, and a rule changes in one place.
package jujuc
