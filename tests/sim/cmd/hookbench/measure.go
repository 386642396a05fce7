package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// hookLine is what hookwrap writes per hook.
type hookLine struct {
	Unit    string `json:"unit"`
	Hook    string `json:"hook"`
	PID     int    `json:"pid"`
	WallNS  int64  `json:"wall-ns"`
	UtimeNS int64  `json:"utime-ns"`
	StimeNS int64  `json:"stime-ns"`
	Exit    int    `json:"exit"`
	// ToolsCgroupNS is the tools' CPU after they moved into the hook's
	// cgroup (nil: no cgroup).
	ToolsCgroupNS *int64 `json:"tools-cgroup-ns"`
}

// toolLine is what the hook tool writes per call (tests/sim/cmd/hooktool).
type toolLine struct {
	PID      int    `json:"pid"`
	PPID     int    `json:"ppid"`
	Tool     string `json:"tool"`
	UtimeNS  int64  `json:"utime-ns"`
	StimeNS  int64  `json:"stime-ns"`
	ParentNS int64  `json:"parent-ns"`
	// MovedNS is the tool's CPU when it moved into the cgroup (-1: it did not).
	MovedNS int64 `json:"moved-ns"`
}

// Sample is one hook run as Juju would pay for it.
type Sample struct {
	Unit string `json:"unit"`
	Hook string `json:"hook"`
	// Wall is the charm process's life, fork to reaped.
	Wall time.Duration `json:"wall-ns"`
	// CharmCPU is the charm process's own CPU (user+system): wait4's
	// rusage less the tools' CPU.
	CharmCPU time.Duration `json:"charm-cpu-ns"`
	// ToolsCPU is the tools' CPU: exact (ToolsExact) from their CPU when
	// they moved into a cgroup of their own plus that cgroup's (their
	// exits included), else the sum of each tool's getrusage before it
	// exited (its exit then counts as the charm's).
	ToolsCPU   time.Duration `json:"tools-cpu-ns"`
	ToolsExact bool          `json:"tools-exact"`
	// TotalCPU is wait4's rusage: the charm and its hook-tool processes.
	TotalCPU time.Duration `json:"total-cpu-ns"`
	// Startup is the charm's CPU when its first tool call started (-1: none).
	Startup time.Duration `json:"startup-cpu-ns"`
	// Tools and Pebble count calls by tool and requests by "METHOD /path".
	Tools     map[string]int `json:"tools"`
	ToolCalls int            `json:"tool-calls"`
	Pebble    map[string]int `json:"pebble"`
	Requests  int            `json:"pebble-requests"`
}

// bench is one simulated model under measurement.
type bench struct {
	m                    *sim.Model
	hooksFile, toolsFile string
	wrap                 string
	hookOff, toolOff     int64
	proxies              map[string][]*pebbleProxy // unit -> its containers' proxies
	byParent             map[int][]toolLine        // tool reports not yet joined to a hook, by charm pid
}

// instrument puts hookwrap in place of every unit's dispatch (the charm
// renamed beside it: same inode, so same size and mtime) and a counting
// proxy in place of every container's Pebble socket.
func (b *bench) instrument() error {
	b.proxies = map[string][]*pebbleProxy{}
	b.hookOff, b.toolOff = fileSize(b.hooksFile), fileSize(b.toolsFile)
	for _, u := range b.m.Units() {
		d := filepath.Join(u.CharmDir, "dispatch")
		if err := os.Rename(d, d+".real"); err != nil {
			return fmt.Errorf("instrument %s: %w", u.Name, err)
		}
		if err := copyFile(b.wrap, d, 0o755); err != nil {
			return fmt.Errorf("instrument %s: %w", u.Name, err)
		}
		for _, c := range b.m.Meta().Containers {
			p, err := startPebbleProxy(filepath.Join(u.ContainersDir, c.Name, "pebble.socket"))
			if err != nil {
				return fmt.Errorf("instrument %s/%s: %w", u.Name, c.Name, err)
			}
			b.proxies[u.Name] = append(b.proxies[u.Name], p)
		}
	}
	return nil
}

// uninstrument puts the charm and the sockets back.
func (b *bench) uninstrument() error {
	for _, u := range b.m.Units() {
		d := filepath.Join(u.CharmDir, "dispatch")
		if _, err := os.Stat(d + ".real"); err == nil {
			if err := os.Rename(d+".real", d); err != nil {
				return fmt.Errorf("restore %s: %w", u.Name, err)
			}
		}
		for _, p := range b.proxies[u.Name] {
			if err := p.close(); err != nil {
				return fmt.Errorf("restore %s: %w", u.Name, err)
			}
		}
	}
	b.proxies = nil
	return nil
}

