package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// scenario is a SCENARIO.yaml.
type scenario struct {
	// Charm, CharmRoot and Workload default the command-line flags.
	Charm     string `yaml:"charm"`
	CharmRoot string `yaml:"charm-root"`
	Workload  string `yaml:"workload"`
	// App and Model name the application and the model.
	App   string `yaml:"app"`
	Model string `yaml:"model"`
	// Juju is the Juju played: "3.6" (default) or "4.0" (sim.Options.Juju).
	Juju string `yaml:"juju"`
	// TeardownKeepsLeader and LoseDeparted select sim.Options' behaviours
	// of the same names (TeardownKeepsLeader is what both modes do now).
	TeardownKeepsLeader bool `yaml:"teardown-keeps-leader"`
	LoseDeparted        bool `yaml:"lose-departed"`
	// Steps are run in order.
	Steps []yaml.Node `yaml:"steps"`
}

// step is one parsed step: an operation and its argument.
type step struct {
	op   string
	arg  yaml.Node
	wait bool
	line int
}

var ops = []string{
	"deploy", "config", "config-reset", "integrate", "remove-relation", "scale", "add-unit", "refresh",
	"remove-unit", "delete-pod", "set-leader", "restart-container", "pebble-ready", "run-action", "exec",
	"update-status", "secret-changed", "wait-idle",
}

func parseSteps(nodes []yaml.Node) ([]step, error) {
	var out []step
	for _, n := range nodes {
		s := step{wait: true, line: n.Line}
		switch n.Kind {
		case yaml.ScalarNode:
			s.op = n.Value
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, *n.Content[i+1]
				if k == "wait" {
					b, err := strconv.ParseBool(v.Value)
					if err != nil {
						return nil, fmt.Errorf("line %d: wait: %v", v.Line, err)
					}
					s.wait = b
					continue
				}
				if s.op != "" {
					return nil, fmt.Errorf("line %d: a step has one operation, got %q and %q", n.Line, s.op, k)
				}
				s.op, s.arg = k, v
			}
		default:
			return nil, fmt.Errorf("line %d: a step is an operation name or a one-key map", n.Line)
		}
		known := false
		for _, o := range ops {
			known = known || o == s.op
		}
		if !known {
			return nil, fmt.Errorf("line %d: unknown operation %q (one of %s)", n.Line, s.op, strings.Join(ops, ", "))
		}
		if s.op == "wait-idle" {
			s.wait = false
		}
		out = append(out, s)
	}
	return out, nil
}

// output is what run prints: the juju status document plus the
// simulator's sections.
type output struct {
	*sim.StatusDoc
	Pebble       sim.PebbleSnapshot `json:"pebble"`
	RelationData []relationData     `json:"relation-data"`
	Counters     counters           `json:"counters"`
	Steps        []stepResult       `json:"steps"`
	Error        string             `json:"error,omitempty"`
}

// relationData is one relation's committed bags, as "juju show-unit"
// would show them.
type relationData struct {
	ID              int                          `json:"relation-id"`
	Endpoint        string                       `json:"endpoint"`
	RelatedApp      string                       `json:"related-application"`
	RelatedEndpoint string                       `json:"related-endpoint"`
	ApplicationData map[string]string            `json:"application-data"`
	UnitData        map[string]map[string]string `json:"unit-data"`
	RelatedAppData  map[string]string            `json:"related-application-data,omitempty"`
	RelatedUnitData map[string]map[string]string `json:"related-unit-data,omitempty"`
}

type counters struct {
	Hooks         map[string]int            `json:"hooks"`
	HookToolCalls map[string]int            `json:"hook-tool-calls"`
	HookTools     map[string]map[string]int `json:"hook-tools"`
	Restarts      map[string]int            `json:"restarts"`
	RestartsTotal int                       `json:"restarts-total"`
}

