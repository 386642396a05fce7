package charm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

func (u *unit) action(name string, params map[string]any) map[string]string {
	u.t.Helper()
	u.mem.SetActionParams(params)
	u.runEvent(juju.Event{Name: name, IsAction: true, Unit: "synapse/0", App: "synapse", Model: "test"})
	failed, msg := u.mem.ActionFailed()
	require.False(u.t, failed, "action %s failed: %s", name, msg)
	return u.mem.ActionResults()
}

// TestMediaGoesToS3 integrates an s3-integrator (track 1 data) on a real
// S3 server: an upload lands in the bucket and downloads back, and the S3
// secret key is in no rendered config but the 0600 credentials file.
func TestMediaGoesToS3(t *testing.T) {
	ctx := context.Background()
	u := newUnit(t)
	dir, err := os.MkdirTemp("/tmp", "s3")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	s3, err := bed.StartS3(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Stop() })
	require.NoError(t, s3.CreateBucket("synapse-media"))

	u.run("config-changed")
	id := u.mem.AddRelation("media", "s3-integrator", "s3-integrator/0")
	u.run("media-relation-joined")
	assert.Equal(t, "relation-1", u.mem.RelationData(id, "synapse", true)["bucket"])
	assert.Contains(t, u.mem.UnitStatus().Message, "media stays local")
	u.mem.SetRelationData(id, "s3-integrator", true, map[string]string{
		"access-key": s3.AccessKey(), "secret-key": s3.SecretKey(), "bucket": "synapse-media",
		"endpoint": s3.Endpoint(), "region": s3.Region(), "s3-uri-style": "path",
	})
	u.run("media-relation-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)

	res := u.action("register-user", map[string]any{"username": "alice", "admin": false})
	require.NotEmpty(t, res["user-password"])
	assert.Equal(t, "@alice:test.local", res["user-id"])
	alice := matrix.New("http://" + u.addr + ":8008")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, alice.Login(ctx, "alice", res["user-password"]))
	mxc, err := alice.Upload(ctx, "hello.txt", "text/plain", []byte("hello from S3"))
	require.NoError(t, err)
	objects, err := s3.ListObjects("synapse-media")
	require.NoError(t, err)
	require.Len(t, objects, 1)
	assert.True(t, strings.HasPrefix(objects[0], "local_content/"), objects[0])
	data, err := alice.Download(ctx, mxc)
	require.NoError(t, err)
	assert.Equal(t, "hello from S3", string(data))

	assert.NotContains(t, u.file(workload.HomeserverPath), s3.SecretKey())
	fi, err := os.Stat(filepath.Join(u.dir, "data", "secrets", "aws-credentials"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// Removing S3: media returns to the unit, and the status says what is
	// no longer served.
	u.mem.RemoveRelation(id)
	u.run("media-relation-broken")
	st = u.mem.UnitStatus()
	assert.Equal(t, juju.Active, st.Status)
	assert.Contains(t, st.Message, "media stored only in S3 bucket synapse-media is not served until S3 is integrated again")
	assert.NotContains(t, u.file(workload.HomeserverPath), "media_storage_providers")
	assert.NoFileExists(t, filepath.Join(u.dir, "data", "secrets", "aws-credentials"), "no stale S3 credentials left behind")
}

func TestPythonModuleCheck(t *testing.T) {
	u := newUnit(t)
	ok, err := container.HasPythonModule(context.Background(), u.container.Client(), "json")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = container.HasPythonModule(context.Background(), u.container.Client(), "no_such_module_here")
	require.NoError(t, err)
	assert.False(t, ok)
}
