package jujutest

import (
	"errors"
	"maps"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// Command lines are parsed by package jujuc, as the simulator's are (Juju's
// gnuflag rules); call is the parsed form Memory's own tools read.

// flags declares a tool's flags: "name", "name=" (takes a value), "a|b=".
func flags(specs ...string) []jujuc.Flag { return jujuc.Flags(specs...) }

// call is one parsed command line.
type call struct {
	fs   *jujuc.FlagSet
	args []string
}

func (c *call) has(name string) bool     { return c.fs.IsSet(name) }
func (c *call) value(name string) string { return c.fs.Str(name) }
func (c *call) bool(name string) bool    { return c.fs.Bool(name) }

// errNotLeader is Juju's ErrIsNotLeader.
var errNotLeader = errors.New("this unit is not the leader")

// settingsFromCall merges --file and key=value arguments, arguments
// winning, as state-set does.
func settingsFromCall(c *call, stdin []byte) (map[string]string, error) {
	overrides, err := jujuc.ParseKeyValues(c.args)
	if err != nil {
		return nil, err
	}
	if !c.has("file") {
		return overrides, nil
	}
	if c.value("file") != "-" {
		return nil, usage("jujutest reads --file from stdin (-) only")
	}
	settings, err := jujuc.ReadSettings(stdin)
	if err != nil {
		return nil, err
	}
	maps.Copy(settings, overrides)
	return settings, nil
}
