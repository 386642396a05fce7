package juju_test

// Fuzz targets for what Juju hands the charm: the dispatch environment and
// the output of the hook tools (config-get and action-get, which carry the
// operator's configuration and action parameters, relation-get and
// secret-get, which carry the relation bags and credentials). Run one with:
//
//	go test -run XXX -fuzz FuzzEventFromEnv -fuzztime 30s ./charm/juju/
//
// Plain `go test` runs the f.Add seeds and every file under
// testdata/fuzz/<target>/.

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
)

// fuzzKindSuffixes mirrors the hook kinds Event.Kind knows.
var fuzzKindSuffixes = []string{
	"relation-created", "relation-joined", "relation-changed", "relation-departed", "relation-broken",
	"pebble-ready", "pebble-custom-notice", "pebble-check-failed", "pebble-check-recovered",
	"storage-attached", "storage-detaching",
}

// FuzzEventFromEnv: EventFromEnv never panics; an error names the variable
// at fault; an accepted event is consistent with its environment.
func FuzzEventFromEnv(f *testing.F) {
	f.Add("hooks/config-changed", "synapse/2", "", "", "", "", "/var/lib/juju/agents/unit-synapse-2/charm", "")
	f.Add("actions/register-user", "synapse/0", "", "", "", "", "", "/legacy/charm")
	f.Add("hooks/database-relation-changed", "synapse/10", "database", "database:3", "postgresql-k8s/0", "", "/c", "")
	f.Add("hooks/synapse-peers-relation-departed", "synapse/1", "synapse-peers", "synapse-peers:0", "synapse/2", "", "/c", "")
	f.Add("hooks/secret-changed", "synapse/0", "", "", "", "3", "/c", "")
	f.Add("hooks/synapse-pebble-ready", "synapse/0", "", "", "", "", "/c", "")
	f.Add("hooks/data-storage-attached", "synapse/0", "", "", "", "", "/c", "")
	// Known-bad environments.
	f.Add("", "synapse/0", "", "", "", "", "", "")
	f.Add("hooks/", "synapse/0", "", "", "", "", "", "")
	f.Add("hooks/a/b", "synapse/0", "", "", "", "", "", "")
	f.Add("install", "synapse/0", "", "", "", "", "", "")
	f.Add("events/install", "synapse/0", "", "", "", "", "", "")
	f.Add("hooks/install", "", "", "", "", "", "", "")
	f.Add("hooks/install", "synapse", "", "", "", "", "", "")
	f.Add("hooks/install", "/0", "", "", "", "", "", "")
	f.Add("hooks/install", "synapse/-1", "", "", "", "", "", "")
	f.Add("hooks/install", "synapse/01", "", "", "", "", "", "")
	f.Add("hooks/install", "synapse/+1", "", "", "", "", "", "")
	f.Add("hooks/install", "synapse/99999999999999999999", "", "", "", "", "", "")
	f.Add("hooks/secret-rotate", "synapse/0", "", "", "", "-1", "", "")
	f.Add("hooks/secret-rotate", "synapse/0", "", "", "", "three", "", "")
	f.Add("hooks/-relation-changed", "synapse/0", "", "", "", "", "", "")

	f.Fuzz(func(t *testing.T, dispatch, unit, relation, relationID, remoteUnit, secretRevision, charmDir, legacyCharmDir string) {
		env := map[string]string{
			"JUJU_DISPATCH_PATH":   dispatch,
			"JUJU_UNIT_NAME":       unit,
			"JUJU_RELATION":        relation,
			"JUJU_RELATION_ID":     relationID,
			"JUJU_REMOTE_UNIT":     remoteUnit,
			"JUJU_SECRET_REVISION": secretRevision,
			"JUJU_CHARM_DIR":       charmDir,
			"CHARM_DIR":            legacyCharmDir,
			"JUJU_MODEL_NAME":      "matrix",
		}
		e, err := juju.EventFromEnv(func(k string) string { return env[k] })
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "JUJU_DISPATCH_PATH") && !strings.Contains(msg, "JUJU_UNIT_NAME") && !strings.Contains(msg, "JUJU_SECRET_REVISION") {
				t.Errorf("error %q names no variable", msg)
			}
			return
		}
		kind, name, _ := strings.Cut(dispatch, "/")
		if e.Name != name || e.Name == "" || strings.Contains(e.Name, "/") {
			t.Errorf("JUJU_DISPATCH_PATH %q gave name %q", dispatch, e.Name)
		}
		if e.IsAction != (kind == "actions") || kind != "actions" && kind != "hooks" {
			t.Errorf("JUJU_DISPATCH_PATH %q gave IsAction %v", dispatch, e.IsAction)
		}
		if e.Unit != unit || e.App == "" || e.UnitNumber < 0 || e.App+"/"+strconv.Itoa(e.UnitNumber) != unit {
			t.Errorf("JUJU_UNIT_NAME %q gave unit %q, app %q, number %d", unit, e.Unit, e.App, e.UnitNumber)
		}
		if n, _ := strconv.Atoi(secretRevision); e.SecretRevision < 0 || e.SecretRevision != n {
			t.Errorf("JUJU_SECRET_REVISION %q gave %d", secretRevision, e.SecretRevision)
		}
		wantDir := charmDir
		if wantDir == "" {
			wantDir = legacyCharmDir
		}
		if e.CharmDir != wantDir || e.RelationName != relation || e.RelationID != relationID || e.RemoteUnit != remoteUnit || e.Model != "matrix" {
			t.Errorf("environment %v read as %+v", env, e)
		}
		k := e.Kind()
		switch {
		case e.IsAction && k != e.Name:
			t.Errorf("action %q has kind %q", e.Name, k)
		case k == e.Name:
		case !slices.Contains(fuzzKindSuffixes, k) || !strings.HasSuffix(e.Name, "-"+k) || len(e.Name) <= len(k)+1:
			t.Errorf("hook %q has kind %q", e.Name, k)
		}
	})
}