// run fires one event n times (each on every unit), waiting until idle
// after each, and returns a sample per hook named hook; other hooks the
// event caused are counted in extra.
func (b *bench) run(ctx context.Context, n int, hook string, fire func()) (samples []Sample, extra int, err error) {
	for i := 0; i < n; i++ {
		rec := b.m.Recorder()
		before := len(rec.ToolCalls())
		fire()
		if err := b.m.WaitIdle(ctx); err != nil {
			return nil, 0, fmt.Errorf("%s run %d: %w", hook, i+1, err)
		}
		got, err := b.collect()
		if err != nil {
			return nil, 0, err
		}
		calls := 0
		for _, s := range got {
			calls += s.ToolCalls
			if s.Hook == hook {
				samples = append(samples, s)
			} else {
				extra++
			}
		}
		if want := len(rec.ToolCalls()) - before; want != calls {
			return nil, 0, fmt.Errorf("%s run %d: the simulator saw %d tool calls, the tools reported %d", hook, i+1, want, calls)
		}
	}
	return samples, extra, nil
}

// collect reads the hooks and tool calls reported since the last call and
// joins them by the charm's pid.
func (b *bench) collect() ([]Sample, error) {
	var hooks []hookLine
	if err := readLines(b.hooksFile, &b.hookOff, func(data []byte) error {
		var h hookLine
		err := json.Unmarshal(data, &h)
		hooks = append(hooks, h)
		return err
	}); err != nil {
		return nil, err
	}
	if b.byParent == nil {
		b.byParent = map[int][]toolLine{}
	}
	byParent := b.byParent
	if err := readLines(b.toolsFile, &b.toolOff, func(data []byte) error {
		var t toolLine
		err := json.Unmarshal(data, &t)
		byParent[t.PPID] = append(byParent[t.PPID], t)
		return err
	}); err != nil {
		return nil, err
	}
	var out []Sample
	for _, h := range hooks {
		if h.Exit != 0 {
			return nil, fmt.Errorf("%s %s exited %d", h.Unit, h.Hook, h.Exit)
		}
		s := Sample{
			Unit: h.Unit, Hook: h.Hook, Wall: time.Duration(h.WallNS),
			TotalCPU: time.Duration(h.UtimeNS + h.StimeNS), Startup: -1,
			Tools: map[string]int{}, Pebble: map[string]int{},
		}
		var tools, moved time.Duration
		toolLines := byParent[h.PID]
		delete(byParent, h.PID)
		s.ToolsExact = h.ToolsCgroupNS != nil && *h.ToolsCgroupNS >= 0
		for _, t := range toolLines {
			tools += time.Duration(t.UtimeNS + t.StimeNS)
			moved += time.Duration(t.MovedNS)
			s.ToolsExact = s.ToolsExact && t.MovedNS >= 0
			s.Tools[t.Tool]++
			s.ToolCalls++
			if p := time.Duration(t.ParentNS); p >= 0 && (s.Startup < 0 || p < s.Startup) {
				s.Startup = p
			}
		}
		if s.ToolsExact {
			tools = moved + time.Duration(*h.ToolsCgroupNS)
		}
		s.ToolsCPU, s.CharmCPU = tools, s.TotalCPU-tools
		for _, p := range b.proxies[h.Unit] {
			for k, n := range p.take(h.PID) {
				s.Pebble[k] += n
				s.Requests += n
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// startup runs the hello program n times on a unit and returns its CPU
// before its one tool call.
func (b *bench) startup(ctx context.Context, n int, unit, hello string) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < n; i++ {
		res, err := b.m.Exec(ctx, unit, sim.ExecOptions{Command: []string{hello}})
		if err != nil {
			return nil, err
		}
		if res.Code != 0 {
			return nil, fmt.Errorf("hello exited %d: %s", res.Code, res.Stderr)
		}
		var lines []toolLine
		if err := readLines(b.toolsFile, &b.toolOff, func(data []byte) error {
			var t toolLine
			err := json.Unmarshal(data, &t)
			lines = append(lines, t)
			return err
		}); err != nil {
			return nil, err
		}
		if len(lines) != 1 || lines[0].Tool != "is-leader" || lines[0].ParentNS < 0 {
			return nil, fmt.Errorf("hello: want one is-leader report, got %+v", lines)
		}
		out = append(out, time.Duration(lines[0].ParentNS))
	}
	return out, nil
}

// readLines calls f with each complete line of file after *off, and moves
// *off past them.
func readLines(file string, off *int64, f func([]byte) error) error {
	fh, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := fh.Seek(*off, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(fh)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil // a partial line waits for the next read
		}
		if err != nil {
			return err
		}
		*off += int64(len(line))
		if err := f(line); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
}

func fileSize(file string) int64 {
	st, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return st.Size()
}
