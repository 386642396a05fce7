package charm

import (
	"context"
	"errors"
	"fmt"

	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// MediaEndpoint is the s3 relation for the media store.
const MediaEndpoint = "media"

// peerKeyMediaBucket remembers, in the peer app bag, the bucket media went
// to, so the status can say what is missing once S3 is removed.
const peerKeyMediaBucket = "media-bucket"

// s3ProviderPythonModule is what the image must ship for S3 media.
const s3ProviderPythonModule = "s3_storage_provider"

// media returns the S3 bucket for media, nil when not integrated or not
// ready. The leader writes the request once; both s3-integrator tracks
// answer it.
func (c *charm) media(ctx context.Context, s *Snapshot) (*workload.S3Media, string, *verdict, error) {
	rel := s.Media
	if rel == nil {
		return nil, "", nil, nil
	}
	if rel.Pending {
		return nil, "joining the media relation", nil, nil
	}
	if err := c.s3Request(ctx, s, rel); err != nil {
		return nil, "", nil, err
	}
	parsed, err := c.s3Bucket(ctx, rel)
	switch {
	case errors.Is(err, ErrRetry):
		return nil, "", nil, err
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Sprintf("media stays local until %s provides a bucket", rel.RemoteApp), nil, nil
	case err != nil:
		v := blocked("media relation from %s is malformed: %v", rel.RemoteApp, err)
		return nil, "", &v, nil
	}
	return &workload.S3Media{
		Bucket: parsed.Bucket, Endpoint: parsed.Endpoint, Region: parsed.Region, Prefix: parsed.Prefix,
		PathStyle: parsed.PathStyle, AccessKey: parsed.AccessKey, SecretKey: parsed.SecretKey,
	}, "", nil, nil
}

// checkMediaModule blocks when S3 media is wanted but the image lacks the
// storage provider. It runs the check only when S3 media is not yet in the
// unit's configuration, so a settled unit pays nothing.
func (c *charm) checkMediaModule(ctx context.Context, pc pebbleClient, remoteApp string) (*verdict, error) {
	configured, err := container.FileContains(pc, workload.HomeserverPath, workload.S3ProviderModule)
	if err != nil || configured {
		return nil, err
	}
	ok, err := container.HasPythonModule(ctx, pc, s3ProviderPythonModule)
	if err != nil {
		return nil, err
	}
	if !ok {
		v := blocked("S3 media needs the %s Python module (synapse-s3-storage-provider) in the synapse image: use an image that ships it, or juju remove-relation %s:%s %s", s3ProviderPythonModule, c.ev.App, MediaEndpoint, remoteApp)
		return &v, nil
	}
	return nil, nil
}
