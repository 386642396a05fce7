// Command hooktool is the simulator's Juju hook tools: one multicall binary,
// installed under every tool name (relation-get, relation-set, is-leader,
// ...) in the tools directory the simulator puts first on a hook's PATH.
//
// Like Juju's jujuc, it does no work itself: it sends its name, arguments,
// working directory and (only when the arguments say "--file -") standard
// input to the agent over the unix socket in JUJU_AGENT_SOCKET_ADDRESS,
// identified by JUJU_CONTEXT_ID, then prints the answer's stdout and stderr
// and exits with its code. Run it as "hooktool TOOL ARGS..." to name the
// tool explicitly.
//
// It uses the standard library only, to build fast; the request and
// response shapes must match sim.ToolRequest and sim.ToolResponse.
//
// With JUJU_SIM_TOOL_RUSAGE set (by tests/sim/cmd/hookbench), it appends
// one JSON line to that file at exit: its own CPU (getrusage, so that the
// benchmark can take the tools out of the charm's wait4 rusage) and its
// parent's CPU when it started (the charm's CPU before this call). With
// JUJU_SIM_TOOL_CGROUP too, it first moves itself into the CPU-accounting
// cgroup DIR/<parent pid> if there is one and reports its CPU at the move,
// so that its exit (which getrusage cannot see) is counted there.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

type request struct {
	ContextID string   `json:"context-id"`
	Tool      string   `json:"tool"`
	Args      []string `json:"args"`
	Dir       string   `json:"dir"`
	Stdin     []byte   `json:"stdin,omitempty"`
}

type response struct {
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	Code   int    `json:"code"`
}

func main() {
	usage := os.Getenv("JUJU_SIM_TOOL_RUSAGE")
	var parentNS, movedNS int64 = 0, -1
	if usage != "" {
		parentNS = taskRuntime(os.Getppid())
		if cg := os.Getenv("JUJU_SIM_TOOL_CGROUP"); cg != "" {
			movedNS = joinCgroup(cg + "/" + strconv.Itoa(os.Getppid()))
		}
	}
	code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
	if usage != "" {
		reportUsage(usage, filepath.Base(os.Args[0]), parentNS, movedNS)
	}
	os.Exit(code)
}

// taskRuntime is the CPU time in ns of every thread of process pid so far
// (the first field of each thread's schedstat), or -1.
func taskRuntime(pid int) int64 {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	var sum int64
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return sum
}

// joinCgroup moves this process into cgroup dir (hookbench's wrapper makes
// it for the charm it runs) and returns its CPU so far, or -1 if it could
// not move.
func joinCgroup(dir string) int64 {
	if err := os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return -1
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportUsage appends this process's CPU to file; the rusage is taken as
// late as possible, after the file is open. One short O_APPEND write is
// atomic, so concurrent tools do not interleave.
func reportUsage(file, tool string, parentNS, movedNS int64) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	line, _ := json.Marshal(map[string]any{
		"pid": os.Getpid(), "ppid": os.Getppid(), "tool": tool,
		"utime-ns": ru.Utime.Nano(), "stime-ns": ru.Stime.Nano(), "parent-ns": parentNS,
		"moved-ns": movedNS,
	})
	f.Write(append(line, '\n'))
}

func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	tool := filepath.Base(argv[0])
	args := argv[1:]
	if tool == "hooktool" {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "usage: hooktool TOOL [ARGS...]")
			return 2
		}
		tool, args = args[0], args[1:]
	}
	contextID := os.Getenv("JUJU_CONTEXT_ID")
	addr := os.Getenv("JUJU_AGENT_SOCKET_ADDRESS")
	network := os.Getenv("JUJU_AGENT_SOCKET_NETWORK")
	if network == "" {
		network = "unix"
	}
	if contextID == "" {
		fmt.Fprintln(stderr, "ERROR JUJU_CONTEXT_ID not set")
		return 1
	}
	if addr == "" {
		fmt.Fprintln(stderr, "ERROR JUJU_AGENT_SOCKET_ADDRESS not set")
		return 1
	}
	dir, _ := os.Getwd()
	req := request{ContextID: contextID, Tool: tool, Args: args, Dir: dir}
	if wantsStdin(args) {
		data, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR reading stdin: %v\n", err)
			return 1
		}
		req.Stdin = data
	}
	conn, err := net.Dial(network, addr)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR cannot connect to the unit agent: %v\n", err)
		return 1
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		fmt.Fprintf(stderr, "ERROR sending request: %v\n", err)
		return 1
	}
	var resp response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		fmt.Fprintf(stderr, "ERROR reading response: %v\n", err)
		return 1
	}
	stdout.Write(resp.Stdout)
	stderr.Write(resp.Stderr)
	return resp.Code
}

// wantsStdin reports whether the arguments read standard input: "--file -"
// or "--file=-" (relation-set and state-set), before any "--".
func wantsStdin(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		if a == "--file=-" {
			return true
		}
		if a == "--file" && i+1 < len(args) && args[i+1] == "-" {
			return true
		}
	}
	return false
}
