package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/workload"
	"gopkg.in/yaml.v3"
)

// ApplyResult says what Apply changed in the container.
type ApplyResult struct {
	// Pushed lists the files written because they were missing or differed.
	Pushed []string
	// LayerChanged is true when the charm's layer had to be (re)added.
	LayerChanged bool
	// Restarted lists running services restarted because their definition
	// (including the hash of the files they read) changed.
	Restarted []string
	// Started lists services started because they were not running.
	Started []string
	// Stopped lists services removed from the desired state and stopped.
	Stopped []string
	// Removed lists stale files removed from the pruned directories.
	Removed []string
	// Reloaded lists running services sent SIGHUP because a file in their
	// workload.Container.Reload entry was pushed.
	Reloaded []string
}

// Changed reports whether anything in the container changed.
func (r ApplyResult) Changed() bool {
	return len(r.Pushed) > 0 || len(r.Removed) > 0 || r.LayerChanged || len(r.Restarted) > 0 || len(r.Started) > 0 || len(r.Stopped) > 0 || len(r.Reloaded) > 0
}

// State is what Pebble reports about a container that Diff needs.
type State = workload.PebbleState

// ErrUnreachable is Observe's error when Pebble does not answer: the
// container is starting or gone.
var ErrUnreachable = errors.New("pebble does not answer")

// Observe reads the container's current plan and which services run.
func Observe(c *client.Client) (State, error) {
	st, _, err := ObserveKnown(c, Known{})
	return st, err
}

// Known is what the charm remembers of a container from an earlier hook:
// only the charm changes the plan and pushes the files, so while the same
// Pebble runs, what it saw and did last still holds.
type Known struct {
	// BootID is the Pebble boot the plan was read in: random for each
	// start of a Pebble that is PID 1, as in Juju's sidecars (elsewhere
	// the kernel's, which a container restart keeps).
	BootID string
	// PlanYAML is the plan as last read, when no layer was added since.
	PlanYAML string
}

// ObserveKnown is Observe that takes the plan from known when the same
// Pebble still runs, and reports whether it did: the same boot ID, and the
// services the remembered plan names (Pebble keeps the layers the charm
// adds in memory, so a restarted container whose boot ID stayed shows
// none; a plan that named no service is read again anyway).
func ObserveKnown(c *client.Client, known Known) (State, bool, error) {
	var st State
	info, err := c.SysInfo()
	if err != nil {
		return st, false, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	st.CanStopChecks = canStopChecks(info.Version)
	st.BootID = info.BootID
	infos, err := c.Services(&client.ServicesOptions{})
	if err != nil {
		return st, false, fmt.Errorf("read services: %w", err)
	}
	st.Active = map[string]bool{}
	st.Current = map[string]string{}
	for _, si := range infos {
		st.Active[si.Name] = si.Current == client.StatusActive
		st.Current[si.Name] = string(si.Current)
	}
	trusted := false
	if known.PlanYAML != "" && known.BootID != "" && known.BootID == info.BootID {
		var plan workload.Layer
		if yaml.Unmarshal([]byte(known.PlanYAML), &plan) == nil && len(plan.Services) > 0 &&
			slices.Equal(slices.Sorted(maps.Keys(plan.Services)), slices.Sorted(maps.Keys(st.Current))) {
			st.Plan, st.PlanYAML, trusted = plan, known.PlanYAML, true
		}
	}
	if !trusted {
		data, err := c.PlanBytes(&client.PlanOptions{})
		if err != nil {
			return st, false, fmt.Errorf("read plan: %w", err)
		}
		if err := yaml.Unmarshal(data, &st.Plan); err != nil {
			return st, false, fmt.Errorf("parse plan: %w", err)
		}
		st.PlanYAML = string(data)
	}
	return st, trusted, nil
}

// Apply brings a container to the desired state with the fewest changes
// (see workload.Diff): it observes the container, computes the changes and
// executes them.
func Apply(ctx context.Context, c *client.Client, want workload.Container, changeTimeout time.Duration) (ApplyResult, error) {
	st, err := Observe(c)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("observe %s: %w", want.Name, err)
	}
	return Execute(ctx, c, want, workload.Diff(st, want), changeTimeout)
}

// Execute pushes the files of want that differ, then carries out changes:
// the layer, stale checks, and stop, restart, start in that order; a
// running service whose reload files were pushed gets SIGHUP.
func Execute(ctx context.Context, c *client.Client, want workload.Container, ch workload.Changes, changeTimeout time.Duration) (ApplyResult, error) {
	return ExecuteKnown(ctx, c, want, ch, changeTimeout, false)
}

