package juju

import (
	"context"
	"encoding/json"
	"fmt"
)

// GoalState is what Juju intends for this application: its units and, per
// endpoint, the related applications and units (goal-state --format=json).
type GoalState struct {
	// Units are this application's units, by name.
	Units map[string]GoalUnit `json:"units"`
	// Relations maps an endpoint to its related applications and units, by
	// name (both "postgresql-k8s" and "postgresql-k8s/0" appear).
	Relations map[string]map[string]GoalUnit `json:"relations"`
}

// GoalUnit is the goal status of one unit or application.
type GoalUnit struct {
	// Status is e.g. "active", "waiting", "joining", "joined" or "dying".
	Status string `json:"status"`
	// Since is when the status was reached, as Juju formats it.
	Since string `json:"since,omitempty"`
}

// GoalState returns the application's goal state (goal-state
// --format=json). Maps are never nil.
func (t *Tools) GoalState(ctx context.Context) (*GoalState, error) {
	out, err := t.run(ctx, "goal-state", []string{"--format=json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("goal-state: %w", err)
	}
	gs := &GoalState{}
	if !isNull(out) {
		if err := json.Unmarshal(out, gs); err != nil {
			return nil, fmt.Errorf("goal-state: decode: %w", err)
		}
	}
	if gs.Units == nil {
		gs.Units = map[string]GoalUnit{}
	}
	if gs.Relations == nil {
		gs.Relations = map[string]map[string]GoalUnit{}
	}
	return gs, nil
}
