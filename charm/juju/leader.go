package juju

import (
	"bytes"
	"context"
	"fmt"
)

// IsLeader reports whether this unit is the application's leader
// (is-leader --format=json). Juju guarantees the answer for 30 seconds.
func (t *Tools) IsLeader(ctx context.Context) (bool, error) {
	out, err := t.run(ctx, "is-leader", []string{"--format=json"}, nil)
	if err != nil {
		return false, fmt.Errorf("is-leader: %w", err)
	}
	switch string(bytes.TrimSpace(out)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("is-leader: unexpected output %q", bytes.TrimSpace(out))
}
