package main

import (
	"bytes"
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
