package e2e

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// fakeNewImage makes a unit's synapse container report another Synapse
// version, as a new image would: a .pth file (TEST-ONLY; Python runs its
// import lines at start-up) sets the version string Synapse reads. Processes already running keep
// theirs; the charm sees the new version when it next asks the image.
func fakeNewImage(t *testing.T, d *deployment, unit, version string) {
	t.Helper()
	ct := d.bed.Container(unit, "synapse")
	// The container's root is visible only inside its namespace; the image
	// it is made from tells where the site directory is.
	img := bed.ImagePath()
	matches, err := filepath.Glob(filepath.Join(img, "usr/local/lib/python3*/dist-packages"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	dir := strings.TrimPrefix(matches[0], img)
	err = ct.Client().Push(&client.PushOptions{
		Path:   dir + "/zz_test_only_synapse_version.pth",
		Source: strings.NewReader("import os; os.environ['SYNAPSE_VERSION_STRING'] = '" + version + "'\n"),
	})
	require.NoError(t, err)
	require.NoError(t, d.m.PebbleReady(unit, "synapse"))
	d.waitIdle()
}

// upgradeMainFirst: when a worker unit gets a new Synapse image before
// the main (Kubernetes rolls the highest unit first), its workers wait
// with a status saying so; once the main runs the new version, they go.
// Every unit keeps the faked version: last on TestScaledCluster's
// deployment.
func upgradeMainFirst(t *testing.T, d *deployment) {
	d.leaderOnMain()
	fakeNewImage(t, d, "synapse/2", "1.161.0")
	u := d.unit("synapse/2")
	assert.Equal(t, "waiting", u.WorkloadStatus.Status)
	assert.Contains(t, u.WorkloadStatus.Message, "upgrade in progress: main synapse/0 runs Synapse 1.160.0, this unit has 1.161.0")

	// The main gets the new image and migrates: unit 2 goes ahead, unit 1
	// (still on the old image, as mid-rollout) now waits in turn.
	fakeNewImage(t, d, "synapse/0", "1.161.0")
	assert.Equal(t, "active", d.unit("synapse/2").WorkloadStatus.Status, d.unit("synapse/2").WorkloadStatus.Message)
	assert.Contains(t, d.unit("synapse/1").WorkloadStatus.Message, "main synapse/0 runs Synapse 1.161.0, this unit has 1.160.0")

	fakeNewImage(t, d, "synapse/1", "1.161.0")
	d.requireActive()
	assert.Equal(t, "1.161.0", d.m.WorkloadVersion())
}

// crashingProcessIsNamed: a worker that cannot start (its port is
// taken) turns its unit's status to blocked with the process named, never
// active; when the cause goes, the next hook heals it.
func crashingProcessIsNamed(t *testing.T, d *deployment) {
	d.leaderOnMain()
	unit := d.unit("synapse/1")
	pc := d.bed.Container("synapse/1", "synapse").Client()
	svc := workload.ServiceName("generic-1")
	id, err := pc.Stop(&client.ServiceOptions{Names: []string{svc}})
	require.NoError(t, err)
	_, err = pc.WaitChange(id, &client.WaitChangeOptions{Timeout: time.Minute})
	require.NoError(t, err)
	port, _, _ := workload.Ports(1)
	squatter, err := net.Listen("tcp", net.JoinHostPort(unit.Address, strconv.Itoa(port)))
	require.NoError(t, err)
	defer squatter.Close()

	d.m.UpdateStatus()
	d.waitIdle()
	u := d.unit("synapse/1")
	assert.Equal(t, "blocked", u.WorkloadStatus.Status)
	assert.Contains(t, u.WorkloadStatus.Message, svc)

	squatter.Close()
	deadline := time.Now().Add(3 * time.Minute)
	for d.unit("synapse/1").WorkloadStatus.Status != "active" {
		require.True(t, time.Now().Before(deadline), "did not heal: %s", d.unit("synapse/1").WorkloadStatus.Message)
		d.m.UpdateStatus()
		d.waitIdle()
	}
	d.processHealth()
}
