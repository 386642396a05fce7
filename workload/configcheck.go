package workload

import (
	"sort"
	"strings"
)

// ConfigCheck is a Synapse process whose configuration is loaded by the
// image's Synapse before the process (re)starts: a configuration Synapse
// rejects then never replaces a running one.
type ConfigCheck struct {
	// Service is the Pebble service of the process.
	Service string
	// ConfigPaths are its --config-path arguments, in order.
	ConfigPaths []string
}

// ConfigChecks lists the Synapse processes of want that ch (re)starts with
// a new definition (new files), with the configuration files each reads:
// nothing when no file changed, so a hook that changes nothing, or only
// starts again what stopped, checks nothing.
func ConfigChecks(want Container, ch Changes) []ConfigCheck {
	var out []ConfigCheck
	for _, name := range ch.Redefined {
		svc, ok := want.Layer.Services[name]
		if !ok || !strings.Contains(svc.Command, "synapse.app.") {
			continue
		}
		out = append(out, ConfigCheck{Service: name, ConfigPaths: configPaths(svc.Command)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// configPaths are the values of a command's --config-path flags.
func configPaths(command string) []string {
	var paths []string
	fields := strings.Fields(command)
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "--config-path" {
			paths = append(paths, fields[i+1])
			i++
		}
	}
	return paths
}
