package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/s3store"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

func startS3(t *testing.T) (*s3store.Client, *bed.S3) {
	t.Helper()
	s3, err := bed.StartS3(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3.Stop() })
	require.NoError(t, s3.CreateBucket("backups"))
	return &s3store.Client{
		Endpoint: s3.Endpoint(), Region: s3.Region(), Bucket: "backups", PathStyle: true,
		AccessKey: s3.AccessKey(), SecretKey: s3.SecretKey(),
	}, s3
}

func TestPutGetHeadDelete(t *testing.T) {
	ctx := context.Background()
	c, _ := startS3(t)
	n, err := c.Put(ctx, "p/synapse-backups/1", bytes.NewReader([]byte("hello")), map[string]string{"unit": "synapse/0"})
	require.NoError(t, err)
	assert.EqualValues(t, 5, n)

	head, err := c.Head(ctx, "p/synapse-backups/1")
	require.NoError(t, err)
	assert.EqualValues(t, 5, head.Size)
	assert.Equal(t, "synapse/0", head.Metadata["unit"])

	body, obj, err := c.Get(ctx, "p/synapse-backups/1")
	require.NoError(t, err)
	data, err := io.ReadAll(body)
	body.Close()
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))
	assert.Equal(t, "synapse/0", obj.Metadata["unit"])

	require.NoError(t, c.Delete(ctx, "p/synapse-backups/1"))
	_, err = c.Head(ctx, "p/synapse-backups/1")
	assert.ErrorIs(t, err, s3store.ErrNotFound)
}

func TestMissingKeyIsNotFound(t *testing.T) {
	ctx := context.Background()
	c, _ := startS3(t)
	_, _, err := c.Get(ctx, "nope")
	assert.ErrorIs(t, err, s3store.ErrNotFound)
	_, err = c.Head(ctx, "nope")
	assert.ErrorIs(t, err, s3store.ErrNotFound)
	var s3err *s3store.Error
	require.ErrorAs(t, err, &s3err)
	assert.Equal(t, 404, s3err.Status)
}

func TestListFollowsPages(t *testing.T) {
	ctx := context.Background()
	c, _ := startS3(t)
	c.PageSize = 2
	for i := range 7 {
		_, err := c.Put(ctx, fmt.Sprintf("a/%02d", i), bytes.NewReader([]byte{byte(i)}), nil)
		require.NoError(t, err)
	}
	_, err := c.Put(ctx, "b/other", bytes.NewReader([]byte("x")), nil)
	require.NoError(t, err)

	objects, err := c.List(ctx, "a/")
	require.NoError(t, err)
	require.Len(t, objects, 7)
	for i, o := range objects {
		assert.Equal(t, fmt.Sprintf("a/%02d", i), o.Key)
		assert.EqualValues(t, 1, o.Size)
	}
	empty, err := c.List(ctx, "none/")
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestMultipartPut(t *testing.T) {
	ctx := context.Background()
	c, s3 := startS3(t)
	c.PartSize = 5 << 20
	data := make([]byte, 12<<20+123)
	_, _ = rand.Read(data)
	n, err := c.Put(ctx, "big", bytes.NewReader(data), map[string]string{"backup-id": "42"})
	require.NoError(t, err)
	assert.EqualValues(t, len(data), n)
	body, _, err := c.Get(ctx, "big")
	require.NoError(t, err)
	got, err := io.ReadAll(body)
	body.Close()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got), "multipart object reads back identical")
	keys, err := s3.ListObjects("backups")
	require.NoError(t, err)
	assert.Equal(t, []string{"big"}, keys)
}

func TestFailedPutLeavesNoObject(t *testing.T) {
	ctx := context.Background()
	c, s3 := startS3(t)
	c.PartSize = 5 << 20
	r := io.MultiReader(bytes.NewReader(make([]byte, 6<<20)), failingReader{})
	_, err := c.Put(ctx, "broken", r, nil)
	require.Error(t, err)
	keys, err := s3.ListObjects("backups")
	require.NoError(t, err)
	assert.Empty(t, keys)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fmt.Errorf("source broke") }

func TestAddressingStyles(t *testing.T) {
	path := &s3store.Client{Endpoint: "http://10.0.0.1:9000", Bucket: "b", PathStyle: true}
	u, err := path.URL("x/y z", nil)
	require.NoError(t, err)
	assert.Equal(t, "http://10.0.0.1:9000/b/x/y%20z", u.String())

	host := &s3store.Client{Region: "eu-west-1", Bucket: "b"}
	u, err = host.URL("k", url.Values{"list-type": {"2"}})
	require.NoError(t, err)
	assert.Equal(t, "https://b.s3.eu-west-1.amazonaws.com/k?list-type=2", u.String())
}

func TestErrorsNeverCarryTheSecret(t *testing.T) {
	c := &s3store.Client{Endpoint: "http://127.0.0.1:1", Bucket: "b", PathStyle: true, AccessKey: "AKID", SecretKey: "very-secret"}
	_, err := c.Head(context.Background(), "k")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "very-secret")
}
