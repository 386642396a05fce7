package juju

import (
	"context"
	"encoding/json"
	"fmt"
)

// RelationIDs returns the relations on endpoint, each as "endpoint:id"
// (relation-ids --format=json ENDPOINT).
func (t *Tools) RelationIDs(ctx context.Context, endpoint string) ([]string, error) {
	out, err := t.run(ctx, "relation-ids", []string{"--format=json", endpoint}, nil)
	if err != nil {
		return nil, fmt.Errorf("relation-ids %s: %w", endpoint, err)
	}
	ids, err := decodeStringList(out)
	if err != nil {
		return nil, fmt.Errorf("relation-ids %s: %w", endpoint, err)
	}
	return ids, nil
}

// RelationList returns the remote units in a relation, e.g.
// ["postgresql-k8s/0"] (relation-list --format=json -r ID). On a peer
// relation these are the other units of this application.
func (t *Tools) RelationList(ctx context.Context, relationID string) ([]string, error) {
	out, err := t.run(ctx, "relation-list", []string{"--format=json", "-r", relationID}, nil)
	if err != nil {
		return nil, fmt.Errorf("relation-list %s: %w", relationID, err)
	}
	units, err := decodeStringList(out)
	if err != nil {
		return nil, fmt.Errorf("relation-list %s: %w", relationID, err)
	}
	return units, nil
}

// RelationRemoteApp returns the remote application of a relation
// (relation-list --format=json --app -r ID).
func (t *Tools) RelationRemoteApp(ctx context.Context, relationID string) (string, error) {
	out, err := t.run(ctx, "relation-list", []string{"--format=json", "--app", "-r", relationID}, nil)
	if err != nil {
		return "", fmt.Errorf("relation-list --app %s: %w", relationID, err)
	}
	if isNull(out) {
		return "", nil
	}
	var app string
	if err := json.Unmarshal(out, &app); err != nil {
		return "", fmt.Errorf("relation-list --app %s: decode: %w", relationID, err)
	}
	return app, nil
}

// RelationGetOptions selects one databag of a relation.
type RelationGetOptions struct {
	// RelationID is the relation as "endpoint:id" (or a bare id). Required.
	RelationID string
	// Unit is the unit or application whose bag to read, e.g. "synapse/1",
	// "postgresql-k8s/0" or, with App, "postgresql-k8s". Empty means the
	// remote unit (or, with App, the remote application) of the current
	// relation hook.
	Unit string
	// App reads the application bag rather than a unit bag. Reading one's
	// own application bag needs leadership, except on a peer relation.
	App bool
}

// RelationGet returns a whole relation bag (relation-get --format=json -r ID
// [--app] - NAME). Values are strings; a bag nobody wrote is empty, not an
// error.
func (t *Tools) RelationGet(ctx context.Context, opts *RelationGetOptions) (map[string]string, error) {
	args := make([]string, 0, 6)
	args = append(args, "--format=json", "-r", opts.RelationID)
	if opts.App {
		args = append(args, "--app")
	}
	args = append(args, "-")
	if opts.Unit != "" {
		args = append(args, opts.Unit)
	}
	out, err := t.run(ctx, "relation-get", args, nil)
	if err != nil {
		return nil, fmt.Errorf("relation-get %s: %w", opts.bagName(), err)
	}
	bag, err := decodeStringMap(out)
	if err != nil {
		return nil, fmt.Errorf("relation-get %s: %w", opts.bagName(), err)
	}
	return bag, nil
}

// bagName names the bag for an error message: "database:3 postgresql-k8s/0".
func (o *RelationGetOptions) bagName() string {
	if o.Unit == "" {
		return o.RelationID
	}
	return o.RelationID + " " + o.Unit
}

// RelationSetOptions is a write to this unit's or this application's bag.
type RelationSetOptions struct {
	// RelationID is the relation as "endpoint:id" (or a bare id). Required.
	RelationID string
	// App writes the application bag instead of this unit's. Only the
	// leader may.
	App bool
	// Data holds the keys to set; keys not named keep their values, and a
	// key whose value is "" is deleted.
	Data map[string]string
}

// RelationSet updates this unit's (or, with App, this application's) bag in a
// relation. The data goes as JSON on stdin (relation-set -r ID [--app]
// --file -), never as argv. Nothing is run when Data is empty. Like every
// relation change, it is committed only if the hook exits 0.
func (t *Tools) RelationSet(ctx context.Context, opts *RelationSetOptions) error {
	if len(opts.Data) == 0 {
		return nil
	}
	stdin, err := encodeStringMap(opts.Data)
	if err != nil {
		return fmt.Errorf("relation-set %s: %w", opts.RelationID, err)
	}
	args := make([]string, 0, 5)
	args = append(args, "-r", opts.RelationID)
	if opts.App {
		args = append(args, "--app")
	}
	args = append(args, "--file", "-")
	if _, err := t.run(ctx, "relation-set", args, stdin); err != nil {
		return fmt.Errorf("relation-set %s: %w", opts.RelationID, err)
	}
	return nil
}
