package bed

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
)

// StartHostPebble runs a real Pebble daemon (built from the pinned module)
// on the host, with its state in a temporary directory, and returns a
// client once it answers. The daemon stops with the test.
func StartHostPebble(t testing.TB) *client.Client {
	t.Helper()
	bin, err := PebbleBinary(context.Background())
	if err != nil {
		t.Fatalf("build pebble: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--hold", "--create-dirs")
	cmd.Env = append(os.Environ(), "PEBBLE="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_, _ = cmd.Process.Wait()
	})
	pc, err := client.New(&client.Config{Socket: filepath.Join(dir, ".pebble.socket")})
	if err != nil {
		t.Fatalf("pebble client: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := pc.SysInfo(); err == nil {
			return pc
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
