package charm

import (
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
)

// maxLogLine bounds a line the charm logs and a message it gives a hook
// tool (juju-log, action-fail): far below Linux's 128 KiB per argument,
// past which the tool cannot even start (E2BIG) and the hook fails for
// good. Values from outside are cut shorter where they are quoted.
const maxLogLine = 4096

// maxQuoted bounds a value from outside (a bag, an action parameter)
// quoted into a message.
const maxQuoted = 200

// cut shortens a value from outside for quoting in a message.
func cut(s string) string { return decide.Truncate(s, maxQuoted) }
