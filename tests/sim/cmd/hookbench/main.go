// Command hookbench measures what Juju pays for this charm's hooks: the
// packed charm's dispatch run as a process per hook by the unit-agent
// simulator (tests/sim), with real hook-tool processes and real Pebble on
// the bed (tests/bed), on settled deployments of 1 unit and of 3 units with
// PostgreSQL and Redis. It needs root and the bed, like jujusim.
//
//	go run ./tests/sim/cmd/hookbench [-n 20] [-json] [-charm synapse.charm|REV] [-base synapse.charm|REV] [-scale=false]
//	go run ./tests/sim/cmd/hookbench -base HEAD      # HEAD's charm, then the working tree's, with ratios
//	go run ./tests/sim/cmd/hookbench -from saved.json   # the table of a -json run
//
// Per hook (update-status and a config-changed with the config unchanged,
// n times on every unit) it reports the charm process's wall time, its own
// CPU, its CPU with the hook-tool processes it ran, tool calls by tool and
// Pebble requests by method and path; then the charm's CPU before its
// first tool call beside a static hello-world's (./hello), and a scale
// from 3 to 6 units: hooks, tool calls, seconds until idle, restarts.
//
// How: the unit's dispatch is swapped for ./hookwrap, which runs the real
// charm and reports wait4's rusage (the charm plus the tools it reaped);
// each hook tool reports its own getrusage (JUJU_SIM_TOOL_RUSAGE, see
// tests/sim/cmd/hooktool), so the charm's own CPU is the difference; each
// Pebble socket is replaced by a proxy that counts requests per client pid.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

