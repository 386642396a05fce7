package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// upCommand builds the charm, starts the real stack, deploys N units,
// prints how to reach them and an admin user, and keeps everything up until
// the context ends (SIGINT or SIGTERM); then it tears everything down.
func upCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	units := fs.Int("units", 1, "number of units")
	config := configFlag{}
	fs.Var(config, "config", "a config option, key=value (repeatable); server_name defaults to example.com")
	if err := fs.Parse(args); err != nil {
		return usageErr{err.Error()}
	}
	if fs.NArg() != 0 || *units < 1 {
		return usageErr{"up takes --units N (N >= 1) and no arguments"}
	}
	dir, cleanup, err := c.workDir()
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(stderr, "jujusim: working directory %s\n", dir)
	charm, root, err := c.resolveCharm(ctx, dir)
	if err != nil {
		return err
	}
	st := &stack{dir: filepath.Join(dir, "servers")}
	defer func() {
		if err := st.stop(); err != nil {
			fmt.Fprintf(stderr, "jujusim: stopping servers: %v\n", err)
		}
	}()
	for _, start := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := st.postgres(ctx); return err },
		func(ctx context.Context) error { _, err := st.redisServer(ctx); return err },
		func(ctx context.Context) error { _, err := st.s3Server(ctx); return err },
	} {
		if err := start(ctx); err != nil {
			return err
		}
	}
	opts := sim.Options{Charm: charm, CharmRoot: root, Dir: filepath.Join(dir, "m"), Workload: &sim.BedWorkload{}}
	if c.verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	m, err := sim.New(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := m.Close(); err != nil {
			fmt.Fprintf(stderr, "jujusim: closing the model: %v\n", err)
		}
	}()
	if _, ok := m.Meta().Config["server_name"]; ok && config["server_name"] == "" {
		config["server_name"] = "example.com"
	}
	if err := m.ConfigSet(config); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "jujusim: deploying %d unit(s) with config %v; hook log: %s\n", *units, config, m.DebugLog())
	if err := m.Deploy(ctx, *units); err != nil {
		return err
	}
	if *units > 1 {
		for _, app := range []string{"postgresql", "redis"} {
			ra, endpoint, err := st.remoteApp(ctx, integration{App: app})
			if err != nil {
				return err
			}
			if _, err := m.Integrate(ctx, ra, endpoint); err != nil {
				return err
			}
		}
	}
	if err := m.WaitIdle(ctx); err != nil {
		return fmt.Errorf("waiting for the deployment to settle: %w", err)
	}

	fmt.Fprintf(stdout, "Model %s, application %s, %d unit(s):\n", m.Name(), m.App(), *units)
	for _, u := range m.Units() {
		leader := ""
		if u.Leader {
			leader = " (leader)"
		}
		fmt.Fprintf(stdout, "  %s%s  http://%s:8080  %s: %s\n", u.Name, leader, u.Address, u.WorkloadStatus.Status, u.WorkloadStatus.Message)
	}
	first := m.Units()[0].Name
	res, err := m.RunAction(ctx, first, "register-user", map[string]any{"username": "admin", "admin": true})
	switch {
	case err != nil:
		fmt.Fprintf(stdout, "Admin user: could not run register-user on %s: %v\n", first, err)
	case res.Status != "completed":
		fmt.Fprintf(stdout, "Admin user: register-user failed on %s: %s\n", first, res.Message)
	default:
		fmt.Fprintf(stdout, "Admin user (register-user on %s): username admin\n", first)
		printResults(stdout, "  ", res.Results)
	}
	if err := m.WaitIdle(ctx); err != nil {
		fmt.Fprintf(stderr, "jujusim: %v\n", err)
	}
	doc, _ := json.MarshalIndent(m.Status(), "", "  ")
	fmt.Fprintf(stderr, "%s\n", doc)
	fmt.Fprintln(stdout, "Up. Interrupt (Ctrl-C) to tear everything down.")

	// Juju fires update-status every 5 minutes.
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr, "jujusim: tearing down")
			return nil
		case <-tick.C:
			m.UpdateStatus()
			if err := m.WaitIdle(ctx); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "jujusim: update-status: %v\n", err)
			}
		}
	}
}

// configFlag collects repeated --config key=value flags.
type configFlag map[string]string

func (c configFlag) String() string { return fmt.Sprint(map[string]string(c)) }

func (c configFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	c[k] = val
	return nil
}

// printResults prints nested action results, one key per line.
func printResults(w io.Writer, indent string, results map[string]any) {
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sub, ok := results[k].(map[string]any); ok {
			fmt.Fprintf(w, "%s%s:\n", indent, k)
			printResults(w, indent+"  ", sub)
			continue
		}
		fmt.Fprintf(w, "%s%s: %v\n", indent, k, results[k])
	}
}
