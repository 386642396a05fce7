package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/jujuc"
)

// The hook tools are one multicall binary (cmd/hooktool) that sends each
// call to the simulator over the unix socket named by
// JUJU_AGENT_SOCKET_ADDRESS, one JSON request per connection, and prints
// the JSON response's stdout and stderr and exits with its code. The same
// shapes are declared in cmd/hooktool; keep them in step.

// ToolRequest is one hook-tool call.
type ToolRequest struct {
	// ContextID is JUJU_CONTEXT_ID.
	ContextID string `json:"context-id"`
	// Tool is the tool's name, e.g. "relation-get".
	Tool string `json:"tool"`
	// Args are the arguments after the tool name.
	Args []string `json:"args"`
	// Dir is the tool's working directory (relative paths are relative to
	// it).
	Dir string `json:"dir"`
	// Stdin is standard input, read only when the arguments ask for it
	// ("--file -").
	Stdin []byte `json:"stdin,omitempty"`
}

// ToolResponse is a hook tool's result.
type ToolResponse struct {
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	Code   int    `json:"code"`
}

type toolServer struct {
	ln   net.Listener
	m    *Model
	wg   sync.WaitGroup
	once sync.Once
}

func startToolServer(m *Model, path string) (*toolServer, error) {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("hook-tool server: %w", err)
	}
	s := &toolServer{ln: ln, m: m}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *toolServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Minute))
			var req ToolRequest
			if err := json.NewDecoder(conn).Decode(&req); err != nil {
				json.NewEncoder(conn).Encode(ToolResponse{Stderr: []byte("ERROR bad request: " + err.Error() + "\n"), Code: 1})
				return
			}
			resp := s.m.handleTool(&req)
			json.NewEncoder(conn).Encode(resp)
		}()
	}
}

func (s *toolServer) close() error {
	var err error
	s.once.Do(func() {
		err = s.ln.Close()
		s.wg.Wait()
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// toolCall is one call being served.
type toolCall struct {
	m      *Model
	hc     *hookContext
	u      *unit
	tool   string
	args   []string
	dir    string
	stdin  []byte
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func (tc *toolCall) absPath(p string) string {
	if filepath.IsAbs(p) || tc.dir == "" {
		return p
	}
	return filepath.Join(tc.dir, p)
}

// handleTool runs one hook-tool call under the model lock.
func (m *Model) handleTool(req *ToolRequest) ToolResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	hc := m.contexts[req.ContextID]
	if hc == nil {
		return ToolResponse{Stderr: []byte(fmt.Sprintf("ERROR bad request: bad context: %s\n", req.ContextID)), Code: 1}
	}
	tc := &toolCall{m: m, hc: hc, u: hc.unit, tool: req.Tool, args: req.Args, dir: req.Dir, stdin: req.Stdin}
	code := m.runToolLocked(tc)
	m.rec.addToolCall(ToolCall{
		Unit: hc.unit.name, Hook: hc.spec.name, Tool: req.Tool, Args: append([]string(nil), req.Args...),
		Stdin: string(req.Stdin), ExitCode: code, Stderr: tc.stderr.String(),
	})
	return ToolResponse{Stdout: tc.stdout.Bytes(), Stderr: tc.stderr.Bytes(), Code: code}
}

func (m *Model) runToolLocked(tc *toolCall) int {
	// The tools that carry Juju's relation and secret rules are jujuc's,
	// shared with jujutest.Memory.
	call := &jujuc.Call{Host: tc.host(), Tool: tc.tool, Args: tc.args, Dir: tc.dir, Stdin: tc.stdin}
	if code, ok := jujuc.Serve(call); ok {
		tc.stdout.Write(call.Stdout.Bytes())
		tc.stderr.Write(call.Stderr.Bytes())
		return code
	}
	def, ok := toolTable[tc.tool]
	if !ok {
		fmt.Fprintf(&tc.stderr, "ERROR bad request: unknown command %q\n", tc.tool)
		return 1
	}
	var flags []flagDef
	if def.flags != nil {
		flags = def.flags(tc)
	}
	fs, args, err := jujuc.ParseFlags(flags, tc.args)
	if err == nil {
		err = def.run(tc, fs, args)
	}
	if err == nil {
		return 0
	}
	var help jujuc.HelpRequest
	if errors.As(err, &help) {
		fmt.Fprintf(&tc.stdout, "Usage: %s %s\n\nSummary:\n%s\n", tc.tool, def.usage, def.purpose)
		return 0
	}
	fmt.Fprintf(&tc.stderr, "ERROR %s\n", err.Error())
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