type config struct {
	n       int
	json    bool
	charm   string
	base    string
	cgroup  string
	scale   bool
	keep    bool
	verbose bool
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 20, "runs of each hook per unit (and of the start-up comparison)")
	flag.BoolVar(&c.json, "json", false, "print JSON instead of the table")
	flag.StringVar(&c.charm, "charm", "", "the charm to measure: a packed .charm or a git revision (default: pack the working tree)")
	flag.StringVar(&c.base, "base", "", "measure this charm first in the same run and print the ratios: a .charm or a git revision, e.g. HEAD")
	flag.BoolVar(&c.scale, "scale", true, "also scale the 3-unit deployment to 6")
	flag.BoolVar(&c.keep, "keep", false, "keep the working directory")
	flag.BoolVar(&c.verbose, "v", false, "log every hook to stderr")
	from := flag.String("from", "", "print the table of a saved -json output instead of measuring")
	flag.Parse()
	if *from != "" {
		if err := printSaved(*from); err != nil {
			fmt.Fprintln(os.Stderr, "hookbench:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 0 || c.n < 1 {
		fmt.Fprintln(os.Stderr, "usage: hookbench [-n N] [-json] [-charm FILE.charm|REV] [-base FILE.charm|REV] [-scale=false] [-keep] [-v] | -from FILE.json")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	rep, err := run(ctx, c)
	if rep != nil {
		if c.json {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			printReport(os.Stdout, rep)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
}

func printSaved(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	printReport(os.Stdout, &rep)
	return nil
}

// Report is the whole measurement (the -json output).
type Report struct {
	Date      time.Time  `json:"date"`
	Charm     string     `json:"charm"`
	CPUs      int        `json:"cpus"`
	N         int        `json:"n"`
	Scenarios []Scenario `json:"scenarios"`
	Startup   *Startup   `json:"startup,omitempty"`
	Scale     *Scale     `json:"scale,omitempty"`
	// Load is /proc/loadavg before and after (others' work skews walls).
	Load []string `json:"loadavg,omitempty"`
	// Base is the same measurement of the -base charm.
	Base *Report `json:"base,omitempty"`
}

// Scenario is one hook on one deployment.
type Scenario struct {
	Name  string `json:"name"`
	Units int    `json:"units"`
	Hook  string `json:"hook"`
	// Extra counts other hooks the event caused (none for a no-op).
	Extra   int      `json:"extra-hooks"`
	Samples []Sample `json:"samples"`
}

// Startup is the CPU before the first hook-tool call.
type Startup struct {
	Charm []time.Duration `json:"charm-ns"`
	Hello []time.Duration `json:"hello-ns"`
}

// Scale is a scale-up of the settled 3-unit deployment.
type Scale struct {
	From      int           `json:"from"`
	To        int           `json:"to"`
	Hooks     int           `json:"hooks"`
	ToolCalls int           `json:"tool-calls"`
	Took      time.Duration `json:"took-ns"`
	Restarts  int           `json:"restarts"`
	// Active counts units active at the end.
	Active int `json:"active"`
}

func run(ctx context.Context, c config) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("needs root (the bed's containers and the charm's mount namespace)")
	}
	root, err := sim.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hookbench-")
	if err != nil {
		return nil, err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	wrap, hello := filepath.Join(dir, "hookwrap"), filepath.Join(dir, "hello")
	if err := goBuild(ctx, root, "./tests/sim/cmd/hookbench/hookwrap", wrap); err != nil {
		return nil, err
	}
	// hello runs as the charm does, forked by hookwrap, so that its CPU
	// count starts at its fork, not at the simulator's unshare and sh.
	if err := goBuild(ctx, root, "./tests/sim/cmd/hookbench/hello", hello+".real"); err != nil {
		return nil, err
	}
	if err := copyFile(wrap, hello, 0o755); err != nil {
		return nil, err
	}
	if c.cgroup, err = makeCgroup(); err != nil {
		fmt.Fprintf(os.Stderr, "hookbench: %v: the tools' exits will count as the charm's CPU\n", err)
	} else {
		defer os.Remove(c.cgroup)
	}
	archive, err := charmArchive(ctx, root, filepath.Join(dir, "charm"), c.charm)
	if err != nil {
		return nil, err
	}
	var base *Report
	if c.base != "" {
		baseArchive, err := charmArchive(ctx, root, filepath.Join(dir, "base"), c.base)
		if err != nil {
			return nil, err
		}
		if base, err = measure(ctx, c, filepath.Join(dir, "base"), baseArchive, wrap, hello); err != nil {
			return base, fmt.Errorf("base charm: %w", err)
		}
	}
	rep, err := measure(ctx, c, filepath.Join(dir, "charm"), archive, wrap, hello)
	if rep != nil {
		rep.Base = base
	}
	return rep, err
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// makeCgroup makes a CPU-accounting cgroup under which each hook's tools
// account their CPU, exits included (cgroup v1 cpuacct or v2).
func makeCgroup() (string, error) {
	name := fmt.Sprintf("hookbench-%d", os.Getpid())
	for _, parent := range []string{"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(parent + "/cgroup.procs"); err != nil {
			continue
		}
		dir := parent + "/" + name
		if err := os.Mkdir(dir, 0o755); err != nil {
			continue
		}
		for _, f := range []string{"cpuacct.usage", "cpu.stat"} {
			if _, err := os.Stat(dir + "/" + f); err == nil {
				return dir, nil
			}
		}
		os.Remove(dir)
	}
	return "", fmt.Errorf("no CPU-accounting cgroup")
}

// charmArchive returns the packed charm spec names: a .charm file, a git
// revision of this module (packed from "git archive", the working tree
// untouched), or "" for the working tree; scratch is a new directory.
func charmArchive(ctx context.Context, root, scratch, spec string) (string, error) {
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return "", err
	}
	if spec != "" {
		if _, err := os.Stat(spec); err == nil {
			return spec, nil
		}
	}
	src := root
	if spec != "" {
		src = filepath.Join(scratch, "src")
		if err := gitExport(ctx, root, spec, src); err != nil {
			return "", err
		}
	}
	archive := filepath.Join(scratch, "synapse.charm")
	return archive, sim.PackCharm(ctx, src, archive)
}

// measure deploys the charm archive and measures it (dir: a new directory).
func measure(ctx context.Context, c config, dir, archive, wrap, hello string) (*Report, error) {
	charmRoot := filepath.Join(dir, "unpacked")
	if err := charmarchive.Unpack(archive, charmRoot); err != nil {
		return nil, err
	}
	rep := &Report{Date: time.Now().UTC(), Charm: archive, CPUs: runtime.NumCPU(), N: c.n, Load: []string{loadAvg()}}
	defer func() { rep.Load = append(rep.Load, loadAvg()) }()
	env := &setup{dir: dir, charmRoot: charmRoot, wrap: wrap, verbose: c.verbose, cgroup: c.cgroup}
	defer env.stop()

	// One unit, no relations.
	b, err := env.deploy(ctx, "one", 1, false)
	if err != nil {
		return rep, err
	}
	if err := measureHooks(ctx, b, 1, c.n, rep); err != nil {
		return rep, err
	}
	st := &Startup{}
	for _, s := range rep.Scenarios[0].Samples {
		if s.Startup >= 0 {
			st.Charm = append(st.Charm, s.Startup)
		}
	}
	if st.Hello, err = b.startup(ctx, c.n, "synapse/0", hello); err != nil {
		return rep, fmt.Errorf("start-up baseline: %w", err)
	}
	rep.Startup = st
	if err := b.close(); err != nil {
		return rep, err
	}

	// Three units with PostgreSQL and Redis, then 3 -> 6.
	if b, err = env.deploy(ctx, "three", 3, true); err != nil {
		return rep, err
	}
	if err := measureHooks(ctx, b, 3, c.n, rep); err != nil {
		return rep, err
	}
	if c.scale {
		if rep.Scale, err = scaleUp(ctx, b, 6); err != nil {
			return rep, err
		}
	}
	return rep, b.close()
}

// measureHooks measures update-status and a no-op config-changed.
func measureHooks(ctx context.Context, b *bench, units, n int, rep *Report) error {
	if err := b.instrument(); err != nil {
		return err
	}
	for _, ev := range []struct {
		name, hook string
		fire       func()
	}{
		{"update-status", "update-status", b.m.UpdateStatus},
		{"config-changed (no change)", "config-changed", b.m.ConfigChanged},
	} {
		samples, extra, err := b.run(ctx, n, ev.hook, ev.fire)
		if err != nil {
			return err
		}
		rep.Scenarios = append(rep.Scenarios, Scenario{
			Name: fmt.Sprintf("%s, %d unit(s)", ev.name, units), Units: units, Hook: ev.hook, Extra: extra, Samples: samples,
		})
	}
	return b.uninstrument()
}

// scaleUp scales the (uninstrumented) deployment and counts what it cost.
func scaleUp(ctx context.Context, b *bench, to int) (*Scale, error) {
	rec := b.m.Recorder()
	from := len(b.m.Units())
	hooks, calls := len(rec.Hooks()), len(rec.ToolCalls())
	before := b.m.PebbleSnapshot(ctx)
	start := time.Now()
	if err := b.m.Scale(ctx, to); err != nil {
		return nil, err
	}
	if err := b.m.WaitIdle(ctx); err != nil {
		return nil, fmt.Errorf("scale %d->%d: %w", from, to, err)
	}
	s := &Scale{From: from, To: to, Took: time.Since(start)}
	s.Hooks, s.ToolCalls = len(rec.Hooks())-hooks, len(rec.ToolCalls())-calls
	for _, n := range sim.Restarts(before, b.m.PebbleSnapshot(ctx)) {
		s.Restarts += n
	}
	for _, u := range b.m.Units() {
		if u.WorkloadStatus.Status == "active" {
			s.Active++
		}
	}
	return s, nil
}

// setup holds what the deployments share: the charm and the bed's servers.
type setup struct {
	dir, charmRoot, wrap string
	cgroup               string // where the tools account their CPU ("" none)
	verbose              bool
	pg                   *bed.Postgres
	redis                *bed.Redis
}

func (e *setup) stop() {
	if e.redis != nil {
		e.redis.Stop()
	}
	if e.pg != nil {
		e.pg.Stop()
	}
}

// deploy brings up a settled deployment as the e2e tests do: one unit,
// PostgreSQL and Redis when asked, then the rest of the units.
func (e *setup) deploy(ctx context.Context, name string, units int, db bool) (*bench, error) {
	mdir := filepath.Join(e.dir, name)
	b := &bench{hooksFile: filepath.Join(mdir, "hooks.jsonl"), toolsFile: filepath.Join(mdir, "tools.jsonl"), wrap: e.wrap}
	opts := sim.Options{
		Charm: filepath.Join(e.charmRoot, "dispatch"), CharmRoot: e.charmRoot, Dir: filepath.Join(mdir, "m"),
		Workload: &sim.BedWorkload{},
		ExtraEnv: map[string]string{"JUJU_SIM_TOOL_RUSAGE": b.toolsFile, "HOOKBENCH_HOOKS": b.hooksFile},
	}
	if e.cgroup != "" {
		opts.ExtraEnv["JUJU_SIM_TOOL_CGROUP"] = e.cgroup
	}
	if e.verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	m, err := sim.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	b.m = m
	fail := func(err error) (*bench, error) {
		m.Close()
		return nil, fmt.Errorf("deploy %d unit(s): %w", units, err)
	}
	if err := m.ConfigSet(map[string]string{"server_name": "test.local"}); err != nil {
		return fail(err)
	}
	if err := m.Deploy(ctx, 1); err != nil {
		return fail(err)
	}
	if err := m.WaitIdle(ctx); err != nil {
		return fail(err)
	}
	if db {
		if e.pg == nil {
			if e.pg, err = bed.StartPostgres(ctx, filepath.Join(e.dir, "pg")); err != nil {
				return fail(err)
			}
		}
		if e.redis == nil {
			if e.redis, err = bed.StartRedis(ctx, filepath.Join(e.dir, "redis")); err != nil {
				return fail(err)
			}
		}
		for _, app := range []struct {
			ra       sim.RemoteApp
			endpoint string
		}{{&sim.PostgreSQL{Server: e.pg}, "database"}, {&sim.Redis{Server: e.redis}, "redis"}} {
			if _, err := m.Integrate(ctx, app.ra, app.endpoint); err != nil {
				return fail(err)
			}
			if err := m.WaitIdle(ctx); err != nil {
				return fail(err)
			}
		}
	}
	if units > 1 {
		if err := m.Scale(ctx, units); err != nil {
			return fail(err)
		}
		if err := m.WaitIdle(ctx); err != nil {
			return fail(err)
		}
	}
	for _, u := range m.Units() {
		if u.WorkloadStatus.Status != "active" {
			fmt.Fprintf(os.Stderr, "hookbench: %s is %s: %s (measuring anyway)\n", u.Name, u.WorkloadStatus.Status, u.WorkloadStatus.Message)
		}
	}
	return b, nil
}

func (b *bench) close() error {
	if b.proxies != nil {
		b.uninstrument()
	}
	return b.m.Close()
}
