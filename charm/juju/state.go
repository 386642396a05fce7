package juju

import (
	"context"
	"fmt"
)

// StateGet returns all of this unit's charm state, kept by Juju between
// hooks (state-get --format=json). Empty state is an empty map (Juju prints
// null for it).
func (t *Tools) StateGet(ctx context.Context) (map[string]string, error) {
	out, err := t.run(ctx, "state-get", []string{"--format=json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("state-get: %w", err)
	}
	state, err := decodeStringMap(out)
	if err != nil {
		return nil, fmt.Errorf("state-get: %w", err)
	}
	return state, nil
}

// StateSet sets keys of this unit's charm state, leaving others alone
// (state-set --file - with JSON on stdin). Nothing is run when data is empty.
// Committed only if the hook exits 0.
func (t *Tools) StateSet(ctx context.Context, data map[string]string) error {
	if len(data) == 0 {
		return nil
	}
	stdin, err := encodeStringMap(data)
	if err != nil {
		return fmt.Errorf("state-set: %w", err)
	}
	if _, err := t.run(ctx, "state-set", []string{"--file", "-"}, stdin); err != nil {
		return fmt.Errorf("state-set: %w", err)
	}
	return nil
}

// StateDelete removes one key of this unit's charm state (state-delete KEY).
func (t *Tools) StateDelete(ctx context.Context, key string) error {
	if _, err := t.run(ctx, "state-delete", []string{key}, nil); err != nil {
		return fmt.Errorf("state-delete %s: %w", key, err)
	}
	return nil
}
