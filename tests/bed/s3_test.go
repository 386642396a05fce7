package bed_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

func startS3(t *testing.T) *bed.S3 {
	t.Helper()
	s3, err := bed.StartS3(testContext(t, time.Minute), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s3.Stop()) })
	return s3
}

// TestS3PutGetOverHTTP speaks plain path-style HTTP: gofakes3 does not check
// signatures.
func TestS3PutGetOverHTTP(t *testing.T) {
	s3 := startS3(t)
	require.NoError(t, s3.CreateBucket("media"))

	body := bytes.Repeat([]byte("synapse"), 10000)
	req, err := http.NewRequest(http.MethodPut, s3.Endpoint()+"/media/local_content/ab/cd/efgh", bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Get(s3.Endpoint() + "/media/local_content/ab/cd/efgh")
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, body, got)

	keys, err := s3.ListObjects("media")
	require.NoError(t, err)
	assert.Equal(t, []string{"local_content/ab/cd/efgh"}, keys)

	_, err = s3.ListObjects("nosuchbucket")
	assert.Error(t, err)

	require.NoError(t, s3.Stop())
	_, err = http.Get(s3.Endpoint() + "/media/")
	assert.Error(t, err, "nothing listens after Stop")
}

// TestS3WithBoto3 uses a real S3 client, the host's Debian boto3, with
// signed requests and path-style addressing.
func TestS3WithBoto3(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("host /usr/bin/python3 has no boto3 (apt-get install python3-boto3)")
	}
	s3 := startS3(t)
	script := filepath.Join(t.TempDir(), "s3.py")
	require.NoError(t, os.WriteFile(script, []byte(`
import os, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["EP"], region_name="us-east-1",
                 aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"],
                 config=Config(s3={"addressing_style": "path"}))
c.create_bucket(Bucket="synapse-media")
c.put_object(Bucket="synapse-media", Key="a/b.txt", Body=b"x" * 100000)
assert c.get_object(Bucket="synapse-media", Key="a/b.txt")["Body"].read() == b"x" * 100000
print(" ".join(o["Key"] for o in c.list_objects_v2(Bucket="synapse-media")["Contents"]))
`), 0o644))
	cmd := exec.Command("/usr/bin/python3", script)
	cmd.Env = append(os.Environ(), "EP="+s3.Endpoint(), "AK="+s3.AccessKey(), "SK="+s3.SecretKey())
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("boto3 create, put 100 kB, get, list: %v", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, "a/b.txt", strings.TrimSpace(string(out)))
	keys, err := s3.ListObjects("synapse-media")
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b.txt"}, keys)
}