type stepResult struct {
	Step     int               `json:"step"`
	Op       string            `json:"op"`
	Hooks    int               `json:"hooks"`
	Seconds  float64           `json:"seconds"`
	Relation *int              `json:"relation-id,omitempty"`
	Action   *sim.ActionResult `json:"action,omitempty"`
	Exec     *sim.ExecResult   `json:"exec,omitempty"`
	Restarts map[string]int    `json:"restarts,omitempty"`
	Error    string            `json:"error,omitempty"`
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	fs.StringVar(&c.workload, "workload", "", "bed (real Pebble containers, needs root) or none (default: the scenario's, else bed)")
	if err := fs.Parse(args); err != nil {
		return usageErr{err.Error()}
	}
	if fs.NArg() != 1 {
		return usageErr{"run needs exactly one SCENARIO.yaml"}
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var sc scenario
	if err := yaml.Unmarshal(data, &sc); err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	steps, err := parseSteps(sc.Steps)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	base := filepath.Dir(fs.Arg(0))
	if c.charm == "" && sc.Charm != "" {
		c.charm = relTo(base, sc.Charm)
	}
	if c.charmRoot == "" && sc.CharmRoot != "" {
		c.charmRoot = relTo(base, sc.CharmRoot)
	}
	if c.workload == "" {
		c.workload = or(sc.Workload, "bed")
	}
	dir, cleanup, err := c.workDir()
	if err != nil {
		return err
	}
	defer cleanup()
	charm, root, err := c.resolveCharm(ctx, dir)
	if err != nil {
		return err
	}
	var workload sim.Workload
	switch c.workload {
	case "bed":
		workload = &sim.BedWorkload{}
	case "none":
		workload = sim.NoWorkload{}
	default:
		return usageErr{fmt.Sprintf("unknown workload %q (bed or none)", c.workload)}
	}
	st := &stack{dir: filepath.Join(dir, "servers")}
	defer st.stop()
	var juju sim.Juju
	switch sc.Juju {
	case "", "3.6":
	case "4.0":
		juju = sim.Juju40
	default:
		return usageErr{fmt.Sprintf("unknown juju %q (3.6 or 4.0)", sc.Juju)}
	}
	opts := sim.Options{Charm: charm, CharmRoot: root, App: sc.App, ModelName: sc.Model, Juju: juju,
		Dir: filepath.Join(dir, "m"), Workload: workload,
		TeardownKeepsLeader: sc.TeardownKeepsLeader, LoseDeparted: sc.LoseDeparted}
	if c.verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	m, err := sim.New(ctx, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	out, runErr := runSteps(ctx, m, st, steps)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return runErr
}

func relTo(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// runSteps runs the steps and returns the output document.
func runSteps(ctx context.Context, m *sim.Model, st *stack, steps []step) (*output, error) {
	out := &output{Counters: counters{Restarts: map[string]int{}}}
	relations := map[string]int{}
	prev := m.PebbleSnapshot(ctx)
	var runErr error
	for i, s := range steps {
		res := stepResult{Step: i + 1, Op: s.op}
		before := len(m.Recorder().Hooks())
		start := time.Now()
		err := runStep(ctx, m, st, s, &res, relations)
		if err == nil && s.wait {
			err = m.WaitIdle(ctx)
		}
		res.Hooks = len(m.Recorder().Hooks()) - before
		res.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
		cur := m.PebbleSnapshot(ctx)
		res.Restarts = sim.Restarts(prev, cur)
		for k, n := range res.Restarts {
			out.Counters.Restarts[k] += n
			out.Counters.RestartsTotal += n
		}
		prev = cur
		if err != nil {
			res.Error = err.Error()
			out.Steps = append(out.Steps, res)
			runErr = fmt.Errorf("step %d (%s, line %d): %w", i+1, s.op, s.line, err)
			out.Error = runErr.Error()
			break
		}
		out.Steps = append(out.Steps, res)
	}
	out.StatusDoc = m.Status()
	out.Pebble = prev
	out.RelationData = []relationData{}
	for _, r := range m.Relations() {
		rd := relationData{ID: r.ID, Endpoint: r.Endpoint, RelatedApp: r.RemoteApp, RelatedEndpoint: r.RemoteEndpoint,
			ApplicationData: r.AppData, UnitData: r.UnitData}
		if !r.Peer {
			rd.RelatedAppData, rd.RelatedUnitData = r.RemoteAppData, r.RemoteUnitData
		}
		out.RelationData = append(out.RelationData, rd)
	}
	rec := m.Recorder()
	out.Counters.Hooks = rec.HookCounts()
	out.Counters.HookTools = rec.ToolCounts()
	out.Counters.HookToolCalls = map[string]int{}
	for u, tools := range out.Counters.HookTools {
		for _, n := range tools {
			out.Counters.HookToolCalls[u] += n
		}
	}
	return out, runErr
}

func decodeArg[T any](s step) (T, error) {
	var v T
	if s.arg.Kind == 0 {
		return v, nil
	}
	if err := s.arg.Decode(&v); err != nil {
		return v, fmt.Errorf("line %d: %s: %w", s.line, s.op, err)
	}
	return v, nil
}

func runStep(ctx context.Context, m *sim.Model, st *stack, s step, res *stepResult, relations map[string]int) error {
	switch s.op {
	case "deploy":
		n, err := decodeArg[int](s)
		if err != nil {
			return err
		}
		return m.Deploy(ctx, max(n, 1))
	case "config":
		values, err := decodeArg[map[string]any](s)
		if err != nil {
			return err
		}
		strs := map[string]string{}
		for k, v := range values {
			strs[k] = fmt.Sprint(v)
		}
		return m.ConfigSet(strs)
	case "config-reset":
		keys, err := decodeArg[[]string](s)
		if err != nil {
			return err
		}
		return m.ConfigReset(keys...)
	case "integrate":
		var in integration
		if s.arg.Kind == yaml.ScalarNode || s.arg.Kind == 0 {
			in.App = s.arg.Value
		} else if err := s.arg.Decode(&in); err != nil {
			return fmt.Errorf("line %d: integrate: %w", s.line, err)
		}
		app, endpoint, err := st.remoteApp(ctx, in)
		if err != nil {
			return err
		}
		id, err := m.Integrate(ctx, app, endpoint)
		if err != nil {
			return err
		}
		relations[in.App] = id
		relations[app.Name()] = id
		relations[endpoint] = id
		res.Relation = &id
		return nil
	case "remove-relation":
		key := s.arg.Value
		id, ok := relations[key]
		if !ok {
			n, err := strconv.Atoi(key)
			if err != nil {
				return fmt.Errorf("remove-relation: no relation %q (use the integrated application, its endpoint or a relation id)", key)
			}
			id = n
		}
		res.Relation = &id
		return m.RemoveRelation(ctx, id)
	case "scale":
		n, err := decodeArg[int](s)
		if err != nil {
			return err
		}
		return m.Scale(ctx, n)
	case "add-unit":
		_, err := m.AddUnit(ctx)
		return err
	case "refresh":
		// The path of the charm binary to switch to; hooks run at once.
		if s.arg.Value == "" {
			return fmt.Errorf("line %d: refresh needs the path of a charm binary", s.line)
		}
		return m.Refresh(ctx, s.arg.Value)
	case "remove-unit":
		name := s.arg.Value
		if name == "" {
			units := m.Units()
			for i := len(units) - 1; i >= 0; i-- {
				if units[i].Life == "alive" {
					name = units[i].Name
					break
				}
			}
		}
		return m.RemoveUnit(ctx, name)
	case "delete-pod":
		// kubectl delete pod: the unit's pod is recreated; hooks run at once.
		return m.DeletePod(ctx, s.arg.Value)
	case "set-leader":
		return m.SetLeader(s.arg.Value)
	case "restart-container", "pebble-ready":
		v, err := decodeArg[struct {
			Unit      string `yaml:"unit"`
			Container string `yaml:"container"`
		}](s)
		if err != nil {
			return err
		}
		if s.op == "pebble-ready" {
			return m.PebbleReady(v.Unit, v.Container)
		}
		return m.RestartContainer(ctx, v.Unit, v.Container)
	case "run-action":
		v, err := decodeArg[struct {
			Unit   string         `yaml:"unit"`
			Action string         `yaml:"action"`
			Name   string         `yaml:"name"`
			Params map[string]any `yaml:"params"`
		}](s)
		if err != nil {
			return err
		}
		if v.Unit == "" {
			v.Unit = m.Leader()
		}
		r, err := m.RunAction(ctx, v.Unit, or(v.Action, v.Name), v.Params)
		if err != nil {
			return err
		}
		res.Action = r
		return nil
	case "exec":
		v, err := decodeArg[struct {
			Unit    string   `yaml:"unit"`
			Command []string `yaml:"command"`
		}](s)
		if err != nil {
			return err
		}
		r, err := m.Exec(ctx, v.Unit, sim.ExecOptions{Command: v.Command})
		if err != nil {
			return err
		}
		res.Exec = r
		return nil
	case "update-status":
		m.UpdateStatus()
		return nil
	case "secret-changed":
		return m.SecretChanged(s.arg.Value)
	case "wait-idle":
		return m.WaitIdle(ctx)
	}
	return errors.New("unknown operation " + s.op)
}