// fuzzTools answers every hook tool with the same output.
type fuzzTools []byte

func (o fuzzTools) Run(context.Context, string, []string, []byte) ([]byte, error) {
	return o, nil
}

// checkTyped: config-get and action-get values are bool, string, int,
// float64, nil, or lists and maps of those; no json.Number leaks out.
func checkTyped(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, bool, string, int, float64:
	case map[string]any:
		for k, e := range v {
			checkTyped(t, path+"."+k, e)
		}
	case []any:
		for i, e := range v {
			checkTyped(t, path+"["+strconv.Itoa(i)+"]", e)
		}
	default:
		t.Errorf("%s is a %T", path, v)
	}
}

// FuzzToolOutput feeds the same bytes to every reader of hook tool output.
// None may panic; typed readers give only the documented types; relation
// and state bags read a valid JSON object of strings exactly; a secret's
// content never appears in an error.
func FuzzToolOutput(f *testing.F) {
	// config-get, action-get (the register-user action's parameters).
	f.Add([]byte(`{"server_name":"example.com","max_processes_per_unit":4,"rc_joins_remote_per_second":0.01,"report_stats":false}`))
	f.Add([]byte(`{"username":"alice","admin":true,"password":"s3cr3t"}`))
	f.Add([]byte(`{"username":"alice","nested":{"a":[1,2.5,"x",null,{"b":1e400}]}}`))
	// relation-get of postgresql-k8s, redis-k8s, s3-integrator, traefik.
	f.Add([]byte(`{"database":"synapse","endpoints":"postgresql-k8s-primary.m.svc.cluster.local:5432","secret-user":"secret://u/d0abc","version":"14.12"}`))
	f.Add([]byte(`{"hostname":"10.1.77.12","port":"6379"}`))
	f.Add([]byte(`{"access-key":"AK","secret-key":"SK","bucket":"b","tls-ca-chain":["-----BEGIN CERTIFICATE-----"],"attributes":["a","b"]}`))
	f.Add([]byte(`{"ingress":"{\"url\": \"https://matrix.example.com/\"}"}`))
	// secret-ids, relation-ids, relation-list, network-get, goal-state.
	f.Add([]byte(`["d0abc","secret:d0def"]`))
	f.Add([]byte(`["database:3"]`))
	f.Add([]byte(`{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":[{"hostname":"","value":"10.1.2.3","cidr":"10.1.0.0/16"}]}],"egress-subnets":["10.1.2.3/32"],"ingress-addresses":["10.1.2.3"]}`))
	f.Add([]byte(`{"units":{"synapse/0":{"status":"active","since":"2026-01-01 00:00:00Z"}},"relations":{"database":{"postgresql-k8s":{"status":"joined"}}}}`))
	f.Add([]byte(`{"status":"active","message":"","status-data":{}}`))
	// Oddities.
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Add([]byte(` true `))
	f.Add([]byte(`{"a":1,"a":"2"}`))
	f.Add([]byte(`{"a":"1"} {"b":"2"}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Add([]byte(`{"a":`))
	f.Add([]byte(`[{"a":1}]`))

	f.Fuzz(func(t *testing.T, out []byte) {
		ctx := context.Background()
		tools := juju.New(fuzzTools(out))

		if cfg, err := tools.ConfigGet(ctx); err == nil {
			if cfg == nil {
				t.Errorf("config-get: nil map without an error")
			}
			for k, v := range cfg {
				checkTyped(t, "config-get "+k, v)
			}
		}
		if params, err := tools.ActionGet(ctx); err == nil {
			for k, v := range params {
				checkTyped(t, "action-get "+k, v)
			}
		}

		var plain map[string]string
		plainErr := json.Unmarshal(out, &plain)
		var object map[string]json.RawMessage
		isObject := json.Unmarshal(out, &object) == nil && object != nil
		for name, read := range map[string]func() (map[string]string, error){
			"relation-get": func() (map[string]string, error) {
				return tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: "database:3", App: true})
			},
			"state-get": func() (map[string]string, error) { return tools.StateGet(ctx) },
		} {
			bag, err := read()
			switch {
			case err == nil && bag == nil:
				t.Errorf("%s: nil bag without an error", name)
			case isObject && err != nil:
				t.Errorf("%s: a JSON object fails: %v", name, err)
			case plainErr == nil && plain != nil && !reflect.DeepEqual(bag, plain):
				t.Errorf("%s: %q read as %v, want %v", name, out, bag, plain)
			}
		}

		content, err := tools.SecretGet(ctx, &juju.SecretGetOptions{ID: "secret:d0abc"})
		if err != nil {
			if trimmed := bytes.TrimSpace(out); len(trimmed) >= 8 && strings.Contains(err.Error(), string(trimmed)) {
				t.Errorf("secret-get error quotes the output: %v", err)
			}
			for _, v := range object {
				var s string
				if json.Unmarshal(v, &s) == nil && len(s) >= 8 && strings.Contains(err.Error(), s) {
					t.Errorf("secret-get error quotes a value: %v", err)
				}
			}
		} else if content == nil {
			t.Errorf("secret-get: nil content without an error")
		}

		if ids, err := tools.SecretIDs(ctx); err == nil {
			if !slices.IsSorted(ids) {
				t.Errorf("secret-ids not sorted: %q", ids)
			}
			for _, id := range ids {
				if !strings.HasPrefix(id, "secret:") {
					t.Errorf("secret-ids: %q", id)
				}
			}
		}
		for _, list := range []func() ([]string, error){
			func() ([]string, error) { return tools.RelationIDs(ctx, "database") },
			func() ([]string, error) { return tools.RelationList(ctx, "database:3") },
			func() ([]string, error) { return tools.OpenedPorts(ctx) },
		} {
			if l, err := list(); err == nil && l == nil {
				t.Errorf("nil list without an error")
			}
		}
		if n, err := tools.NetworkGet(ctx, "synapse-peers"); err == nil {
			_ = n.BindAddress()
			_ = n.IngressAddress()
		}
		if gs, err := tools.GoalState(ctx); err == nil && (gs.Units == nil || gs.Relations == nil) {
			t.Errorf("goal-state: nil maps")
		}
		_, _, _ = tools.StatusGet(ctx, false)
		_, _, _ = tools.StatusGet(ctx, true)
		_, _ = tools.IsLeader(ctx)
		_, _ = tools.RelationRemoteApp(ctx, "database:3")
	})
}
