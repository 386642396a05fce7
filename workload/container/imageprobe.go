package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// NoPythonFingerprint is the report's fingerprint of an image whose
// python3 does not run: there is nothing else to tell it by.
const NoPythonFingerprint = "no-python3"

// ProbeImage checks the synapse image against workload.SynapseImageContract
// in one Pebble exec of its python3. An image whose python3 is missing or
// does not run gives a report naming python3 (and no error); an error is
// Pebble failing, which says nothing about the image.
func ProbeImage(ctx context.Context, c *client.Client) (workload.ImageProbeResult, error) {
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: workload.ImageProbe(),
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: 30 * time.Second,
	})
	if err != nil {
		if strings.Contains(err.Error(), "cannot find executable") {
			return noPython(err.Error()), nil
		}
		return workload.ImageProbeResult{}, fmt.Errorf("probe the image: %w", err)
	}
	if err := proc.Wait(); err != nil {
		var exit *client.ExitError
		if errors.As(err, &exit) {
			// python3 started but could not run the probe (a broken
			// interpreter or standard library).
			return noPython(fmt.Sprintf("%v: %s", err, lastLine(stderr.String()))), nil
		}
		return workload.ImageProbeResult{}, fmt.Errorf("probe the image: %w: %s", err, lastLine(stderr.String()))
	}
	return workload.ParseImageProbe(stdout.Bytes())
}

func noPython(why string) workload.ImageProbeResult {
	return workload.ImageProbeResult{
		Report:      workload.ImageReport{Fingerprint: NoPythonFingerprint, Missing: []string{"python3"}},
		PythonError: why,
	}
}
