package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/juju/juju/api"
	"github.com/juju/juju/api/client/action"
	"github.com/juju/juju/api/client/application"
	"github.com/juju/juju/api/client/client"
	"github.com/juju/juju/api/client/modelmanager"
	"github.com/juju/juju/api/connector"
	"github.com/juju/juju/core/model"
	"github.com/juju/juju/jujuclient"
	"github.com/juju/juju/rpc/params"
	"github.com/juju/names/v5"
)

// juju is one model on a real controller: API clients for everything the
// suite does through the API, and the CLI for the steps where the API is
// impractical (adding a model, deploying a charm with OCI resources).
type juju struct {
	s       settings
	model   string // the model's name, as the CLI and Kubernetes know it
	owner   string // the model owner's user name
	uuid    string
	created bool

	ctrl    api.Connection
	conn    api.Connection
	apps    *application.Client
	status  *client.Client
	actions *action.Client
}

// dialer opens API connections: to the controller (modelUUID "") or to a
// model. With JUJU_CONTROLLER_ADDRESSES it logs in with the user and
// password from the environment; otherwise it uses the juju client store
// (~/.local/share/juju, or $JUJU_DATA): controllers.yaml, accounts.yaml
// and the cookie jar, as the juju CLI does.
func dialer(s settings) (dial func(modelUUID string) (api.Connection, error), user string, err error) {
	if len(s.Addresses) > 0 {
		return func(uuid string) (api.Connection, error) {
			c, err := connector.NewSimple(connector.SimpleConfig{
				ControllerAddresses: s.Addresses,
				CACert:              s.CACert,
				ModelUUID:           uuid,
				Username:            s.User,
				Password:            s.Password,
			})
			if err != nil {
				return nil, err
			}
			return c.Connect()
		}, s.User, nil
	}
	store := jujuclient.NewFileClientStore()
	account, err := store.AccountDetails(s.Controller)
	if err != nil {
		return nil, "", fmt.Errorf("controller %q in the juju client store (%s): %w", s.Controller, jujuclient.JujuControllersPath(), err)
	}
	return func(uuid string) (api.Connection, error) {
		c, err := connector.NewClientStore(connector.ClientStoreConfig{
			ControllerName: s.Controller,
			ModelUUID:      uuid,
			ClientStore:    store,
		})
		if err != nil {
			return nil, err
		}
		return c.Connect()
	}, account.User, nil
}

// openJuju connects, adds a fresh model unless JUJU_MODEL names one, and
// registers the clean-up: the API connections close; a model the suite
// added is destroyed if every step passed (and SYNAPSE_IT_KEEP_MODEL is
// unset), otherwise kept for inspection.
func openJuju(t *testing.T, s settings) *juju {
	t.Helper()
	dial, user, err := dialer(s)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := dial("")
	if err != nil {
		t.Fatalf("connect to controller %q: %v", s.Controller, err)
	}
	t.Cleanup(func() { ctrl.Close() })
	j := &juju{s: s, ctrl: ctrl, model: s.Model, owner: user}
	if owner, name, ok := strings.Cut(s.Model, "/"); ok {
		j.owner, j.model = owner, name
	}
	if j.model == "" {
		j.model = "synapse-it-" + time.Now().UTC().Format("0102-150405")
		// The API's CreateModel needs the cloud, region and credential that
		// the CLI otherwise works out from the client store: the CLI is simpler.
		if _, err := j.cli(context.Background(), "add-model", j.model, "--controller", s.Controller, "--no-switch"); err != nil {
			t.Fatal(err)
		}
		j.created = true
		t.Logf("added model %s:%s", s.Controller, j.model)
	}
	mm := modelmanager.NewClient(ctrl)
	t.Cleanup(func() {
		if !j.created {
			return
		}
		if t.Failed() || s.KeepModel || j.uuid == "" {
			t.Logf("model %s:%s kept for inspection; remove it with: juju destroy-model %s:%s --no-prompt --destroy-storage",
				s.Controller, j.model, s.Controller, j.model)
			return
		}
		yes := true
		timeout := 10 * time.Minute
		if err := mm.DestroyModel(names.NewModelTag(j.uuid), &yes, nil, nil, &timeout); err != nil {
			t.Logf("destroy model %s: %v", j.model, err)
		} else {
			t.Logf("destroying model %s (in the background)", j.model)
		}
	})
	models, err := mm.ListModels(user)
	if err != nil {
		t.Fatalf("list models: %v", err)
	}
	for _, m := range models {
		if m.Name == j.model && m.Owner == j.owner {
			j.uuid = m.UUID
			if m.Type != model.CAAS {
				t.Fatalf("model %s is a %s model: the synapse charm needs a Kubernetes model", j.model, m.Type)
			}
		}
	}
	if j.uuid == "" {
		t.Fatalf("model %s/%s not found on controller %s (JUJU_MODEL names an existing model; leave it unset for a fresh one)", j.owner, j.model, s.Controller)
	}
	if j.conn, err = dial(j.uuid); err != nil {
		t.Fatalf("connect to model %s: %v", j.model, err)
	}
	t.Cleanup(func() { j.conn.Close() })
	j.apps = application.NewClient(j.conn)
	j.status = client.NewClient(j.conn, logger{t})
	j.actions = action.NewClient(j.conn)
	return j
}

