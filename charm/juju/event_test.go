package juju_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// env is a base environment as Juju gives it, plus overrides.
func env(over map[string]string) func(string) string {
	base := map[string]string{
		"JUJU_UNIT_NAME":  "synapse/2",
		"JUJU_MODEL_NAME": "matrix",
		"JUJU_MODEL_UUID": "7c5a7c0e-0000-4000-8000-000000000001",
		"JUJU_VERSION":    "3.6.25",
		"JUJU_CHARM_DIR":  "/var/lib/juju/agents/unit-synapse-2/charm",
	}
	for k, v := range over {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

func TestEventFromEnv(t *testing.T) {
	common := juju.Event{
		Unit: "synapse/2", App: "synapse", UnitNumber: 2,
		Model: "matrix", ModelUUID: "7c5a7c0e-0000-4000-8000-000000000001",
		JujuVersion: "3.6.25", CharmDir: "/var/lib/juju/agents/unit-synapse-2/charm",
	}
	with := func(f func(*juju.Event)) juju.Event {
		e := common
		f(&e)
		return e
	}
	tests := []struct {
		name string
		env  map[string]string
		want juju.Event
		kind string
	}{{
		name: "config-changed",
		env:  map[string]string{"JUJU_DISPATCH_PATH": "hooks/config-changed", "JUJU_HOOK_NAME": "config-changed"},
		want: with(func(e *juju.Event) { e.Name = "config-changed" }),
		kind: "config-changed",
	}, {
		name: "action",
		env:  map[string]string{"JUJU_DISPATCH_PATH": "actions/register-user", "JUJU_ACTION_NAME": "register-user", "JUJU_ACTION_UUID": "42"},
		want: with(func(e *juju.Event) { e.Name, e.IsAction, e.ActionUUID = "register-user", true, "42" }),
		kind: "register-user",
	}, {
		name: "relation-changed",
		env: map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/database-relation-changed",
			"JUJU_RELATION":      "database", "JUJU_RELATION_ID": "database:3",
			"JUJU_REMOTE_UNIT": "postgresql-k8s/0", "JUJU_REMOTE_APP": "postgresql-k8s",
		},
		want: with(func(e *juju.Event) {
			e.Name, e.RelationName, e.RelationID = "database-relation-changed", "database", "database:3"
			e.RemoteUnit, e.RemoteApp = "postgresql-k8s/0", "postgresql-k8s"
		}),
		kind: "relation-changed",
	}, {
		name: "peer relation-departed",
		env: map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/synapse-peers-relation-departed",
			"JUJU_RELATION":      "synapse-peers", "JUJU_RELATION_ID": "synapse-peers:0",
			"JUJU_REMOTE_UNIT": "synapse/1", "JUJU_REMOTE_APP": "synapse", "JUJU_DEPARTING_UNIT": "synapse/1",
		},
		want: with(func(e *juju.Event) {
			e.Name, e.RelationName, e.RelationID = "synapse-peers-relation-departed", "synapse-peers", "synapse-peers:0"
			e.RemoteUnit, e.RemoteApp, e.DepartingUnit = "synapse/1", "synapse", "synapse/1"
		}),
		kind: "relation-departed",
	}, {
		name: "pebble-ready",
		env:  map[string]string{"JUJU_DISPATCH_PATH": "hooks/synapse-pebble-ready", "JUJU_WORKLOAD_NAME": "synapse"},
		want: with(func(e *juju.Event) { e.Name, e.WorkloadName = "synapse-pebble-ready", "synapse" }),
		kind: "pebble-ready",
	}, {
		name: "pebble-ready of a hyphenated container",
		env:  map[string]string{"JUJU_DISPATCH_PATH": "hooks/synapse-nginx-pebble-ready", "JUJU_WORKLOAD_NAME": "synapse-nginx"},
		want: with(func(e *juju.Event) { e.Name, e.WorkloadName = "synapse-nginx-pebble-ready", "synapse-nginx" }),
		kind: "pebble-ready",
	}, {
		name: "check-failed",
		env:  map[string]string{"JUJU_DISPATCH_PATH": "hooks/synapse-pebble-check-failed", "JUJU_WORKLOAD_NAME": "synapse", "JUJU_PEBBLE_CHECK_NAME": "synapse-ready"},
		want: with(func(e *juju.Event) {
			e.Name, e.WorkloadName, e.CheckName = "synapse-pebble-check-failed", "synapse", "synapse-ready"
		}),
		kind: "pebble-check-failed",
	}, {
		name: "custom notice",
		env: map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/synapse-pebble-custom-notice", "JUJU_WORKLOAD_NAME": "synapse",
			"JUJU_NOTICE_ID": "17", "JUJU_NOTICE_TYPE": "custom", "JUJU_NOTICE_KEY": "example.com/synapse/restart",
		},
		want: with(func(e *juju.Event) {
			e.Name, e.WorkloadName = "synapse-pebble-custom-notice", "synapse"
			e.NoticeID, e.NoticeType, e.NoticeKey = "17", "custom", "example.com/synapse/restart"
		}),
		kind: "pebble-custom-notice",
	}, {
		name: "secret-changed",
		env: map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/secret-changed",
			"JUJU_SECRET_ID":     "secret:cs9k", "JUJU_SECRET_LABEL": "media", "JUJU_SECRET_REVISION": "3",
		},
		want: with(func(e *juju.Event) {
			e.Name, e.SecretID, e.SecretLabel, e.SecretRevision = "secret-changed", "secret:cs9k", "media", 3
		}),
		kind: "secret-changed",
	}, {
		name: "storage-attached and legacy CHARM_DIR",
		env: map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/data-storage-attached", "JUJU_STORAGE_ID": "data/2",
			"JUJU_STORAGE_LOCATION": "/data", "JUJU_CHARM_DIR": "", "CHARM_DIR": "/charm",
		},
		want: with(func(e *juju.Event) {
			e.Name, e.StorageID, e.StorageLocation, e.CharmDir = "data-storage-attached", "data/2", "/data", "/charm"
		}),
		kind: "storage-attached",
	}, {
		name: "a name that only ends like a kind",
		env:  map[string]string{"JUJU_DISPATCH_PATH": "hooks/pebble-ready"},
		want: with(func(e *juju.Event) { e.Name = "pebble-ready" }),
		kind: "pebble-ready",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := juju.EventFromEnv(env(tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.want, e)
			assert.Equal(t, tt.kind, e.Kind())
		})
	}
}

func TestEventFromEnvErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"no dispatch path":      {"JUJU_DISPATCH_PATH": ""},
		"no prefix":             {"JUJU_DISPATCH_PATH": "config-changed"},
		"unknown prefix":        {"JUJU_DISPATCH_PATH": "scripts/x"},
		"empty name":            {"JUJU_DISPATCH_PATH": "hooks/"},
		"nested":                {"JUJU_DISPATCH_PATH": "hooks/a/b"},
		"no unit":               {"JUJU_DISPATCH_PATH": "hooks/install", "JUJU_UNIT_NAME": ""},
		"unit without number":   {"JUJU_DISPATCH_PATH": "hooks/install", "JUJU_UNIT_NAME": "synapse"},
		"unit with bad number":  {"JUJU_DISPATCH_PATH": "hooks/install", "JUJU_UNIT_NAME": "synapse/x"},
		"unit with padded num":  {"JUJU_DISPATCH_PATH": "hooks/install", "JUJU_UNIT_NAME": "synapse/01"},
		"bad secret revision":   {"JUJU_DISPATCH_PATH": "hooks/secret-changed", "JUJU_SECRET_REVISION": "three"},
		"negative secret rev.":  {"JUJU_DISPATCH_PATH": "hooks/secret-changed", "JUJU_SECRET_REVISION": "-1"},
		"app without unit name": {"JUJU_DISPATCH_PATH": "hooks/install", "JUJU_UNIT_NAME": "/0"},
	}
	for name, over := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := juju.EventFromEnv(env(over))
			assert.Error(t, err)
		})
	}
}
