package charm

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/unitstate"
)

// DefaultContainersDir is where Juju exposes each workload container's
// Pebble socket to the charm container.
const DefaultContainersDir = "/charm/containers"

// Options configure one run of the charm.
type Options struct {
	// Tools talks to the unit agent.
	Tools *juju.Tools
	// Event is the hook or action being run.
	Event juju.Event
	// ContainersDir holds <container>/pebble.socket for each workload
	// container; DefaultContainersDir when empty.
	ContainersDir string
	// ChangeTimeout bounds each Pebble change (replan, stop); 2 minutes
	// when zero.
	ChangeTimeout time.Duration
	// ReadyTimeout bounds how long a hook that (re)started Synapse waits for
	// it to answer its ready check before reporting "starting"; 90 seconds
	// when zero.
	ReadyTimeout time.Duration
	// HTTP probes Synapse's /health; a client with a 3 s timeout when nil.
	HTTP *http.Client
	// AdminHTTP calls Synapse's admin API for actions; registration hashes
	// a password, which takes seconds on a busy host, so its timeout is a
	// minute when nil.
	AdminHTTP *http.Client
	// Log receives the charm's own log lines (the unit log via stderr);
	// io.Discard when nil.
	Log io.Writer
	// Exporter is a static program with the `nginx-exporter` command (the
	// charm's own binary: cmd/charm sets it to itself), copied into the
	// nginx container to serve nginx's counters to Prometheus. Empty runs
	// no exporter and publishes no nginx scrape job.
	Exporter string
	// StateFile is where the unit remembers, between hooks, what it need
	// not ask again (charm/unitstate): the charm directory's
	// unitstate.FileName under Juju. Empty remembers nothing: every hook
	// asks Juju and Pebble everything.
	StateFile string
	// Now is the clock for the state's expiry; time.Now when nil.
	Now func() time.Time
	// Backups encrypts the backup actions' archives; nil in dispatch,
	// which execs cmd/charm-backup for those actions (see BackupCipher).
	Backups BackupCipher
	// AlterDecision changes each hook's decision before it is executed.
	// A test seam only, to inject what the decisions never produce (a
	// render bug Synapse must refuse); production leaves it nil.
	AlterDecision func(*decide.Decision)
}

func (o *Options) defaults() {
	if o.ContainersDir == "" {
		o.ContainersDir = DefaultContainersDir
	}
	if o.ChangeTimeout == 0 {
		o.ChangeTimeout = 2 * time.Minute
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 3 * time.Second}
	}
	if o.AdminHTTP == nil {
		o.AdminHTTP = &http.Client{Timeout: time.Minute}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Run handles one event. The error contract: an error is always transient
// (a hook tool, Pebble or a database did not answer) and means Juju should
// run the hook again, which cmd/charm asks for by exiting non-zero. What
// the operator must fix is never an error: it is a blocked status (or, in
// an action, action-fail) naming the fix, and the workload stays as it was.
func Run(ctx context.Context, opts Options) error {
	opts.defaults()
	c := &charm{opts: opts, tools: opts.Tools, ev: opts.Event}
	if opts.Event.IsAction {
		// An action may change what a hook remembers (a restore writes
		// the data volume): the next hook asks everything afresh.
		if err := unitstate.Forget(opts.StateFile); err != nil {
			return err
		}
		return c.runAction(ctx)
	}
	before := unitstate.Load(opts.StateFile)
	c.state = before.Clone()
	if !c.state.Fresh(opts.Now()) || startOfLife(opts.Event) {
		c.state.Reset(opts.Now())
	}
	if opts.Event.Kind() == "pebble-ready" {
		// The container (re)started: its files and plan are asked afresh.
		delete(c.state.Containers, opts.Event.WorkloadName)
	}
	if err := c.reconcile(ctx); err != nil {
		return err
	}
	// Saved only after a hook that succeeded: Juju discards what a failed
	// hook wrote to its bags, and runs it again.
	return unitstate.Save(opts.StateFile, before, c.state)
}

// startOfLife reports whether the hook may run on a new charm or a new
// pod, where nothing remembered is trusted.
func startOfLife(ev juju.Event) bool {
	switch ev.Kind() {
	case "install", "start", "upgrade-charm":
		return true
	}
	return false
}

type charm struct {
	opts  Options
	tools *juju.Tools
	ev    juju.Event
	// state is what this unit remembers between hooks; the hook updates
	// it as it asks and acts.
	state unitstate.State
}

func (c *charm) logf(format string, args ...any) {
	fmt.Fprintln(c.opts.Log, decide.Truncate(fmt.Sprintf(format, args...), maxLogLine))
}

func (c *charm) pebble(container string) (*client.Client, error) {
	socket := filepath.Join(c.opts.ContainersDir, container, "pebble.socket")
	pc, err := client.New(&client.Config{Socket: socket})
	if err != nil {
		return nil, fmt.Errorf("pebble client for %s: %w", container, err)
	}
	return pc, nil
}

// pebbleClient is the Pebble client the workload package drives.
type pebbleClient = *client.Client
