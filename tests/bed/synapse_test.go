package bed_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// synapseVersion is the Synapse release the image is expected to carry.
// Debian sid moves: when a rebuilt image brings another release, this test
// says so, and whatever is pinned to the old release must be checked.
const synapseVersion = "1.160.0"

const logYAML = `version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  console:
    class: logging.StreamHandler
    formatter: precise
root:
  level: INFO
  handlers: [console]
disable_existing_loggers: false
`

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestSynapseMonolithSQLite runs one Synapse process, configured and started
// the way a charm would: files pushed and a key generated through Pebble,
// the service started by a layer.
func TestSynapseMonolithSQLite(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	addr := loopback(t)
	port := freePort(t, addr)
	c := startContainer(t, bed.ContainerOptions{
		Name: "synapse", Image: img, Dir: filepath.Join(dir, "c"),
		Binds: []bed.Bind{{HostPath: data, Path: "/data"}},
	})

	push(t, c, "/etc/synapse/log.yaml", logYAML)
	push(t, c, "/etc/synapse/homeserver.yaml", fmt.Sprintf(`server_name: bed.test
public_baseurl: http://%[1]s:%[2]d/
pid_file: /data/homeserver.pid
listeners:
  - {port: %[2]d, bind_addresses: ['%[1]s'], type: http, x_forwarded: true, resources: [{names: [client, federation]}]}
database:
  name: sqlite3
  args: {database: /data/homeserver.db}
log_config: /etc/synapse/log.yaml
media_store_path: /data/media_store
signing_key_path: /data/bed.test.signing.key
registration_shared_secret: %[3]s
macaroon_secret_key: %[4]s
form_secret: %[5]s
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
`, addr, port, randomSecret(), randomSecret(), randomSecret()))
	start := time.Now()
	execIn(t, c, "python3", "-m", "synapse.app.homeserver", "--generate-keys", "-c", "/etc/synapse/homeserver.yaml")
	t.Logf("--generate-keys: %v", time.Since(start).Round(time.Millisecond))
	key, err := os.ReadFile(filepath.Join(data, "bed.test.signing.key"))
	require.NoError(t, err, "the signing key lands in the /data bind")
	assert.True(t, strings.HasPrefix(string(key), "ed25519 "), "signing key: %q", key)

	start = time.Now()
	replan(t, c, fmt.Sprintf(`
services:
  synapse:
    override: replace
    command: python3 -m synapse.app.homeserver -c /etc/synapse/homeserver.yaml
    startup: enabled
checks:
  synapse-ready:
    override: replace
    level: ready
    period: 1s
    http: {url: "http://%s:%d/health"}
`, addr, port))
	base := baseURL(addr, port)
	assert.Equal(t, "OK", string(waitHTTP(t, base+"/health", 60*time.Second)))
	t.Logf("replan to /health = 200: %v", time.Since(start).Round(time.Millisecond))

	status, versions := doJSON(t, http.MethodGet, base+"/_matrix/client/versions", "", nil, 10*time.Second)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, versions["versions"], "v1.1")
	status, server := doJSON(t, http.MethodGet, base+"/_synapse/admin/v1/server_version", "", nil, 10*time.Second)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, synapseVersion, server["server_version"], "the image's Synapse release")
	assert.FileExists(t, filepath.Join(data, "homeserver.db"))
}

