// Command bed-image builds the test bed's workload image as bed.Image does
// (image/build.sh's OCI archive, unpacked, plus the bed layer), so that CI
// has it ready before the tests, and prints where its files are.
//
//	go run ./tests/bed/cmd/bed-image
//
// SYNAPSE_BED_IMAGE chooses where; needs root.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	img, err := bed.Image(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bed-image:", err)
		os.Exit(1)
	}
	f := bed.Files(img)
	fmt.Printf("bed-image: ready in %.1f s\n  unpacked image: %s\n  OCI archive:    %s\n  bed layer:      %s\n",
		time.Since(start).Seconds(), f.Root, f.Archive, f.Layer)
	// After a build, its timings: the log's summary lines.
	if log, err := os.ReadFile(img + ".build.log"); err == nil && time.Since(start) > 10*time.Second {
		for _, line := range strings.Split(string(log), "\n") {
			if strings.HasPrefix(line, "bed: ") || strings.HasPrefix(line, "image/build.sh: ") {
				fmt.Println(" ", line)
			}
		}
	}
}
