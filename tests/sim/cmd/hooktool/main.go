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
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
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