// ExecuteKnown is Execute that, with filesKnown, trusts that the files,
// executables and owners of want are in place (the charm pushed them, or
// found them so, in this boot of Pebble: workload.FilesHash matches), and
// reads none of them back.
func ExecuteKnown(ctx context.Context, c *client.Client, want workload.Container, ch workload.Changes, changeTimeout time.Duration, filesKnown bool) (ApplyResult, error) {
	var res ApplyResult
	if !filesKnown {
		pushed, err := pushFiles(c, want.Files)
		if err != nil {
			return res, err
		}
		res.Pushed = pushed
		pushedExecs, err := pushExecutables(c, want.Executables)
		if err != nil {
			return res, err
		}
		res.Pushed = append(res.Pushed, pushedExecs...)
		keep := append([]workload.File(nil), want.Files...)
		for _, e := range want.Executables {
			keep = append(keep, workload.File{Path: e.Path})
		}
		if res.Removed, err = pruneFiles(c, keep, want.PruneDirs); err != nil {
			return res, err
		}
	}
	if ch.Layer != nil {
		data, err := ch.Layer.YAML()
		if err != nil {
			return res, err
		}
		if err := c.AddLayer(&client.AddLayerOptions{Combine: true, Label: workload.LayerLabel, LayerData: data}); err != nil {
			return res, fmt.Errorf("add layer to %s: %w", want.Name, err)
		}
		res.LayerChanged = true
	}
	if len(ch.StopChecks) > 0 {
		// Pebble keeps running a check whose startup turns disabled.
		if _, err := c.StopChecks(&client.ChecksActionOptions{Names: ch.StopChecks}); err != nil {
			return res, fmt.Errorf("stop checks %v in %s: %w", ch.StopChecks, want.Name, err)
		}
	}
	res.Stopped, res.Restarted, res.Started = ch.Stop, ch.Restart, ch.Start
	var wrong []workload.Writable
	if !filesKnown {
		var err error
		if wrong, err = wrongOwners(c, want.Writable); err != nil {
			return res, err
		}
	}
	if len(wrong) > 0 {
		// Data a root process left (an older charm, the Python charm):
		// the services about to restart stop first, so that none writes
		// while it changes hands, and start after.
		stop := append(slices.Clone(ch.Stop), ch.Restart...)
		start := append(slices.Clone(ch.Restart), ch.Start...)
		sort.Strings(start)
		if len(stop) > 0 {
			if err := waitChange(c, func() (string, error) {
				return c.Stop(&client.ServiceOptions{Names: stop})
			}, changeTimeout); err != nil {
				return res, fmt.Errorf("stop %v in %s: %w", stop, want.Name, err)
			}
		}
		if err := chown(ctx, c, wrong, chownTimeout); err != nil {
			return res, err
		}
		ch.Stop, ch.Restart, ch.Start = nil, nil, start
	}
	for _, step := range []struct {
		names []string
		run   func(*client.ServiceOptions) (string, error)
		verb  string
	}{
		{ch.Stop, c.Stop, "stop"},
		{ch.Restart, c.Restart, "restart"},
		{ch.Start, c.Start, "start"},
	} {
		if len(step.names) == 0 {
			continue
		}
		names := step.names
		if err := waitChange(c, func() (string, error) {
			return step.run(&client.ServiceOptions{Names: names})
		}, changeTimeout); err != nil {
			return res, fmt.Errorf("%s %v in %s: %w", step.verb, names, want.Name, err)
		}
	}
	return res, reload(c, want.Name, ch.Reload, &res)
}

// reload sends SIGHUP to each service of reloadable one of whose files
// was pushed.
func reload(c *client.Client, container string, reloadable map[string][]string, res *ApplyResult) error {
	var names []string
	for name, files := range reloadable {
		if slices.ContainsFunc(files, func(f string) bool { return slices.Contains(res.Pushed, f) }) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := c.SendSignal(&client.SendSignalOptions{Signal: "SIGHUP", Services: []string{name}}); err != nil {
			return fmt.Errorf("reload %s in %s: %w", name, container, err)
		}
		res.Reloaded = append(res.Reloaded, name)
	}
	return nil
}

func waitChange(c *client.Client, start func() (string, error), timeout time.Duration) error {
	id, err := start()
	if err != nil {
		return err
	}
	ch, err := c.WaitChange(id, &client.WaitChangeOptions{Timeout: timeout})
	if err != nil {
		return err
	}
	if ch.Err != "" {
		return errors.New(ch.Err)
	}
	return nil
}

