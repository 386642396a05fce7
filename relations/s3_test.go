package relations_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

func TestS3Request(t *testing.T) {
	req := relations.S3Request("media:7")
	assert.Equal(t, "relation-7", req["bucket"])
	assert.Equal(t, `["access-key","secret-key"]`, req["requested-secrets"])
}

func TestParseS3(t *testing.T) {
	track1 := map[string]string{"access-key": "AK", "secret-key": "SK", "bucket": "media", "endpoint": "http://127.0.0.1:9000", "region": "us-east-1", "path": "synapse", "s3-uri-style": "path"}
	got, err := relations.ParseS3(track1, nil)
	require.NoError(t, err)
	assert.Equal(t, &relations.S3{AccessKey: "AK", SecretKey: "SK", Bucket: "media", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", Prefix: "synapse/", PathStyle: true}, got)

	track2 := map[string]string{"secret-extra": "secret:abc", "bucket": "b", "endpoint": "s3.example.com", "lib-version": "1.0"}
	_, err = relations.ParseS3(track2, nil)
	assert.True(t, errors.Is(err, relations.ErrNotReady))
	got, err = relations.ParseS3(track2, map[string]string{"access-key": "A", "secret-key": "S"})
	require.NoError(t, err)
	assert.Equal(t, "https://s3.example.com", got.Endpoint, "a scheme-less endpoint means https")
	assert.False(t, got.PathStyle)

	_, err = relations.ParseS3(map[string]string{"lib-version": "1.0"}, nil)
	assert.True(t, errors.Is(err, relations.ErrNotReady), "track 2 before it answers")
	_, err = relations.ParseS3(map[string]string{"access-key": "A", "secret-key": "S", "bucket": "b", "s3-uri-style": "diagonal"}, nil)
	assert.ErrorContains(t, err, "s3-uri-style")
	_, err = relations.ParseS3(map[string]string{"access-key": "A", "secret-key": "S", "bucket": "b", "endpoint": "ftp://x"}, nil)
	assert.ErrorContains(t, err, "endpoint")

	got, err = relations.ParseS3(map[string]string{"access-key": "A", "secret-key": "S", "bucket": "b", "tls-ca-chain": `["-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----"]`}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----"}, got.CAChain)
	_, err = relations.ParseS3(map[string]string{"access-key": "A", "secret-key": "S", "bucket": "b", "tls-ca-chain": "-----BEGIN"}, nil)
	assert.ErrorContains(t, err, "tls-ca-chain")
}

func TestParseRedis(t *testing.T) {
	r, err := relations.ParseRedis(map[string]string{"leader-host": "redis-k8s-0.redis-k8s-endpoints.m.svc.cluster.local"},
		map[string]map[string]string{"redis-k8s/1": {"hostname": "10.0.0.9", "port": "6379"}})
	require.NoError(t, err)
	assert.Equal(t, &relations.Redis{Host: "redis-k8s-0.redis-k8s-endpoints.m.svc.cluster.local", Port: 6379}, r, "leader-host wins over a unit's hostname")

	r, err = relations.ParseRedis(map[string]string{}, map[string]map[string]string{"redis-k8s/0": {"hostname": "10.0.0.8", "port": "6380"}})
	require.NoError(t, err)
	assert.Equal(t, &relations.Redis{Host: "10.0.0.8", Port: 6380}, r)

	_, err = relations.ParseRedis(map[string]string{}, map[string]map[string]string{})
	assert.True(t, errors.Is(err, relations.ErrNotReady))
	_, err = relations.ParseRedis(map[string]string{}, map[string]map[string]string{"redis-k8s/0": {"hostname": "h", "port": "sixty"}})
	assert.ErrorContains(t, err, "port")
	_, err = relations.ParseRedis(map[string]string{"leader-host": "10.0.0.1"}, nil)
	assert.True(t, errors.Is(err, relations.ErrNotReady), "no redis unit has joined yet: the port is unknown")
	_, err = relations.ParseRedis(map[string]string{"leader-host": "bad host!"}, map[string]map[string]string{"redis-k8s/0": {"port": "6379"}})
	assert.ErrorContains(t, err, "host")
}

func TestUnitReportRoundTrip(t *testing.T) {
	r := relations.UnitReport{Address: "synapse-1.synapse-endpoints.m.svc.cluster.local", IP: "10.0.0.2", AppliedGeneration: 4, Ready: true}
	back, err := relations.ParseUnitReport(r.Bag())
	require.NoError(t, err)
	assert.Equal(t, r, back)
	_, err = relations.ParseUnitReport(map[string]string{"applied-generation": "x"})
	assert.Error(t, err)
	assert.Equal(t, "synapse-3.synapse-endpoints.prod.svc.cluster.local", relations.UnitDNSName("synapse/3", "prod"))
}

func TestIngress(t *testing.T) {
	app := relations.IngressAppData("prod", "synapse", 8080)
	assert.Equal(t, `"prod"`, app["model"], "strings are JSON-encoded")
	assert.Equal(t, `8080`, app["port"])
	unit := relations.IngressUnitData("synapse-0.synapse-endpoints.prod.svc.cluster.local", "10.1.2.3")
	assert.Equal(t, `"10.1.2.3"`, unit["ip"])
	url, err := relations.ParseIngressURL(map[string]string{"ingress": `{"url": "https://matrix.example.com/"}`})
	require.NoError(t, err)
	assert.Equal(t, "https://matrix.example.com/", url)
	url, err = relations.ParseIngressURL(map[string]string{})
	require.NoError(t, err)
	assert.Empty(t, url)
	_, err = relations.ParseIngressURL(map[string]string{"ingress": `not json`})
	assert.Error(t, err)
}

func TestParseLokiEndpoints(t *testing.T) {
	got, err := relations.ParseLokiEndpoints(map[string]map[string]string{
		"loki-k8s/0": {"endpoint": `{"url": "http://loki-k8s-0.loki-k8s-endpoints.m.svc.cluster.local:3100/loki/api/v1/push"}`},
		"loki-k8s/1": {},
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"loki-k8s/0": "http://loki-k8s-0.loki-k8s-endpoints.m.svc.cluster.local:3100/loki/api/v1/push"}, got)
	_, err = relations.ParseLokiEndpoints(map[string]map[string]string{"loki-k8s/0": {"endpoint": "garbage"}})
	assert.ErrorContains(t, err, "loki-k8s/0")
}

func TestDashboardRoundTrip(t *testing.T) {
	templates, err := relations.DashboardTemplates(relations.Topology{Model: "m", App: "synapse", CharmName: "synapse"})
	require.NoError(t, err)
	value := relations.DashboardsValue(templates)
	assert.JSONEq(t, templates, relations.TemplatesOf(value))
	var parsed map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(templates), &parsed))
	content, err := base64.StdEncoding.DecodeString(parsed["file:synapse"]["content"].(string))
	require.NoError(t, err)
	r, err := xz.NewReader(bytes.NewReader(content))
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	var dash map[string]any
	require.NoError(t, json.Unmarshal(data, &dash), "the dashboard decompresses to JSON")
	assert.Equal(t, "Synapse (charm)", dash["title"])
	assert.Equal(t, "synapse", parsed["file:synapse"]["charm"])
}
