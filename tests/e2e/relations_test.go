package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mediaThroughS3AcrossUnits: with S3 integrated on a scaled deployment,
// media uploaded through one unit downloads through another, and the
// object is in the bucket (on TestS3Cluster's deployment, before the
// secret scan, which then covers it too).
func mediaThroughS3AcrossUnits(t *testing.T, d *deployment) {
	msgs := d.requireActive()
	t.Logf("statuses with S3: %v", msgs)
	plan := d.plan()
	var media string
	for _, p := range plan.Processes {
		if p.Name == "media-1" {
			media = p.Unit
		}
	}
	t.Logf("media-1 runs on %q", media)

	alice := d.register("synapse/1", "alice")
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	mxc, err := alice.Upload(ctx, "cat.txt", "text/plain", []byte("a cat, in S3"))
	require.NoError(t, err)
	data, err := alice.WithBase(d.nginx("synapse/2")).Download(ctx, mxc)
	require.NoError(t, err)
	assert.Equal(t, "a cat, in S3", string(data))
	objects, err := d.s3.ListObjects("synapse-media")
	require.NoError(t, err)
	require.NotEmpty(t, objects)
	assert.True(t, strings.HasPrefix(objects[0], "local_content/"), objects[0])
}

// removingRedisFallsBackToAMonolith: removing Redis from a scaled
// deployment stops the workers, the main serves alone, and the other
// units say what they need. Destructive: last on TestS3Cluster's
// deployment.
func removingRedisFallsBackToAMonolith(t *testing.T, d *deployment) {
	require.Len(t, d.m.Units(), 3)
	d.removeRelation("redis")
	plan := d.plan()
	assert.Len(t, plan.Processes, 1, "only the main remains")
	for _, u := range d.m.Units() {
		if u.Name == plan.Main {
			assert.Equal(t, "active", u.WorkloadStatus.Status, u.WorkloadStatus.Message)
			assert.Contains(t, u.WorkloadStatus.Message, "workers need a redis integration")
			continue
		}
		assert.Equal(t, "blocked", u.WorkloadStatus.Status)
		assert.Contains(t, u.WorkloadStatus.Message, "scaling beyond one unit needs a redis integration")
	}
	assert.Equal(t, planServices(plan), d.services(), "workers stopped, nothing stale")
	d.processHealth()
	// Every unit's nginx still serves, through the main.
	for _, u := range d.m.Units() {
		smoke(t, d.ctx, d.register(u.Name, "user"+strings.ReplaceAll(u.Name, "synapse/", "")))
	}
}
