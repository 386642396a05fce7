package juju

import (
	"context"
	"fmt"
)

// ConfigGet returns the application's configuration: every option that is
// set or has a default (config-get --format=json). Values are typed: bool,
// string, int (an integral number), float64 (any other number). An option
// with neither a value nor a default is absent.
func (t *Tools) ConfigGet(ctx context.Context) (map[string]any, error) {
	out, err := t.run(ctx, "config-get", []string{"--format=json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("config-get: %w", err)
	}
	cfg, err := decodeAnyMap(out)
	if err != nil {
		return nil, fmt.Errorf("config-get: %w", err)
	}
	return cfg, nil
}