// pruneFiles removes the regular files of dirs that are not wanted.
func pruneFiles(c *client.Client, files []workload.File, dirs []string) ([]string, error) {
	wanted := map[string]bool{}
	for _, f := range files {
		wanted[f.Path] = true
	}
	var removed []string
	for _, dir := range dirs {
		infos, err := c.ListFiles(&client.ListFilesOptions{Path: dir})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("list %s: %w", dir, err)
		}
		for _, fi := range infos {
			p := path.Join(dir, fi.Name())
			if fi.IsDir() || wanted[p] {
				continue
			}
			if err := c.RemovePath(&client.RemovePathOptions{Path: p}); err != nil {
				return removed, fmt.Errorf("remove %s: %w", p, err)
			}
			removed = append(removed, p)
		}
	}
	return removed, nil
}

// pushFiles writes the files that are missing or differ in content or mode.
func pushFiles(c *client.Client, files []workload.File) ([]string, error) {
	// One listing per directory tells size and mode; content is pulled only
	// when those match, so an unchanged file costs no transfer.
	dirs := map[string]map[string]*client.FileInfo{}
	for _, f := range files {
		dir := path.Dir(f.Path)
		if _, ok := dirs[dir]; ok {
			continue
		}
		infos, err := c.ListFiles(&client.ListFilesOptions{Path: dir})
		entries := map[string]*client.FileInfo{}
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		for _, fi := range infos {
			entries[fi.Name()] = fi
		}
		dirs[dir] = entries
	}
	var pushed []string
	for _, f := range files {
		fi := dirs[path.Dir(f.Path)][path.Base(f.Path)]
		if fi != nil && fi.Size() == int64(len(f.Content)) && fi.Mode().Perm() == f.Mode.Perm() && ownedBy(fi, f.Owner) {
			var buf bytes.Buffer
			if err := c.Pull(&client.PullOptions{Path: f.Path, Target: &buf}); err != nil {
				return pushed, fmt.Errorf("read %s: %w", f.Path, err)
			}
			if bytes.Equal(buf.Bytes(), f.Content) {
				continue
			}
		}
		opts := &client.PushOptions{
			Source:      bytes.NewReader(f.Content),
			Path:        f.Path,
			MakeDirs:    true,
			Permissions: f.Mode.Perm(),
		}
		if o := f.Owner; o != nil {
			// Created parent directories get the same owner.
			opts.UserID, opts.GroupID = &o.UserID, &o.GroupID
		}
		if err := c.Push(opts); err != nil {
			return pushed, fmt.Errorf("write %s: %w", f.Path, err)
		}
		pushed = append(pushed, f.Path)
	}
	return pushed, nil
}

// ownedBy reports whether fi has owner o; a nil o takes any owner.
func ownedBy(fi *client.FileInfo, o *workload.Owner) bool {
	if o == nil {
		return true
	}
	uid, gid := fi.UserID(), fi.GroupID()
	return uid != nil && gid != nil && *uid == o.UserID && *gid == o.GroupID
}

// wrongOwners returns the writable paths that exist and belong to someone
// else: one listing per parent directory.
func wrongOwners(c *client.Client, writable []workload.Writable) ([]workload.Writable, error) {
	dirs := map[string]map[string]*client.FileInfo{}
	var wrong []workload.Writable
	for _, w := range writable {
		dir := path.Dir(w.Path)
		entries, ok := dirs[dir]
		if !ok {
			infos, err := c.ListFiles(&client.ListFilesOptions{Path: dir})
			if err != nil && !isNotFound(err) {
				return nil, fmt.Errorf("list %s: %w", dir, err)
			}
			entries = map[string]*client.FileInfo{}
			for _, fi := range infos {
				entries[fi.Name()] = fi
			}
			dirs[dir] = entries
		}
		if fi := entries[path.Base(w.Path)]; fi != nil && !ownedBy(fi, &w.Owner) {
			wrong = append(wrong, w)
		}
	}
	return wrong, nil
}

// chownTimeout bounds the one-time change of owner of a media store.
const chownTimeout = time.Hour

// chown gives each path to its owner, as root in the container: chown -R
// -P never follows a symbolic link, so nothing outside the path changes
// hands.
func chown(ctx context.Context, c *client.Client, paths []workload.Writable, timeout time.Duration) error {
	for _, w := range paths {
		argv := []string{"chown", "-h"}
		if w.Recursive {
			argv = append(argv, "-R", "-P")
		}
		argv = append(argv, fmt.Sprintf("%d:%d", w.Owner.UserID, w.Owner.GroupID), "--", w.Path)
		var stderr bytes.Buffer
		proc, err := c.Exec(&client.ExecOptions{Command: argv, Stderr: &stderr, Timeout: timeout})
		if err != nil {
			return fmt.Errorf("give %s to %d:%d: %w", w.Path, w.Owner.UserID, w.Owner.GroupID, err)
		}
		if err := waitExec(ctx, proc); err != nil {
			return fmt.Errorf("give %s to %d:%d: %w: %s", w.Path, w.Owner.UserID, w.Owner.GroupID, err, lastLine(stderr.String()))
		}
	}
	return nil
}

