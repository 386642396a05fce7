package container_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// TestProbeImage checks the bed image against the contract (nothing
// missing; its txredisapi and s3_storage_provider are TEST-ONLY
// stand-ins), then the same image with pysaml2, the S3 provider and the
// Synapse user taken away in the container's own overlay, which the probe
// names exactly; and an image whose python3 does not run.
func TestProbeImage(t *testing.T) {
	bed.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := bed.Image(ctx)
	require.NoError(t, err)
	dir, err := os.MkdirTemp("/tmp", "ip")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ct, err := bed.StartContainer(ctx, bed.ContainerOptions{Name: "synapse", Image: img, Dir: filepath.Join(dir, "c")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ct.Stop() })
	pc := ct.Client()

	start := time.Now()
	full, err := container.ProbeImage(ctx, pc)
	require.NoError(t, err)
	t.Logf("probe of the bed image: %v", time.Since(start).Round(time.Millisecond))
	assert.Empty(t, full.Report.Missing, "the bed image meets the contract")
	assert.Len(t, full.Report.Fingerprint, 16)
	assert.True(t, strings.HasPrefix(full.Report.SynapseVersion, "1.160."), full.Report.SynapseVersion)
	assert.Empty(t, full.SynapseError)
	again, err := container.ProbeImage(ctx, pc)
	require.NoError(t, err)
	assert.Equal(t, full.Report.Fingerprint, again.Report.Fingerprint, "the same image, the same fingerprint")

	// An incomplete image: remove what another image would lack.
	sites, err := filepath.Glob(filepath.Join(img, "usr/local/lib/python3.*/dist-packages"))
	require.NoError(t, err)
	require.Len(t, sites, 1)
	site := strings.TrimPrefix(sites[0], img)
	for _, p := range []string{"/usr/lib/python3/dist-packages/saml2", site + "/s3_storage_provider.py"} {
		require.NoError(t, pc.RemovePath(&client.RemovePathOptions{Path: p, Recursive: true}), p)
	}
	passwd, err := os.ReadFile(filepath.Join(img, "etc/passwd"))
	require.NoError(t, err)
	var kept []string
	for _, line := range strings.Split(string(passwd), "\n") {
		if !strings.HasPrefix(line, "synapse:") {
			kept = append(kept, line)
		}
	}
	require.NoError(t, pc.Push(&client.PushOptions{Path: "/etc/passwd", Source: strings.NewReader(strings.Join(kept, "\n"))}))

	lacking, err := container.ProbeImage(ctx, pc)
	require.NoError(t, err)
	assert.Equal(t, []string{workload.SynapseUserNeed, "s3_storage_provider", "saml2"}, lacking.Report.Missing, "in contract order")
	assert.NotEqual(t, full.Report.Fingerprint, lacking.Report.Fingerprint)
	assert.Equal(t, full.Report.SynapseVersion, lacking.Report.SynapseVersion)

	// python3 that fails, then none at all: said, not an error.
	require.NoError(t, pc.Push(&client.PushOptions{Path: "/usr/bin/python3", Permissions: 0o755, Source: strings.NewReader("#!/bin/sh\nexit 1\n")}))
	broken, err := container.ProbeImage(ctx, pc)
	require.NoError(t, err)
	assert.Equal(t, []string{"python3"}, broken.Report.Missing)
	assert.Contains(t, broken.PythonError, "exit")
	require.NoError(t, pc.RemovePath(&client.RemovePathOptions{Path: "/usr/bin/python3"}))
	none, err := container.ProbeImage(ctx, pc)
	require.NoError(t, err)
	assert.Equal(t, []string{"python3"}, none.Report.Missing)
	assert.Equal(t, container.NoPythonFingerprint, none.Report.Fingerprint)
}
