package juju

import (
	"context"
	"fmt"
	"slices"
)

// ActionGet returns the running action's parameters (action-get
// --format=json). Values are typed as in ConfigGet; nested parameters are
// map[string]any.
func (t *Tools) ActionGet(ctx context.Context) (map[string]any, error) {
	out, err := t.run(ctx, "action-get", []string{"--format=json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("action-get: %w", err)
	}
	params, err := decodeAnyMap(out)
	if err != nil {
		return nil, fmt.Errorf("action-get: %w", err)
	}
	return params, nil
}

// ActionSet adds results to the running action (action-set KEY=VALUE ...).
// A dotted key ("user.name") nests. Keys are lowercase letters, digits and
// hyphens. Juju offers no way but argv to pass results, so a result is
// visible to other processes on the host while the tool runs: hand back a
// secret only when that is the point of the action. Nothing is run when
// results is empty.
func (t *Tools) ActionSet(ctx context.Context, results map[string]string) error {
	if len(results) == 0 {
		return nil
	}
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	args := make([]string, len(keys))
	for i, k := range keys {
		args[i] = k + "=" + results[k]
	}
	if _, err := t.run(ctx, "action-set", args, nil); err != nil {
		return fmt.Errorf("action-set: %w", err)
	}
	return nil
}

// ActionFail marks the running action failed with msg (action-fail -- MSG).
// The charm may still exit 0.
func (t *Tools) ActionFail(ctx context.Context, msg string) error {
	if _, err := t.run(ctx, "action-fail", []string{"--", msg}, nil); err != nil {
		return fmt.Errorf("action-fail: %w", err)
	}
	return nil
}

// ActionLog reports progress of the running action to the user who runs it
// (action-log -- MSG).
func (t *Tools) ActionLog(ctx context.Context, msg string) error {
	if _, err := t.run(ctx, "action-log", []string{"--", msg}, nil); err != nil {
		return fmt.Errorf("action-log: %w", err)
	}
	return nil
}