// pushExecutables copies the executables missing from the container; one
// stat each, no transfer when present.
func pushExecutables(c *client.Client, execs []workload.Executable) ([]string, error) {
	var pushed []string
	for _, e := range execs {
		_, err := c.ListFiles(&client.ListFilesOptions{Path: e.Path, Itself: true})
		if err == nil {
			continue
		}
		if !isNotFound(err) {
			return pushed, fmt.Errorf("stat %s: %w", e.Path, err)
		}
		src, err := os.Open(e.Source)
		if err != nil {
			return pushed, fmt.Errorf("read %s: %w", e.Source, err)
		}
		err = c.Push(&client.PushOptions{Source: src, Path: e.Path, MakeDirs: true, Permissions: 0o755})
		src.Close()
		if err != nil {
			return pushed, fmt.Errorf("write %s: %w", e.Path, err)
		}
		pushed = append(pushed, e.Path)
	}
	return pushed, nil
}

// canStopChecks reports whether a Pebble server of this version knows a
// check's startup field and stop-checks: Pebble 1.19 and later.
func canStopChecks(version string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(version, "v"), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 1 || major == 1 && minor >= 19
}

func isNotFound(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Kind == client.ErrorKindNotFound
}

// Readiness is what Ready found.
type Readiness = workload.Readiness

// Ready reports whether every ready check of the container passes. It
// probes each check's URL itself as well as reading Pebble's check state,
// because Pebble's success count survives a service restart and would call
// a process that is still starting "up".
func Ready(ctx context.Context, c *client.Client, want workload.Container, probe *http.Client) (Readiness, error) {
	return ReadyKnown(ctx, c, want, probe, nil)
}

// ReadyKnown is Ready given each service's current status, as Observe read
// it earlier in a hook that changed no service; nil reads it again. A nil
// probe trusts Pebble's check state alone: right when nothing was just
// (re)started, and Pebble's threshold keeps one slow answer from a loaded
// Synapse out of the status (Juju reports the check going down and coming
// back as pebble-check-failed and -recovered).
func ReadyKnown(ctx context.Context, c *client.Client, want workload.Container, probe *http.Client, current map[string]string) (Readiness, error) {
	var r Readiness
	if current == nil {
		infos, err := c.Services(&client.ServicesOptions{})
		if err != nil {
			return r, fmt.Errorf("read services: %w", err)
		}
		current = map[string]string{}
		for _, si := range infos {
			current[si.Name] = string(si.Current)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(current)) {
		svc, ours := want.Layer.Services[name]
		st := client.ServiceStatus(current[name])
		if ours && svc.Startup == "enabled" && (st == client.StatusBackoff || st == client.StatusError) {
			r.Failed = append(r.Failed, name)
		}
	}
	names := append([]string(nil), want.ReadyChecks...)
	for name := range want.DependencyChecks {
		names = append(names, name)
	}
	checks, err := c.Checks(&client.ChecksOptions{Names: names})
	if err != nil {
		return r, fmt.Errorf("read checks: %w", err)
	}
	down := map[string]bool{}
	for _, ci := range checks {
		if ci.Status != client.CheckStatusUp {
			down[ci.Name] = true
		}
		// Pebble marks a check down only after `threshold` failures in a
		// row, which keeps a blip out of the status.
		if what, ok := want.DependencyChecks[ci.Name]; ok && ci.Status == client.CheckStatusDown {
			r.Unreachable = append(r.Unreachable, what)
		}
	}
	sort.Strings(r.Unreachable)
	for _, name := range want.ReadyChecks {
		check := want.Layer.Checks[name]
		if down[name] || (check.HTTP != nil && probe != nil && !probeOK(ctx, probe, check.HTTP.URL)) {
			r.NotReady = append(r.NotReady, name)
		}
	}
	return r, nil
}

// WaitReady polls Ready until every ready check passes, a service fails, or
// the deadline passes.
func WaitReady(ctx context.Context, c *client.Client, want workload.Container, probe *http.Client, timeout time.Duration) (Readiness, error) {
	deadline := time.Now().Add(timeout)
	for {
		r, err := Ready(ctx, c, want, probe)
		if err != nil || len(r.NotReady) == 0 || len(r.Failed) > 0 || time.Now().After(deadline) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func probeOK(ctx context.Context, probe *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := probe.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
