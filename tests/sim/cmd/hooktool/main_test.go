package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestWantsStdin(t *testing.T) {
	for args, want := range map[string]bool{
		"--file -":              true,
		"-r 1 --app --file=-":   true,
		"--file /tmp/x":         false,
		"k=v":                   false,
		"-- --file -":           false,
		"--file=/dev/stdin k=v": false,
	} {
		if got := wantsStdin(strings.Fields(args)); got != want {
			t.Errorf("wantsStdin(%q) = %v, want %v", args, got, want)
		}
	}
}

func TestNeedsTheAgent(t *testing.T) {
	t.Setenv("JUJU_CONTEXT_ID", "")
	var out, errOut bytes.Buffer
	if code := run([]string{"/tools/is-leader"}, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Errorf("code %d", code)
	}
	if errOut.String() != "ERROR JUJU_CONTEXT_ID not set\n" {
		t.Errorf("stderr %q", errOut.String())
	}
	t.Setenv("JUJU_CONTEXT_ID", "x")
	t.Setenv("JUJU_AGENT_SOCKET_ADDRESS", "/nonexistent/agent.socket")
	errOut.Reset()
	if code := run([]string{"hooktool", "is-leader"}, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Errorf("code %d", code)
	}
	if !strings.HasPrefix(errOut.String(), "ERROR cannot connect to the unit agent") {
		t.Errorf("stderr %q", errOut.String())
	}
}

// The usage report names the tool, this process's own CPU and its
// parent's CPU so far (here the test binary's parent, which has run).
func TestReportUsage(t *testing.T) {
	file := t.TempDir() + "/usage.jsonl"
	reportUsage(file, "is-leader", taskRuntime(os.Getppid()), -1)
	reportUsage(file, "config-get", 7, 5)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), data)
	}
	var got struct {
		PID      int    `json:"pid"`
		PPID     int    `json:"ppid"`
		Tool     string `json:"tool"`
		UtimeNS  int64  `json:"utime-ns"`
		StimeNS  int64  `json:"stime-ns"`
		ParentNS int64  `json:"parent-ns"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Tool != "is-leader" || got.PID != os.Getpid() || got.PPID != os.Getppid() {
		t.Errorf("report %s", lines[0])
	}
	if got.UtimeNS+got.StimeNS <= 0 || got.ParentNS <= 0 {
		t.Errorf("no CPU reported: %s", lines[0])
	}
}
