package juju

import (
	"context"
	"encoding/json"
	"fmt"
)

// StatusName is a workload status as juju status shows it.
type StatusName string

// The statuses a charm may set, and the others status-get may report.
const (
	// Active: the unit (or application) is ready and doing its job.
	Active StatusName = "active"
	// Blocked: an operator must act (a missing relation, bad config).
	Blocked StatusName = "blocked"
	// Waiting: the charm waits for something outside it (another unit, a
	// related application) and needs no operator.
	Waiting StatusName = "waiting"
	// Maintenance: the charm is busy (installing, restarting, migrating).
	Maintenance StatusName = "maintenance"
	// Unknown: nothing has been set yet. status-get only.
	Unknown StatusName = "unknown"
	// Error: a hook failed. status-get only; status-set rejects it.
	Error StatusName = "error"
)

// StatusOptions is a status to set.
type StatusOptions struct {
	// Application sets the application's status instead of this unit's.
	// Only the leader may.
	Application bool
	// Status is one of Active, Blocked, Waiting or Maintenance.
	Status StatusName
	// Message is shown beside the status in juju status; write it for the
	// operator. It may be empty, and it may start with "-".
	Message string
}

// StatusSet sets this unit's (or the application's) workload status
// (status-set --application=BOOL STATUS -- MESSAGE). It takes effect at once,
// even if the hook later fails.
func (t *Tools) StatusSet(ctx context.Context, opts *StatusOptions) error {
	app := "--application=false"
	if opts.Application {
		app = "--application=true"
	}
	if _, err := t.run(ctx, "status-set", []string{app, string(opts.Status), "--", opts.Message}, nil); err != nil {
		return fmt.Errorf("status-set %s: %w", opts.Status, err)
	}
	return nil
}

// statusDetails is status-get's JSON for one entity.
type statusDetails struct {
	Status  StatusName `json:"status"`
	Message string     `json:"message"`
}

// StatusGet returns this unit's (or, for the leader, the application's)
// workload status and message (status-get --include-data --format=json
// --application=BOOL).
func (t *Tools) StatusGet(ctx context.Context, application bool) (StatusName, string, error) {
	app := "--application=false"
	if application {
		app = "--application=true"
	}
	out, err := t.run(ctx, "status-get", []string{"--include-data", "--format=json", app}, nil)
	if err != nil {
		return "", "", fmt.Errorf("status-get: %w", err)
	}
	var d statusDetails
	if application {
		var wrapped struct {
			ApplicationStatus statusDetails `json:"application-status"`
		}
		err = json.Unmarshal(out, &wrapped)
		d = wrapped.ApplicationStatus
	} else {
		err = json.Unmarshal(out, &d)
	}
	if err != nil {
		return "", "", fmt.Errorf("status-get: decode: %w", err)
	}
	return d.Status, d.Message, nil
}

// ApplicationVersionSet sets the workload version juju status shows, e.g.
// "1.160.0" (application-version-set -- VERSION).
func (t *Tools) ApplicationVersionSet(ctx context.Context, version string) error {
	if _, err := t.run(ctx, "application-version-set", []string{"--", version}, nil); err != nil {
		return fmt.Errorf("application-version-set: %w", err)
	}
	return nil
}

// Log writes msg to the unit's log in Juju (juju-log --log-level LEVEL --
// MSG). level is one of TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL; empty
// means INFO. Never log secret values.
func (t *Tools) Log(ctx context.Context, level string, msg string) error {
	if level == "" {
		level = "INFO"
	}
	if _, err := t.run(ctx, "juju-log", []string{"--log-level", level, "--", msg}, nil); err != nil {
		return fmt.Errorf("juju-log: %w", err)
	}
	return nil
}
