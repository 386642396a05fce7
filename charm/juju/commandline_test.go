package juju_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// TestCommandLines proves the exact argv and stdin of every call.
func TestCommandLines(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		out   string
		call  func(*juju.Tools) error
		tool  string
		args  []string
		stdin string
	}{{
		name: "config-get",
		out:  `{}`,
		call: func(t *juju.Tools) error { _, err := t.ConfigGet(ctx); return err },
		tool: "config-get", args: []string{"--format=json"},
	}, {
		name: "is-leader",
		out:  "true\n",
		call: func(t *juju.Tools) error { _, err := t.IsLeader(ctx); return err },
		tool: "is-leader", args: []string{"--format=json"},
	}, {
		name: "relation-ids",
		out:  `["database:3"]`,
		call: func(t *juju.Tools) error { _, err := t.RelationIDs(ctx, "database"); return err },
		tool: "relation-ids", args: []string{"--format=json", "database"},
	}, {
		name: "relation-list",
		out:  `["postgresql-k8s/0"]`,
		call: func(t *juju.Tools) error { _, err := t.RelationList(ctx, "database:3"); return err },
		tool: "relation-list", args: []string{"--format=json", "-r", "database:3"},
	}, {
		name: "relation-list --app",
		out:  `"postgresql-k8s"`,
		call: func(t *juju.Tools) error { _, err := t.RelationRemoteApp(ctx, "database:3"); return err },
		tool: "relation-list", args: []string{"--format=json", "--app", "-r", "database:3"},
	}, {
		name: "relation-get unit bag",
		out:  `{}`,
		call: func(t *juju.Tools) error {
			_, err := t.RelationGet(ctx, &juju.RelationGetOptions{RelationID: "database:3", Unit: "postgresql-k8s/0"})
			return err
		},
		tool: "relation-get", args: []string{"--format=json", "-r", "database:3", "-", "postgresql-k8s/0"},
	}, {
		name: "relation-get app bag",
		out:  `{}`,
		call: func(t *juju.Tools) error {
			_, err := t.RelationGet(ctx, &juju.RelationGetOptions{RelationID: "database:3", Unit: "postgresql-k8s", App: true})
			return err
		},
		tool: "relation-get", args: []string{"--format=json", "-r", "database:3", "--app", "-", "postgresql-k8s"},
	}, {
		name: "relation-get hook default",
		out:  `{}`,
		call: func(t *juju.Tools) error {
			_, err := t.RelationGet(ctx, &juju.RelationGetOptions{RelationID: "database:3"})
			return err
		},
		tool: "relation-get", args: []string{"--format=json", "-r", "database:3", "-"},
	}, {
		name: "relation-set app",
		call: func(t *juju.Tools) error {
			return t.RelationSet(ctx, &juju.RelationSetOptions{RelationID: "database:3", App: true, Data: map[string]string{"database": "synapse", "extra-user-roles": "SUPERUSER", "gone": ""}})
		},
		tool: "relation-set", args: []string{"-r", "database:3", "--app", "--file", "-"},
		stdin: `{"database":"synapse","extra-user-roles":"SUPERUSER","gone":""}` + "\n",
	}, {
		name: "relation-set unit, no HTML escaping",
		call: func(t *juju.Tools) error {
			return t.RelationSet(ctx, &juju.RelationSetOptions{RelationID: "synapse-peers:0", Data: map[string]string{"url": "http://a/?x=1&y=<2>"}})
		},
		tool: "relation-set", args: []string{"-r", "synapse-peers:0", "--file", "-"},
		stdin: `{"url":"http://a/?x=1&y=<2>"}` + "\n",
	}, {
		name: "network-get",
		out:  `{}`,
		call: func(t *juju.Tools) error { _, err := t.NetworkGet(ctx, "synapse-peers"); return err },
		tool: "network-get", args: []string{"--format=json", "synapse-peers"},
	}, {
		name: "status-set unit",
		call: func(t *juju.Tools) error {
			return t.StatusSet(ctx, &juju.StatusOptions{Status: juju.Waiting, Message: "-waiting for database"})
		},
		tool: "status-set", args: []string{"--application=false", "waiting", "--", "-waiting for database"},
	}, {
		name: "status-set application",
		call: func(t *juju.Tools) error {
			return t.StatusSet(ctx, &juju.StatusOptions{Application: true, Status: juju.Active})
		},
		tool: "status-set", args: []string{"--application=true", "active", "--", ""},
	}, {
		name: "status-get",
		out:  `{"status":"active","message":"","status-data":{}}`,
		call: func(t *juju.Tools) error { _, _, err := t.StatusGet(ctx, false); return err },
		tool: "status-get", args: []string{"--include-data", "--format=json", "--application=false"},
	}, {
		name: "application-version-set",
		call: func(t *juju.Tools) error { return t.ApplicationVersionSet(ctx, "1.160.0") },
		tool: "application-version-set", args: []string{"--", "1.160.0"},
	}, {
		name: "juju-log",
		call: func(t *juju.Tools) error { return t.Log(ctx, "DEBUG", "-x") },
		tool: "juju-log", args: []string{"--log-level", "DEBUG", "--", "-x"},
	}, {
		name: "juju-log default level",
		call: func(t *juju.Tools) error { return t.Log(ctx, "", "hello") },
		tool: "juju-log", args: []string{"--log-level", "INFO", "--", "hello"},
	}, {
		name: "action-get",
		out:  `{}`,
		call: func(t *juju.Tools) error { _, err := t.ActionGet(ctx); return err },
		tool: "action-get", args: []string{"--format=json"},
	}, {
		name: "action-set sorted",
		call: func(t *juju.Tools) error {
			return t.ActionSet(ctx, map[string]string{"user-id": "@a:x", "access-token": "t"})
		},
		tool: "action-set", args: []string{"access-token=t", "user-id=@a:x"},
	}, {
		name: "action-fail",
		call: func(t *juju.Tools) error { return t.ActionFail(ctx, "no such user") },
		tool: "action-fail", args: []string{"--", "no such user"},
	}, {
		name: "action-log",
		call: func(t *juju.Tools) error { return t.ActionLog(ctx, "registering") },
		tool: "action-log", args: []string{"--", "registering"},
	}, {
		name: "secret-get by label",
		out:  `{}`,
		call: func(t *juju.Tools) error {
			_, err := t.SecretGet(ctx, &juju.SecretGetOptions{Label: "synapse-keys"})
			return err
		},
		tool: "secret-get", args: []string{"--format=json", "--label", "synapse-keys"},
	}, {
		name: "secret-get by id, refresh",
		out:  `{}`,
		call: func(t *juju.Tools) error {
			_, err := t.SecretGet(ctx, &juju.SecretGetOptions{ID: "secret:abc", Label: "s3", Refresh: true})
			return err
		},
		tool: "secret-get", args: []string{"--format=json", "secret:abc", "--label", "s3", "--refresh"},
	}, {
		name: "secret-get peek",
		out:  `{}`,
		call: func(t *juju.Tools) error {
			_, err := t.SecretGet(ctx, &juju.SecretGetOptions{ID: "secret:abc", Peek: true})
			return err
		},
		tool: "secret-get", args: []string{"--format=json", "secret:abc", "--peek"},
	}, {
		name: "secret-set metadata only",
		call: func(t *juju.Tools) error {
			return t.SecretSet(ctx, &juju.SecretSetOptions{ID: "secret:abc", Label: "new", Description: "d"})
		},
		tool: "secret-set", args: []string{"--label", "new", "--description", "d", "secret:abc"},
	}, {
		name: "secret-grant",
		call: func(t *juju.Tools) error { return t.SecretGrant(ctx, "secret:abc", "database:3", "") },
		tool: "secret-grant", args: []string{"secret:abc", "-r", "database:3"},
	}, {
		name: "secret-grant unit",
		call: func(t *juju.Tools) error { return t.SecretGrant(ctx, "secret:abc", "database:3", "postgresql-k8s/0") },
		tool: "secret-grant", args: []string{"secret:abc", "-r", "database:3", "--unit", "postgresql-k8s/0"},
	}, {
		name: "secret-revoke",
		call: func(t *juju.Tools) error { return t.SecretRevoke(ctx, "secret:abc", "database:3", "") },
		tool: "secret-revoke", args: []string{"secret:abc", "-r", "database:3"},
	}, {
		name: "secret-remove",
		call: func(t *juju.Tools) error { return t.SecretRemove(ctx, "secret:abc") },
		tool: "secret-remove", args: []string{"secret:abc"},
	}, {
		name: "secret-ids",
		out:  `null`,
		call: func(t *juju.Tools) error { _, err := t.SecretIDs(ctx); return err },
		tool: "secret-ids", args: []string{"--format=json"},
	}, {
		name: "goal-state",
		out:  `{}`,
		call: func(t *juju.Tools) error { _, err := t.GoalState(ctx); return err },
		tool: "goal-state", args: []string{"--format=json"},
	}, {
		name: "open-port",
		call: func(t *juju.Tools) error { return t.OpenPort(ctx, 8080, "tcp") },
		tool: "open-port", args: []string{"8080/tcp"},
	}, {
		name: "open-port default protocol",
		call: func(t *juju.Tools) error { return t.OpenPort(ctx, 8080, "") },
		tool: "open-port", args: []string{"8080"},
	}, {
		name: "close-port icmp",
		call: func(t *juju.Tools) error { return t.ClosePort(ctx, 0, "icmp") },
		tool: "close-port", args: []string{"icmp"},
	}, {
		name: "opened-ports",
		out:  `["8080/tcp"]`,
		call: func(t *juju.Tools) error { _, err := t.OpenedPorts(ctx); return err },
		tool: "opened-ports", args: []string{"--format=json"},
	}, {
		name: "state-get",
		out:  "null\n",
		call: func(t *juju.Tools) error { _, err := t.StateGet(ctx); return err },
		tool: "state-get", args: []string{"--format=json"},
	}, {
		name: "state-set",
		call: func(t *juju.Tools) error {
			return t.StateSet(ctx, map[string]string{"plan-generation": "7", "a": "b"})
		},
		tool: "state-set", args: []string{"--file", "-"},
		stdin: `{"a":"b","plan-generation":"7"}` + "\n",
	}, {
		name: "state-delete",
		call: func(t *juju.Tools) error { return t.StateDelete(ctx, "plan-generation") },
		tool: "state-delete", args: []string{"plan-generation"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			rec.out[tt.tool] = tt.out
			require.NoError(t, tt.call(juju.New(rec)))
			require.Len(t, rec.calls, 1)
			got := rec.last()
			assert.Equal(t, tt.tool, got.tool)
			assert.Equal(t, tt.args, got.args)
			assert.Equal(t, tt.stdin, got.stdin)
		})
	}
}

// TestEmptyWritesRunNothing: an empty write costs no tool call.
func TestEmptyWritesRunNothing(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	tools := juju.New(rec)
	require.NoError(t, tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: "database:3"}))
	require.NoError(t, tools.StateSet(ctx, nil))
	require.NoError(t, tools.ActionSet(ctx, map[string]string{}))
	assert.Empty(t, rec.calls)
}
