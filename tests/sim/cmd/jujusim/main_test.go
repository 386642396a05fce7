package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

const scriptCharm = `#!/bin/sh
case "$JUJU_DISPATCH_PATH" in
hooks/database-relation-created)
  [ "$(is-leader)" = True ] && relation-set -r "$JUJU_RELATION_ID" --app database=synapse ;;
hooks/start) status-set active ready ;;
actions/register-user) action-set user-password=pw username="$(action-get username)" ;;
esac
exit 0
`

// scenarioDir writes the script charm and a scenario, and returns the
// scenario's path.
func scenarioDir(t *testing.T, scenario string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dispatch"), []byte(scriptCharm), 0o755))
	root, err := filepath.Abs("../../testdata/charm")
	require.NoError(t, err)
	path := filepath.Join(dir, "scenario.yaml")
	require.NoError(t, os.WriteFile(path, []byte("charm: dispatch\ncharm-root: "+root+"\n"+scenario), 0o644))
	return path
}

type runOutput struct {
	Model struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"model"`
	Applications map[string]struct {
		Scale             int `json:"scale"`
		ApplicationStatus struct {
			Current string `json:"current"`
		} `json:"application-status"`
		Units map[string]struct {
			WorkloadStatus struct {
				Current, Message string
			} `json:"workload-status"`
			JujuStatus struct {
				Current string `json:"current"`
			} `json:"juju-status"`
			Leader  bool   `json:"leader"`
			Address string `json:"address"`
		} `json:"units"`
	} `json:"applications"`
	Pebble       map[string]map[string]json.RawMessage `json:"pebble"`
	RelationData []struct {
		ID             int               `json:"relation-id"`
		Endpoint       string            `json:"endpoint"`
		RelatedAppData map[string]string `json:"related-application-data"`
	} `json:"relation-data"`
	Counters struct {
		Hooks         map[string]int `json:"hooks"`
		HookToolCalls map[string]int `json:"hook-tool-calls"`
		RestartsTotal int            `json:"restarts-total"`
	} `json:"counters"`
	Steps []struct {
		Op     string          `json:"op"`
		Hooks  int             `json:"hooks"`
		Action json.RawMessage `json:"action"`
		Exec   json.RawMessage `json:"exec"`
		Error  string          `json:"error"`
	} `json:"steps"`
	Error string `json:"error"`
}

func runScenario(t *testing.T, args ...string) (runOutput, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := mainCode(append([]string{"run"}, args...), &stdout, &stderr)
	var out runOutput
	if stdout.Len() > 0 {
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
	}
	return out, code, stderr.String()
}

func TestRunScenario(t *testing.T) {
	path := scenarioDir(t, `
model: matrix
steps:
  - deploy: 2
  - config: {server_name: example.com, workers: 3}
  - scale: 3
  - set-leader: synapse/1
  - run-action: {unit: synapse/0, action: register-user, params: {username: admin, admin: true}}
  - exec: {unit: synapse/2, command: [is-leader, --format=json]}
  - update-status
  - remove-unit
  - wait-idle
`)
	out, code, stderr := runScenario(t, "--workload", "none", path)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "matrix", out.Model.Name)
	assert.Equal(t, "caas", out.Model.Type)
	app := out.Applications["synapse"]
	assert.Equal(t, 2, app.Scale)
	assert.Equal(t, "active", app.ApplicationStatus.Current)
	require.Len(t, app.Units, 2)
	assert.True(t, app.Units["synapse/1"].Leader)
	assert.Equal(t, "ready", app.Units["synapse/0"].WorkloadStatus.Message)
	assert.Equal(t, "idle", app.Units["synapse/0"].JujuStatus.Current)
	assert.Contains(t, out.Pebble, "synapse/0")
	require.Len(t, out.Steps, 9)
	assert.Equal(t, "deploy", out.Steps[0].Op)
	assert.Greater(t, out.Steps[0].Hooks, 10)
	assert.JSONEq(t, `{"id":"1","status":"completed","results":{"user-password":"pw","username":"admin"},"return-code":0}`, string(out.Steps[4].Action))
	assert.JSONEq(t, `{"stdout":"false\n","stderr":"","return-code":0}`, string(out.Steps[5].Exec))
	assert.Greater(t, out.Counters.Hooks["synapse/0"], 10)
	assert.Greater(t, out.Counters.HookToolCalls["synapse/0"], 0)
}

func TestRunScenarioReportsAFailingStep(t *testing.T) {
	path := scenarioDir(t, `
steps:
  - deploy: 1
  - config: {no_such_option: 1}
  - scale: 2
`)
	out, code, stderr := runScenario(t, "--workload", "none", path)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `step 2 (config, line 6): config: unknown option "no_such_option"`)
	assert.Len(t, out.Steps, 2, "stops at the failing step")
	assert.NotEmpty(t, out.Error)
	assert.Equal(t, 1, out.Applications["synapse"].Scale, "the model is printed as it is")
}

func TestParseSteps(t *testing.T) {
	var sc scenario
	require.NoError(t, yaml.Unmarshal([]byte(`
steps:
  - deploy: 1
  - {integrate: redis, wait: false}
  - wait-idle
  - frobnicate: 2
`), &sc))
	_, err := parseSteps(sc.Steps[:3])
	require.NoError(t, err)
	steps, _ := parseSteps(sc.Steps[:3])
	assert.Equal(t, "integrate", steps[1].op)
	assert.False(t, steps[1].wait)
	_, err = parseSteps(sc.Steps)
	assert.ErrorContains(t, err, `unknown operation "frobnicate"`)
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, mainCode(nil, &stdout, &stderr))
	assert.Equal(t, 2, mainCode([]string{"run"}, &stdout, &stderr))
	assert.Equal(t, 0, mainCode([]string{"help"}, &stdout, &stderr))
}

// TestRunScenarioOnTheBed runs deploy + integrate postgresql on real Pebble
// containers and a real PostgreSQL (root and a built bed image needed).
func TestRunScenarioOnTheBed(t *testing.T) {
	bed.RequireRoot(t)
	if _, err := os.Stat(filepath.Join(bed.ImagePath(), "usr/bin/synapse_homeserver")); err != nil {
		t.Skipf("the bed image %s is not built", bed.ImagePath())
	}
	path := scenarioDir(t, `
steps:
  - deploy: 1
  - integrate: postgresql
  - restart-container: {unit: synapse/0, container: synapse-nginx}
`)
	out, code, stderr := runScenario(t, path)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "active", out.Applications["synapse"].Units["synapse/0"].WorkloadStatus.Current)
	assert.Contains(t, out.Applications, "postgresql-k8s")
	var db map[string]string
	for _, r := range out.RelationData {
		if r.Endpoint == "database" {
			db = r.RelatedAppData
		}
	}
	assert.Equal(t, "relation_id_1", db["username"])
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, db["endpoints"])
	var st struct {
		BootID string `json:"boot-id"`
		Error  string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out.Pebble["synapse/0"]["synapse"], &st))
	assert.NotEmpty(t, st.BootID)
	assert.Empty(t, st.Error)
}

// TestRunScenarioJuju40: "juju: 4.0" plays Juju 4.0; delete-pod recreates
// a follower's pod: stop, upgrade-charm, config-changed, start, and no
// leader-settings-changed (3.6 adds it).
func TestRunScenarioJuju40(t *testing.T) {
	for juju, hooks := range map[string]int{"4.0": 4, "3.6": 5} {
		path := scenarioDir(t, "juju: \""+juju+"\"\nsteps:\n  - deploy: 2\n  - delete-pod: synapse/1\n")
		out, code, stderr := runScenario(t, "--workload", "none", path)
		require.Equal(t, 0, code, stderr)
		require.Len(t, out.Steps, 2)
		assert.Equal(t, "delete-pod", out.Steps[1].Op)
		assert.Equal(t, hooks, out.Steps[1].Hooks, juju)
	}
	_, code, stderr := runScenario(t, "--workload", "none", scenarioDir(t, "juju: \"5.0\"\nsteps:\n  - deploy: 1\n"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown juju "5.0"`)
}
