// Command compress writes an XZ-compressed copy of a file. go generate runs
// it on the Grafana dashboards (relations/grafana.go), so that the charm
// embeds them compressed and links no compressor: each package a hook
// links costs start-up time on every hook.
//
//	go run ./dashboards/compress IN OUT.xz
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ulikunitz/xz"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: compress IN OUT.xz")
		os.Exit(2)
	}
	if err := compress(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "compress:", err)
		os.Exit(1)
	}
}

func compress(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		return fmt.Errorf("compress %s: %w", in, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("compress %s: %w", in, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", in, err)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
