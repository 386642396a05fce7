// Command hookwrap stands in for a unit's dispatch while hookbench
// measures: it runs the real charm (dispatch.real beside it, same argv,
// environment and standard streams), waits for it, and appends to the file
// in HOOKBENCH_HOOKS one JSON line with the charm's pid, wall time and the
// CPU wait4 reports for it (its own plus its reaped children: the hook
// tools). The simulator's wrapper (unshare, sh, mount) and this program's
// own start are outside what it times. With JUJU_SIM_TOOL_CGROUP it makes
// the cgroup DIR/<charm pid>, which the charm's tools move into, and
// reports its CPU (the tools' after their move, exits included).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	cmd := exec.Command(os.Args[0]+".real", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "hookwrap: %v\n", err)
		os.Exit(1)
	}
	cg := os.Getenv("JUJU_SIM_TOOL_CGROUP")
	if cg != "" {
		// The charm's tools move into it; the charm takes milliseconds
		// before its first call, and a tool that finds no cgroup says so.
		cg += "/" + strconv.Itoa(cmd.Process.Pid)
		if os.Mkdir(cg, 0o755) != nil {
			cg = ""
		}
	}
	err := cmd.Wait()
	wall := time.Since(start)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "hookwrap: %v\n", err)
		os.Exit(1)
	}
	if file := os.Getenv("HOOKBENCH_HOOKS"); file != "" {
		ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		rec := map[string]any{
			"unit": os.Getenv("JUJU_UNIT_NAME"), "hook": os.Getenv("JUJU_HOOK_NAME"),
			"pid": cmd.Process.Pid, "wall-ns": wall.Nanoseconds(), "exit": code,
		}
		if ru != nil {
			rec["utime-ns"], rec["stime-ns"] = ru.Utime.Nano(), ru.Stime.Nano()
		}
		if cg != "" {
			rec["tools-cgroup-ns"] = drainCgroup(cg)
		}
		line, _ := json.Marshal(rec)
		if f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	os.Exit(code)
}

// drainCgroup returns the CPU in ns of cgroup dir (cgroup v1 cpuacct.usage,
// or v2 cpu.stat usage_usec) and removes it; -1 if it cannot be read.
func drainCgroup(dir string) int64 {
	var ns int64 = -1
	if data, err := os.ReadFile(dir + "/cpuacct.usage"); err == nil {
		ns, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	} else if data, err := os.ReadFile(dir + "/cpu.stat"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, _ := strconv.ParseInt(v, 10, 64)
				ns = us * 1000
			}
		}
	}
	// The reaped tools may take a moment to leave it.
	for deadline := time.Now().Add(2 * time.Second); os.Remove(dir) != nil && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return ns
}