// TestSynapseMainAndWorkerReplicateThroughRedis runs the main process and a
// generic worker in two containers (two units, each on its own loopback
// address, finding each other by DNS name through their hosts files), on
// PostgreSQL, Redis (through the txredisapi stand-in) and S3 (through the
// s3_storage_provider stand-in), and checks that an event sent on the main
// wakes a sync long-poll on the worker at once.
func TestSynapseMainAndWorkerReplicateThroughRedis(t *testing.T) {
	bed.RequireRoot(t)
	img := image(t)
	ctx := testContext(t, 3*time.Minute)
	dir := t.TempDir()
	t0 := time.Now()

	pg := startPostgres(t)
	require.NoError(t, pg.CreateRole(ctx, "synapse", "dbpass", false))
	require.NoError(t, pg.CreateDatabase(ctx, "synapse", "synapse", true))
	redis := startRedis(t)
	s3 := startS3(t)
	require.NoError(t, s3.CreateBucket("synapse-media"))
	t.Logf("postgres, redis, s3 ready: %v", time.Since(t0).Round(time.Millisecond))

	const (
		mainHost   = "synapse-0.synapse-endpoints.bed.svc.cluster.local"
		workerHost = "synapse-1.synapse-endpoints.bed.svc.cluster.local"
	)
	mainAddr, workerAddr := loopback(t), loopback(t)
	mainPort, replPort := freePort(t, mainAddr), freePort(t, mainAddr)
	workerPort := freePort(t, workerAddr)
	hosts := filepath.Join(dir, "hosts")
	require.NoError(t, os.WriteFile(hosts, []byte(fmt.Sprintf("127.0.0.1 localhost\n%s %s\n%s %s\n",
		mainAddr, mainHost, workerAddr, workerHost)), 0o644))

	sharedSecret := randomSecret()
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	signingKey := "ed25519 a_bed " + base64.RawStdEncoding.EncodeToString(seed) + "\n"
	homeserver := fmt.Sprintf(`server_name: bed.test
public_baseurl: http://%[1]s:%[2]d/
pid_file: /data/homeserver.pid
listeners:
  - {port: %[2]d, bind_addresses: ['%[1]s'], type: http, x_forwarded: true, resources: [{names: [client, federation]}]}
  - {port: %[3]d, bind_addresses: ['%[1]s'], type: http, resources: [{names: [replication]}]}
database:
  name: psycopg2
  args: {user: synapse, password: dbpass, database: synapse, host: %[4]s, port: %[5]d, cp_min: 1, cp_max: 5}
log_config: /etc/synapse/log.yaml
media_store_path: /data/media_store
signing_key_path: /etc/synapse/signing.key
registration_shared_secret: %[6]s
macaroon_secret_key: %[7]s
form_secret: %[8]s
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
instance_map:
  main: {host: %[9]s, port: %[3]d}
redis: {enabled: true, host: %[10]s, port: %[11]d}
media_storage_providers:
  - module: s3_storage_provider.S3StorageProviderBackend
    store_local: true
    store_remote: true
    store_synchronous: true
    config: {bucket: synapse-media, region_name: %[12]s, endpoint_url: "%[13]s", access_key_id: %[14]s, secret_access_key: %[15]s}
`, mainAddr, mainPort, replPort, pg.Host(), pg.Port(), sharedSecret, randomSecret(), randomSecret(),
		mainHost, redis.Host(), redis.Port(), s3.Region(), s3.Endpoint(), s3.AccessKey(), s3.SecretKey())

	unit := func(name string) *bed.Container {
		data := filepath.Join(dir, name+"-data")
		require.NoError(t, os.Mkdir(data, 0o755))
		c := startContainer(t, bed.ContainerOptions{
			Name: "synapse", Image: img, Dir: filepath.Join(dir, name),
			Binds: []bed.Bind{{HostPath: data, Path: "/data"}}, HostsFile: hosts,
		})
		push(t, c, "/etc/synapse/log.yaml", logYAML)
		push(t, c, "/etc/synapse/signing.key", signingKey)
		push(t, c, "/etc/synapse/homeserver.yaml", homeserver)
		return c
	}
	main, worker := unit("u0"), unit("u1")
	push(t, worker, "/etc/synapse/worker1.yaml", fmt.Sprintf(`worker_app: synapse.app.generic_worker
worker_name: worker1
worker_listeners:
  - {type: http, port: %d, bind_addresses: ['%s'], x_forwarded: true, resources: [{names: [client]}]}
worker_log_config: /etc/synapse/log.yaml
`, workerPort, workerAddr))

	// Workers refuse an unmigrated schema: start the worker once main answers.
	start := time.Now()
	replan(t, main, `
services:
  synapse:
    override: replace
    command: python3 -m synapse.app.homeserver -c /etc/synapse/homeserver.yaml
    startup: enabled
`)
	mainURL, workerURL := baseURL(mainAddr, mainPort), baseURL(workerAddr, workerPort)
	waitHTTP(t, mainURL+"/health", 90*time.Second)
	t.Logf("main healthy (fresh PostgreSQL schema): %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	replan(t, worker, `
services:
  synapse-worker1:
    override: replace
    command: python3 -m synapse.app.generic_worker -c /etc/synapse/homeserver.yaml -c /etc/synapse/worker1.yaml
    startup: enabled
`)
	waitHTTP(t, workerURL+"/health", 60*time.Second)
	t.Logf("worker healthy: %v", time.Since(start).Round(time.Millisecond))

	// The worker reached main's replication listener by DNS name and
	// subscribed to Redis through the stand-in.
	requireLog(t, worker, "synapse-worker1", "Connected to redis", 20*time.Second)
	requireLog(t, worker, "synapse-worker1", "Successfully subscribed to redis stream", 20*time.Second)
	channels, err := redis.Do(ctx, "PUBSUB", "CHANNELS")
	require.NoError(t, err)
	assert.Contains(t, strings.Fields(channels), "bed.test", "main and worker subscribe to the replication channel")

	start = time.Now()
	token := registerAndLogin(t, mainURL, workerURL, sharedSecret, "alice")
	status, room := doJSON(t, http.MethodPost, mainURL+"/_matrix/client/v3/createRoom", token, map[string]any{}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "createRoom: %v", room)
	roomID := room["room_id"].(string)
	status, sync := doJSON(t, http.MethodGet, workerURL+"/_matrix/client/v3/sync?timeout=0", token, nil, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "initial sync on the worker: %v", sync)
	since := sync["next_batch"].(string)
	t.Logf("register, login on worker, createRoom, initial sync: %v", time.Since(start).Round(time.Millisecond))

	// A long-poll on the worker must wake up as soon as main persists the
	// event, which only Redis replication can tell it.
	type woken struct {
		at  time.Time
		err error
	}
	done := make(chan woken, 1)
	go func() {
		at, err := waitForMessage(workerURL, token, roomID, since, "hello from main", 30*time.Second)
		done <- woken{at, err}
	}()
	time.Sleep(500 * time.Millisecond) // let the long-poll settle on the worker
	sent := time.Now()
	status, ev := doJSON(t, http.MethodPut, mainURL+"/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+
		"/send/m.room.message/txn1", token, map[string]any{"msgtype": "m.text", "body": "hello from main"}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "send on main: %v", ev)
	w := <-done
	require.NoError(t, w.err)
	t.Logf("sync long-poll on the worker woke %v after the send on main", w.at.Sub(sent).Round(time.Millisecond))
	assert.Less(t, w.at.Sub(sent), 5*time.Second)

	// Sending on the worker goes to main over HTTP replication.
	status, ev = doJSON(t, http.MethodPut, workerURL+"/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+
		"/send/m.room.message/txn2", token, map[string]any{"msgtype": "m.text", "body": "hello from worker"}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "send on worker: %v", ev)
	status, msgs := doJSON(t, http.MethodGet, mainURL+"/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+
		"/messages?dir=b&limit=5", token, nil, 10*time.Second)
	require.Equal(t, http.StatusOK, status)
	raw, _ := json.Marshal(msgs)
	assert.Contains(t, string(raw), "hello from worker")

	// Media uploaded on main lands in S3 through the storage provider.
	mxc := uploadMedia(t, mainURL, token, "a.txt", []byte("media for s3"))
	mediaID := mxc[strings.LastIndex(mxc, "/")+1:]
	keys, err := s3.ListObjects("synapse-media")
	require.NoError(t, err)
	assert.Contains(t, keys, fmt.Sprintf("local_content/%s/%s/%s", mediaID[:2], mediaID[2:4], mediaID[4:]))
	t.Logf("whole scenario: %v", time.Since(t0).Round(time.Millisecond))
}

// requireLog waits until a service's Pebble log holds text.
func requireLog(t *testing.T, c *bed.Container, service, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		found := false
		err := c.Client().Logs(&client.LogsOptions{Services: []string{service}, N: -1,
			WriteLog: func(e client.LogEntry) error {
				if strings.Contains(e.Message, text) {
					found = true
				}
				return nil
			}})
		require.NoError(t, err)
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s has no %q after %v", service, text, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registerAndLogin registers an admin user on main with the shared secret
// and logs in on the worker, returning the access token.
func registerAndLogin(t *testing.T, mainURL, workerURL, secret, user string) string {
	t.Helper()
	status, nonce := doJSON(t, http.MethodGet, mainURL+"/_synapse/admin/v1/register", "", nil, 10*time.Second)
	require.Equal(t, http.StatusOK, status)
	password := randomSecret()
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(nonce["nonce"].(string) + "\x00" + user + "\x00" + password + "\x00admin"))
	status, reg := doJSON(t, http.MethodPost, mainURL+"/_synapse/admin/v1/register", "", map[string]any{
		"nonce": nonce["nonce"], "username": user, "password": password, "admin": true,
		"mac": hex.EncodeToString(mac.Sum(nil)),
	}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "register: %v", reg)
	status, login := doJSON(t, http.MethodPost, workerURL+"/_matrix/client/v3/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	}, 10*time.Second)
	require.Equal(t, http.StatusOK, status, "login on the worker: %v", login)
	return login["access_token"].(string)
}

// waitForMessage long-polls /sync until a message with this body appears in
// the room, and returns when it saw it. It runs outside the test goroutine,
// so it reports errors instead of failing the test.
func waitForMessage(base, token, roomID, since, body string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: timeout + 5*time.Second}
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, base+"/_matrix/client/v3/sync?timeout=20000&since="+url.QueryEscape(since), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return time.Time{}, err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		at := time.Now()
		if err != nil || resp.StatusCode != http.StatusOK {
			return time.Time{}, fmt.Errorf("sync: %d %s %v", resp.StatusCode, raw, err)
		}
		var sync struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join map[string]struct {
					Timeline struct {
						Events []struct {
							Content map[string]any `json:"content"`
						} `json:"events"`
					} `json:"timeline"`
				} `json:"join"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(raw, &sync); err != nil {
			return time.Time{}, err
		}
		for _, ev := range sync.Rooms.Join[roomID].Timeline.Events {
			if ev.Content["body"] == body {
				return at, nil
			}
		}
		since = sync.NextBatch
	}
	return time.Time{}, fmt.Errorf("no message %q in %s within %v", body, roomID, timeout)
}

// uploadMedia uploads a file and returns its mxc:// URI.
func uploadMedia(t *testing.T, base, token, name string, content []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/_matrix/media/v3/upload?filename="+url.QueryEscape(name), bytes.NewReader(content))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "upload: %s", raw)
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.True(t, strings.HasPrefix(out.ContentURI, "mxc://bed.test/"), "content_uri %q", out.ContentURI)
	return out.ContentURI
}