// logger is the Errorf the status client wants, as test log lines.
type logger struct{ t *testing.T }

func (l logger) Errorf(format string, args ...any) { l.t.Logf("juju api: "+format, args...) }

// modelRef is the model as the juju CLI's -m wants it.
func (j *juju) modelRef() string {
	return j.s.Controller + ":" + j.owner + "/" + j.model
}

// cli runs the juju CLI and returns its stdout. It is used only where the
// API is impractical; each call site says why.
func (j *juju) cli(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, j.s.Juju, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", j.s.Juju, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// deploy deploys a charm through the CLI. The API has no single call for
// it: a local .charm needs AddLocalCharm, pending OCI-image resources and
// Deploy (what `juju deploy ./x.charm --resource ...` does client-side),
// and Charmhub charms need the charm and resource resolution the CLI does;
// `juju deploy` has no --format=json output, so the result is read back
// through the Status API by the callers.
func (j *juju) deploy(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := j.cli(ctx, append([]string{"deploy", "-m", j.modelRef()}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("juju deploy %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

// integrate relates two endpoints through the API.
func (j *juju) integrate(t *testing.T, a, b string) {
	t.Helper()
	if _, err := j.apps.AddRelation([]string{a, b}, nil); err != nil {
		t.Fatalf("integrate %s %s: %v", a, b, err)
	}
	t.Logf("integrated %s and %s", a, b)
}

// scale sets the application's unit count through the API.
func (j *juju) scale(t *testing.T, app string, n int) {
	t.Helper()
	if _, err := j.apps.ScaleApplication(application.ScaleApplicationParams{ApplicationName: app, Scale: n}); err != nil {
		t.Fatalf("scale %s to %d: %v", app, n, err)
	}
	t.Logf("scaled %s to %d", app, n)
}

// unit is one unit's status, as `juju status` shows it.
type unit struct {
	Name     string
	Workload string // active, blocked, waiting, maintenance, error, unknown
	Message  string
	Agent    string // idle, executing, allocating, error, ...
	Address  string // the pod IP
	Leader   bool
	// AgentSince is when the unit agent's status last changed.
	AgentSince time.Time
}

func (u unit) String() string {
	return fmt.Sprintf("%s %s/%s %q", u.Name, u.Workload, u.Agent, u.Message)
}

// number is the unit's number (synapse/2 -> 2), which on Kubernetes is
// also its pod's ordinal (pod synapse-2).
func (u unit) number() int {
	_, n, _ := strings.Cut(u.Name, "/")
	i, _ := strconv.Atoi(n)
	return i
}

// units lists an application's units by unit number.
func units(fs *params.FullStatus, app string) []unit {
	var out []unit
	for name, u := range fs.Applications[app].Units {
		var since time.Time
		if u.AgentStatus.Since != nil {
			since = *u.AgentStatus.Since
		}
		out = append(out, unit{
			AgentSince: since,
			Name:       name,
			Workload:   u.WorkloadStatus.Status,
			Message:    u.WorkloadStatus.Info,
			Agent:      u.AgentStatus.Status,
			Address:    u.Address,
			Leader:     u.Leader,
		})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].number() < out[k].number() })
	return out
}

func (j *juju) fullStatus() (*params.FullStatus, error) {
	return j.status.Status(nil)
}

// settled is nil when app has exactly n units (n < 0: any number, at
// least one), each with an idle agent and the workload status want.
func settled(fs *params.FullStatus, app string, n int, want string) error {
	us := units(fs, app)
	if _, ok := fs.Applications[app]; !ok {
		return fmt.Errorf("%s is not deployed", app)
	}
	if (n >= 0 && len(us) != n) || len(us) == 0 {
		return fmt.Errorf("%s has %d units, want %d: %v", app, len(us), n, us)
	}
	for _, u := range us {
		if u.Workload != want || u.Agent != "idle" {
			return fmt.Errorf("%s is %s/%s (%q), want %s/idle", u.Name, u.Workload, u.Agent, u.Message, want)
		}
	}
	return nil
}

// Polling: the status is read every pollEvery; a condition counts once it
// held on settleReads reads in a row, so the quiet moment between two hooks
// does not count as settled.
const (
	pollEvery   = 5 * time.Second
	settleReads = 3
	// errorGrace is how long a synapse unit may stay in error (Juju retries
	// a failed hook) before the wait fails instead of running to its deadline.
	errorGrace = 90 * time.Second
)

// waitFor polls the status until cond returns nil on settleReads reads in
// a row, and returns that status. At the deadline it fails with cond's last
// reason and every unit's status: it never sleeps a fixed time and hopes.
func (j *juju) waitFor(t *testing.T, what string, timeout time.Duration, cond func(*params.FullStatus) error) *params.FullStatus {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var (
		reason     error
		held       int
		last       *params.FullStatus
		errorSince = map[string]time.Time{}
	)
	for {
		fs, err := j.fullStatus()
		switch {
		case err != nil:
			reason, held = fmt.Errorf("status: %w", err), 0
		default:
			last = fs
			reason = cond(fs)
			if reason == nil {
				held++
			} else {
				held = 0
			}
			for _, u := range units(fs, "synapse") {
				if u.Workload != "error" && u.Agent != "error" {
					delete(errorSince, u.Name)
					continue
				}
				if _, ok := errorSince[u.Name]; !ok {
					errorSince[u.Name] = time.Now()
				}
				if time.Since(errorSince[u.Name]) > errorGrace {
					t.Fatalf("waiting for %s: %s has been in error for %s: %q (juju debug-log -m %s --include %s)",
						what, u.Name, errorGrace, u.Message, j.modelRef(), u.Name)
				}
			}
		}
		if held >= settleReads {
			t.Logf("%s after %s", what, time.Since(start).Round(time.Second))
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %s: %v\n%s", what, timeout, reason, describe(last))
		}
		time.Sleep(pollEvery)
	}
}

// describe prints every unit's status, for failure messages.
func describe(fs *params.FullStatus) string {
	if fs == nil {
		return "(no status read)"
	}
	var apps []string
	for app := range fs.Applications {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	var b strings.Builder
	for _, app := range apps {
		for _, u := range units(fs, app) {
			fmt.Fprintf(&b, "  %s\n", u)
		}
	}
	return b.String()
}

// runAction runs an action through the API and waits for its result. The
// receiver is a unit name or "<app>/leader".
func (j *juju) runAction(t *testing.T, receiver, name string, args map[string]any) map[string]any {
	t.Helper()
	tag := receiver
	if !strings.HasSuffix(receiver, "/leader") {
		tag = names.NewUnitTag(receiver).String()
	}
	enq, err := j.actions.EnqueueOperation([]action.Action{{Receiver: tag, Name: name, Parameters: args}})
	if err != nil {
		t.Fatalf("run %s on %s: %v", name, receiver, err)
	}
	if len(enq.Actions) != 1 || enq.Actions[0].Error != nil || enq.Actions[0].Action == nil {
		t.Fatalf("run %s on %s: enqueued %+v", name, receiver, enq.Actions)
	}
	id := enq.Actions[0].Action.ID
	deadline := time.Now().Add(5 * time.Minute)
	for {
		res, err := j.actions.Actions([]string{id})
		if err != nil {
			t.Fatalf("action %s (%s on %s): %v", id, name, receiver, err)
		}
		if len(res) == 1 && res[0].Error != nil {
			t.Fatalf("action %s (%s on %s): %v", id, name, receiver, res[0].Error)
		}
		if len(res) == 1 {
			switch res[0].Status {
			case params.ActionCompleted:
				return res[0].Output
			case params.ActionFailed, params.ActionCancelled, params.ActionAborted, params.ActionError:
				t.Fatalf("action %s on %s %s: %s", name, receiver, res[0].Status, res[0].Message)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("action %s (%s on %s) did not finish in 5m", id, name, receiver)
		}
		time.Sleep(2 * time.Second)
	}
}

// plan is the cluster plan the leader publishes in the synapse-peers
// application bag (key "plan"), as charm/topology writes it. It is decoded
// here from the JSON, as an operator reads it in `juju show-unit synapse/0`,
// not with the charm's own types (this module does not import the charm's).
type plan struct {
	Version    int       `json:"version"`
	Generation int       `json:"generation"`
	Main       string    `json:"main"`
	Processes  []process `json:"processes"`
	Deferred   []string  `json:"deferred,omitempty"`
	Settings   string    `json:"settings,omitempty"`
}

type process struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Unit  string `json:"unit"`
	Index int    `json:"index"`
}

// onUnit lists the names of the processes the plan gives unit.
func (p plan) onUnit(unit string) []string {
	var out []string
	for _, proc := range p.Processes {
		if proc.Unit == unit {
			out = append(out, proc.Name)
		}
	}
	return out
}

func (p plan) process(name string) (process, bool) {
	for _, proc := range p.Processes {
		if proc.Name == name {
			return proc, true
		}
	}
	return process{}, false
}

// readPlan reads the plan from the peer relation through the API's
// UnitsInfo (what `juju show-unit` prints as application-data).
func (j *juju) readPlan(viaUnit string) (plan, error) {
	infos, err := j.apps.UnitsInfo([]names.UnitTag{names.NewUnitTag(viaUnit)})
	if err != nil {
		return plan{}, err
	}
	if len(infos) != 1 || infos[0].Error != nil {
		return plan{}, fmt.Errorf("unit info of %s: %v", viaUnit, infos)
	}
	for _, rel := range infos[0].RelationData {
		if rel.Endpoint != "synapse-peers" {
			continue
		}
		raw, _ := rel.ApplicationData["plan"].(string)
		if raw == "" {
			return plan{}, errors.New("the synapse-peers application bag has no plan yet")
		}
		var p plan
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return plan{}, fmt.Errorf("plan %s: %w", raw, err)
		}
		return p, nil
	}
	return plan{}, fmt.Errorf("%s has no synapse-peers relation", viaUnit)
}
