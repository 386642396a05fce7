package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/juju/juju/api/client/application"
	"github.com/juju/juju/core/model"
	"github.com/juju/juju/rpc/params"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ports the charm gives Synapse and nginx (workload/paths.go and
// workload.Ports): nginx on every unit, the main's HTTP listener, and a
// worker's at 8100+index.
const (
	nginxPort  = 8080
	mainPort   = 8008
	workerBase = 8100
)

// TestSynapseOnJuju is the operator's story on a real controller, one step
// after another in one model (each step builds on the previous one; after a
// failure the remaining steps are skipped):
//
//	deploy -> postgresql -> redis -> scale to 3 -> Matrix smoke -> media in S3
//	-> scale to 1 and back to 3 -> the main unit's pod goes -> remove redis
func TestSynapseOnJuju(t *testing.T) {
	if reason := skipReason(os.Getenv); reason != "" {
		t.Skip(reason)
	}
	requireTimeout(t, 90*time.Minute)
	s, err := loadSettings(os.Getenv)
	require.NoError(t, err)
	st := &story{s: s, j: openJuju(t, s)}

	st.step(t, "deploy", st.deploy)
	st.step(t, "postgresql", st.postgresql)
	st.step(t, "redis", st.redis)
	st.step(t, "scale-to-3", st.scaleToThree)
	st.step(t, "matrix-smoke", st.matrixSmoke)
	st.step(t, "media-in-s3", st.mediaInS3)
	st.step(t, "scale-to-1-and-back", st.scaleDownAndUp)
	st.step(t, "main-unit-pod-lost", st.mainPodLost)
	st.step(t, "remove-redis", st.removeRedis)
}

// requireTimeout fails at once when go test's -timeout would kill the
// suite half-way (the default is 10 minutes), leaving a half-built model.
func requireTimeout(t *testing.T, need time.Duration) {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return
	}
	if d, ok := f.Value.(flag.Getter).Get().(time.Duration); ok && d > 0 && d < need {
		t.Fatalf("go test -timeout is %s; this suite needs up to about %s on a fresh cluster: run it with -timeout 120m", d, need)
	}
}

// story is the state the steps share.
type story struct {
	s      settings
	j      *juju
	failed string

	main string // the main unit, sticky since the first deploy
	plan plan   // the plan after the last step

	alice, bob *matrixClient
	room       string
	lastSent   string // the latest message in room
}

// step runs one step as a subtest; once a step fails the later ones skip,
// since each builds on the model the previous ones left.
func (st *story) step(t *testing.T, name string, f func(t *testing.T)) {
	ok := t.Run(name, func(t *testing.T) {
		if st.failed != "" {
			t.Skipf("skipped: step %q failed and this step builds on it", st.failed)
		}
		f(t)
	})
	if !ok && st.failed == "" {
		st.failed = name
	}
}

// expectedMessage is the status message the charm sets on an active unit
// of plan p: "main, N processes" on the main unit, "workers: a, b" on the
// others (charm/reconcile.go), with no trailing "; note" (a note means the
// unit still serves on SQLite, keeps media local, or lacks an integration).
func expectedMessage(p plan, unit string) string {
	local := p.onUnit(unit)
	if unit == p.Main {
		if len(local) == 1 {
			return "main, 1 process"
		}
		return fmt.Sprintf("main, %d processes", len(local))
	}
	return "workers: " + strings.Join(local, ", ")
}

// waitCluster waits until synapse has n units, all active and idle, every
// unit's message says what the plan in the peer relation gives it (the
// process roles, as the operator sees them), the other applications are
// active, and extra (if any) holds. It returns the plan and the units.
func (st *story) waitCluster(t *testing.T, what string, n int, timeout time.Duration, others []string, extra func(plan, []unit) error) (plan, []unit) {
	t.Helper()
	var p plan
	fs := st.j.waitFor(t, what, timeout, func(fs *params.FullStatus) error {
		for _, app := range others {
			if err := settled(fs, app, -1, "active"); err != nil {
				return err
			}
		}
		if err := settled(fs, "synapse", n, "active"); err != nil {
			return err
		}
		us := units(fs, "synapse")
		var err error
		if p, err = st.j.readPlan(us[0].Name); err != nil {
			return err
		}
		if err := planMatchesUnits(p, us); err != nil {
			return err
		}
		for _, u := range us {
			if want := expectedMessage(p, u.Name); u.Message != want {
				return fmt.Errorf("%s says %q, want %q for plan %d", u.Name, u.Message, want, p.Generation)
			}
		}
		if extra != nil {
			return extra(p, us)
		}
		return nil
	})
	us := units(fs, "synapse")
	t.Logf("plan %d: main %s, processes %v; statuses %v", p.Generation, p.Main, p.Processes, us)
	st.plan = p
	return p, us
}

// planMatchesUnits checks that the plan names only live units, one of them
// the main, running the main process.
func planMatchesUnits(p plan, us []unit) error {
	live := map[string]bool{}
	for _, u := range us {
		live[u.Name] = true
	}
	if !live[p.Main] {
		return fmt.Errorf("plan %d names main %s, which is not a unit", p.Generation, p.Main)
	}
	if m, ok := p.process("main"); !ok || m.Unit != p.Main || m.Role != "main" {
		return fmt.Errorf("plan %d: the main process is %+v, want it on %s", p.Generation, m, p.Main)
	}
	for _, proc := range p.Processes {
		if !live[proc.Unit] {
			return fmt.Errorf("plan %d puts %s on %s, which is not a unit", p.Generation, proc.Name, proc.Unit)
		}
	}
	return nil
}

// nginxURL is a unit's nginx, by pod IP.
func nginxURL(u unit) string {
	return "http://" + net.JoinHostPort(u.Address, strconv.Itoa(nginxPort))
}

func byName(us []unit, name string) unit {
	for _, u := range us {
		if u.Name == name {
			return u
		}
	}
	return unit{Name: name}
}

// workers are the units that are not the main, by number.
func workers(p plan, us []unit) []unit {
	var out []unit
	for _, u := range us {
		if u.Name != p.Main {
			out = append(out, u)
		}
	}
	return out
}

// processHealth asserts that every process of the plan answers Synapse's
// /health on its own listener, on its unit.
func processHealth(t *testing.T, p plan, us []unit) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, proc := range p.Processes {
		port := mainPort
		if proc.Index > 0 {
			port = workerBase + proc.Index
		}
		u := byName(us, proc.Unit)
		addr := "http://" + net.JoinHostPort(u.Address, strconv.Itoa(port)) + "/health"
		resp, err := c.Get(addr)
		if !assert.NoError(t, err, "%s (%s) on %s; the test runner must reach pod IPs", proc.Name, proc.Role, proc.Unit) {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s on %s: %s", proc.Name, proc.Unit, body)
	}
}

func matrixCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// send sends text as c and remembers it as the room's latest message.
func (st *story) send(t *testing.T, ctx context.Context, c *matrixClient, text string) {
	t.Helper()
	_, err := c.send(ctx, st.room, text)
	require.NoError(t, err, "send %q through %s", text, c.base)
	st.lastSent = text
}

// deploy: the packed charm with its two OCI images and server_name; one
// unit, a monolith on SQLite, active, its nginx answering Matrix clients.
func (st *story) deploy(t *testing.T) {
	st.j.deploy(t, st.s.Charm, "synapse",
		"--resource", "synapse-image="+st.s.SynapseImage,
		"--resource", "synapse-nginx-image="+st.s.NginxImage,
		"--config", "server_name="+st.s.ServerName)
	p, us := st.waitCluster(t, "synapse/0 active", 1, 25*time.Minute, nil, nil)
	u := us[0]
	assert.Equal(t, "main, 1 process", u.Message, "one unit is a monolith")
	assert.Equal(t, u.Name, p.Main)
	require.Len(t, p.Processes, 1, "no workers without PostgreSQL and Redis")
	st.main = p.Main

	ctx := matrixCtx(t)
	versions, err := newMatrixClient(nginxURL(u)).versions(ctx)
	require.NoError(t, err, "Matrix client API through nginx on %s", u.Name)
	assert.Contains(t, versions, "v1.11")
}

// postgresql: integrating postgresql-k8s moves Synapse off SQLite; the
// status loses its "serving on SQLite" note.
func (st *story) postgresql(t *testing.T) {
	st.j.deploy(t, "postgresql-k8s", "--channel", st.s.PostgresChannel, "--trust")
	st.j.integrate(t, "synapse:database", "postgresql-k8s:database")
	p, us := st.waitCluster(t, "synapse on PostgreSQL", 1, 30*time.Minute, []string{"postgresql-k8s"}, nil)
	assert.Equal(t, "main, 1 process", us[0].Message, "on PostgreSQL, with no note")
	assert.Equal(t, st.main, p.Main)
	assert.Len(t, p.Processes, 1, "still a monolith: no Redis yet")
}

// redis: with PostgreSQL and Redis, the duties become worker slots even on
// one unit, so that scaling up later only adds generic workers.
func (st *story) redis(t *testing.T) {
	before := st.plan
	st.j.deploy(t, "redis-k8s", "--channel", st.s.RedisChannel)
	st.j.integrate(t, "synapse:redis", "redis-k8s:redis")
	p, us := st.waitCluster(t, "synapse with Redis", 1, 20*time.Minute, []string{"postgresql-k8s", "redis-k8s"},
		func(p plan, _ []unit) error {
			if len(p.Processes) < 2 {
				return fmt.Errorf("plan %d has only %v: no worker slots yet", p.Generation, p.Processes)
			}
			return nil
		})
	assert.Equal(t, st.main, p.Main)
	assert.Greater(t, p.Generation, before.Generation)
	assert.Regexp(t, `^main, [2-9] processes$`, us[0].Message)
	for _, proc := range p.Processes {
		assert.Equal(t, st.main, proc.Unit, "one unit runs every process")
		assert.NotEqual(t, "generic", proc.Role, "the main unit runs no generic worker")
	}
}

// scaleToThree: scale-application synapse 3 gives one main and two units
// each running one generic worker; the duties placed on the main stay
// there; every process answers /health.
func (st *story) scaleToThree(t *testing.T) {
	before := st.plan
	st.j.scale(t, "synapse", 3)
	p, us := st.waitCluster(t, "three active units", 3, 20*time.Minute, []string{"postgresql-k8s", "redis-k8s"}, nil)
	assert.Equal(t, st.main, p.Main, "the main is sticky")
	assert.True(t, strings.HasPrefix(byName(us, p.Main).Message, "main, "), byName(us, p.Main).Message)
	var msgs []string
	for _, u := range workers(p, us) {
		msgs = append(msgs, u.Message)
		require.Len(t, p.onUnit(u.Name), 1, "%s runs one process", u.Name)
		proc, _ := p.process(p.onUnit(u.Name)[0])
		assert.Equal(t, "generic", proc.Role, "%s runs a generic worker", u.Name)
	}
	slices.Sort(msgs)
	assert.Equal(t, []string{"workers: generic-1", "workers: generic-2"}, msgs)
	for _, old := range before.Processes {
		now, ok := p.process(old.Name)
		if assert.True(t, ok, "slot %s kept", old.Name) {
			assert.Equal(t, old.Unit, now.Unit, "scaling up moved %s", old.Name)
		}
	}
	processHealth(t, p, us)
}

// matrixSmoke: users registered with the register-user action log in,
// create a room, send and sync, through different units' nginx; media
// uploaded through one unit downloads through another.
func (st *story) matrixSmoke(t *testing.T) {
	_, us := st.waitCluster(t, "three active units", 3, 5*time.Minute, nil, nil)
	ctx := matrixCtx(t)
	ws := workers(st.plan, us)
	main := byName(us, st.plan.Main)

	// A generated password comes back in user-password.
	out := st.j.runAction(t, ws[0].Name, "register-user", map[string]any{"username": "alice"})
	assert.Equal(t, "@alice:"+st.s.ServerName, out["user-id"])
	alicePassword, _ := out["user-password"].(string)
	require.NotEmpty(t, alicePassword, "register-user returns the generated password: %v", out)
	// A given password is not echoed back.
	bobPassword := randomHex(t, 16)
	out = st.j.runAction(t, ws[1].Name, "register-user", map[string]any{"username": "bob", "password": bobPassword})
	assert.Equal(t, "@bob:"+st.s.ServerName, out["user-id"])
	assert.NotContains(t, out, "user-password")

	st.alice = newMatrixClient(nginxURL(ws[0]))
	require.NoError(t, st.alice.login(ctx, "alice", alicePassword), "log in through %s", ws[0].Name)
	st.bob = newMatrixClient(nginxURL(ws[1]))
	require.NoError(t, st.bob.login(ctx, "bob", bobPassword), "log in through %s", ws[1].Name)
	assert.Equal(t, "@alice:"+st.s.ServerName, st.alice.userID)

	var err error
	st.room, err = st.alice.createRoom(ctx, st.bob.userID)
	require.NoError(t, err)
	require.NoError(t, st.bob.join(ctx, st.room))

	text := "hello through " + ws[0].Name
	st.send(t, ctx, st.alice, text)
	require.NoError(t, st.bob.waitForMessage(ctx, st.room, text), "sent through %s, synced through %s", ws[0].Name, ws[1].Name)
	text = "reply through " + main.Name
	st.send(t, ctx, st.bob.via(nginxURL(main)), text)
	require.NoError(t, st.alice.waitForMessage(ctx, st.room, text), "sent through %s, synced through %s", main.Name, ws[0].Name)

	data := []byte("a file, stored by the main: " + randomHex(t, 8))
	mxc, err := st.alice.upload(ctx, "local.txt", "text/plain", data)
	require.NoError(t, err)
	got, err := st.bob.download(ctx, mxc)
	require.NoError(t, err)
	assert.Equal(t, data, got, "uploaded through %s, downloaded through %s", ws[0].Name, ws[1].Name)
}

// mediaInS3: s3-integrator, configured for the bucket from the
// environment, gives Synapse its media store: a media worker appears in
// the plan and in a unit's status, media uploaded through one unit
// downloads through another, and the object is in the bucket.
func (st *story) mediaInS3(t *testing.T) {
	s3 := st.s.S3
	if s3 == nil {
		t.Skip("SYNAPSE_S3_ENDPOINT, SYNAPSE_S3_BUCKET, SYNAPSE_S3_ACCESS_KEY and SYNAPSE_S3_SECRET_KEY are not set: no bucket for the media scenario")
	}
	bucket := s3Client(t, s3)

	st.j.deploy(t, "s3-integrator", "--channel", st.s.S3IntegratorChannel)
	st.j.waitFor(t, "s3-integrator installed", 15*time.Minute, func(fs *params.FullStatus) error {
		// It is blocked until it has credentials.
		for _, u := range units(fs, "s3-integrator") {
			if u.Agent == "idle" && (u.Workload == "blocked" || u.Workload == "active") {
				return nil
			}
		}
		return fmt.Errorf("s3-integrator: %v", units(fs, "s3-integrator"))
	})
	config := map[string]string{
		"endpoint":     s3.Endpoint,
		"bucket":       s3.Bucket,
		"region":       s3.Region,
		"s3-uri-style": s3.URIStyle,
	}
	if s3.Path != "" {
		config["path"] = s3.Path
	}
	require.NoError(t, st.j.apps.SetConfig(model.GenerationMaster, "s3-integrator", "", config))
	st.j.runAction(t, "s3-integrator/leader", "sync-s3-credentials", map[string]any{"access-key": s3.AccessKey, "secret-key": s3.SecretKey})
	st.j.waitFor(t, "s3-integrator active", 10*time.Minute, func(fs *params.FullStatus) error {
		return settled(fs, "s3-integrator", -1, "active")
	})
	st.j.integrate(t, "synapse:media", "s3-integrator:s3-credentials")
	p, us := st.waitCluster(t, "media in S3", 3, 15*time.Minute, []string{"s3-integrator"}, func(p plan, _ []unit) error {
		if _, ok := p.process("media-1"); !ok {
			return fmt.Errorf("plan %d has no media-1 worker yet", p.Generation)
		}
		return nil
	})
	media, _ := p.process("media-1")
	assert.Equal(t, "media", media.Role)
	assert.NotEqual(t, p.Main, media.Unit, "media moves off the main once S3 holds it")
	assert.Contains(t, byName(us, media.Unit).Message, "media-1", "the media worker's unit says so")
	processHealth(t, p, us)
	ctx := matrixCtx(t)

	// Upload through a unit that does not run the media worker, download
	// through a third one.
	var up, down unit
	for _, u := range us {
		switch {
		case u.Name == media.Unit:
		case up.Name == "":
			up = u
		default:
			down = u
		}
	}
	if down.Name == "" {
		down = byName(us, media.Unit)
	}
	data := []byte("a file, stored in S3: " + randomHex(t, 8))
	mxc, err := st.alice.via(nginxURL(up)).upload(ctx, "s3.txt", "text/plain", data)
	require.NoError(t, err, "upload through %s", up.Name)
	got, err := st.bob.via(nginxURL(down)).download(ctx, mxc)
	require.NoError(t, err, "download through %s", down.Name)
	assert.Equal(t, data, got)

	// The object is in the bucket (synapse-s3-storage-provider keeps
	// local_content/ab/cd/<rest of the media ID> under the path).
	mediaID := mxc[strings.LastIndexByte(mxc, '/')+1:]
	var key string
	deadline := time.Now().Add(2 * time.Minute)
	for key == "" {
		for obj := range bucket.ListObjects(ctx, s3.Bucket, minio.ListObjectsOptions{Prefix: s3.Path, Recursive: true}) {
			require.NoError(t, obj.Err)
			if strings.Contains(strings.ReplaceAll(obj.Key, "/", ""), mediaID) {
				key = obj.Key
			}
		}
		if key == "" {
			require.False(t, time.Now().After(deadline), "no object for media %s in bucket %s under %q", mediaID, s3.Bucket, s3.Path)
			time.Sleep(pollEvery)
		}
	}
	obj, err := bucket.GetObject(ctx, s3.Bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err)
	stored, err := io.ReadAll(obj)
	obj.Close()
	require.NoError(t, err)
	assert.Equal(t, data, stored, "object %s", key)
	t.Logf("media %s is object %s in bucket %s", mxc, key, s3.Bucket)
}

// s3Client connects to the scenario's bucket, creating it if missing
// (s3-integrator hands out a bucket; it does not create one).
func s3Client(t *testing.T, s *s3Settings) *minio.Client {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	require.NoError(t, err)
	lookup := minio.BucketLookupDNS
	if s.URIStyle == "path" {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       s.Region,
		BucketLookup: lookup,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ok, err := c.BucketExists(ctx, s.Bucket)
	require.NoError(t, err, "S3 at %s (from the test runner)", s.Endpoint)
	if !ok {
		require.NoError(t, c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region}))
		t.Logf("created bucket %s", s.Bucket)
	}
	return c
}

// scaleDownAndUp: scaled to one unit, the main runs every duty alone and
// serves what was sent before; scaled back to three, the two new units run
// one generic worker each, and the duties stay on the main (scaling never
// moves a duty off it).
func (st *story) scaleDownAndUp(t *testing.T) {
	others := []string{"postgresql-k8s", "redis-k8s"}
	if st.s.S3 != nil {
		others = append(others, "s3-integrator")
	}
	st.j.scale(t, "synapse", 1)
	p, us := st.waitCluster(t, "one unit", 1, 15*time.Minute, others, nil)
	assert.Equal(t, st.main, p.Main, "the main keeps its unit")
	for _, proc := range p.Processes {
		assert.NotEqual(t, "generic", proc.Role, "no generic worker on the main: %s", proc.Name)
	}
	alone := p
	main := us[0]
	ctx := matrixCtx(t)
	require.NoError(t, st.alice.via(nginxURL(main)).waitForMessage(ctx, st.room, st.lastSent), "history through %s", main.Name)
	st.send(t, ctx, st.alice.via(nginxURL(main)), "while "+main.Name+" is alone")

	st.j.scale(t, "synapse", 3)
	p, us = st.waitCluster(t, "three units again", 3, 20*time.Minute, others, nil)
	assert.Equal(t, st.main, p.Main)
	var msgs []string
	for _, u := range workers(p, us) {
		msgs = append(msgs, u.Message)
	}
	slices.Sort(msgs)
	assert.Equal(t, []string{"workers: generic-1", "workers: generic-2"}, msgs)
	for _, old := range alone.Processes {
		now, ok := p.process(old.Name)
		if assert.True(t, ok, "slot %s kept", old.Name) {
			assert.Equal(t, st.main, now.Unit, "scaling up moved %s off the main", old.Name)
		}
	}
	processHealth(t, p, us)
	ctx = matrixCtx(t)
	ws := workers(p, us)
	require.NoError(t, st.bob.via(nginxURL(ws[1])).waitForMessage(ctx, st.room, st.lastSent), "history through %s", ws[1].Name)
	st.send(t, ctx, st.alice.via(nginxURL(ws[0])), "after scaling back, through "+ws[0].Name)
	require.NoError(t, st.bob.via(nginxURL(main)).waitForMessage(ctx, st.room, st.lastSent))
}

// mainPodLost: Juju on Kubernetes refuses `juju remove-unit synapse/0`
// (only `--num-units`, which removes the highest-numbered pods), so the
// main unit (the first leader, synapse/0) cannot be removed on its own.
// What does happen to it is losing its pod: this step deletes it and
// checks that Kubernetes' new pod comes back as the same main, the plan
// does not change, every unit is active again, and nothing sent before is
// lost.
func (st *story) mainPodLost(t *testing.T) {
	others := []string{"postgresql-k8s", "redis-k8s"}
	if st.s.S3 != nil {
		others = append(others, "s3-integrator")
	}
	before := st.plan

	_, err := st.j.apps.DestroyUnits(application.DestroyUnitsParams{Units: []string{before.Main}})
	require.Error(t, err, "Juju removed %s from a Kubernetes model: this step can now assert a new main", before.Main)
	require.True(t, params.IsCodeNotSupported(err), "removing %s: %v", before.Main, err)
	t.Logf("juju remove-unit %s: %v; deleting its pod instead", before.Main, err)

	if _, err := exec.LookPath(st.s.Kubectl[0]); err != nil {
		t.Skipf("deleting the main unit's pod needs kubectl (%v): set SYNAPSE_IT_KUBECTL, e.g. \"microk8s kubectl\"", err)
	}
	pod := strings.ReplaceAll(before.Main, "/", "-")
	kubectl := func(args ...string) string {
		t.Helper()
		args = append(append(st.s.Kubectl[1:len(st.s.Kubectl):len(st.s.Kubectl)], "-n", st.j.model), args...)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, st.s.Kubectl[0], args...).CombinedOutput()
		require.NoError(t, err, "%s %s: %s", st.s.Kubectl[0], strings.Join(args, " "), out)
		return strings.TrimSpace(string(out))
	}
	uid := kubectl("get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
	deleted := time.Now()
	kubectl("delete", "pod", pod, "--wait=false")
	t.Logf("deleted pod %s (uid %s) of the main unit %s", pod, uid, before.Main)

	p, us := st.waitCluster(t, "the main back from a new pod", 3, 15*time.Minute, others, func(p plan, us []unit) error {
		if newUID := podUID(st.s.Kubectl, st.j.model, pod); newUID == "" || newUID == uid {
			return fmt.Errorf("pod %s not replaced yet", pod)
		}
		// The new pod's agent ran its hooks after the deletion, so the
		// statuses read are the new pod's, not the old one's.
		if since := byName(us, before.Main).AgentSince; !since.After(deleted) {
			return fmt.Errorf("%s's agent has not run a hook since its pod was deleted", before.Main)
		}
		return nil
	})
	assert.Equal(t, before.Main, p.Main, "the main stays on its unit")
	assert.Equal(t, before.Generation, p.Generation, "a pod restart changes no plan")
	assert.Equal(t, before.Processes, p.Processes)
	processHealth(t, p, us)
	ctx := matrixCtx(t)

	// Nothing sent before is lost, and traffic flows through every unit.
	for _, u := range us {
		require.NoError(t, st.alice.via(nginxURL(u)).waitForMessage(ctx, st.room, st.lastSent), "history through %s", u.Name)
	}
	ws := workers(p, us)
	st.send(t, ctx, st.bob.via(nginxURL(ws[0])), "after the main's pod came back, through "+ws[0].Name)
	require.NoError(t, st.alice.via(nginxURL(byName(us, p.Main))).waitForMessage(ctx, st.room, st.lastSent))
}

func podUID(kubectl []string, namespace, pod string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(append(kubectl[1:len(kubectl):len(kubectl)], "-n", namespace), "get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
	out, err := exec.CommandContext(ctx, kubectl[0], args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// removeRedis: without Redis the workers stop; the main serves alone and
// says the workers need Redis, the other units are blocked and say how to
// fix it, and every unit's nginx still serves Matrix (through the main).
func (st *story) removeRedis(t *testing.T) {
	require.NoError(t, st.j.apps.DestroyRelation(nil, nil, "synapse:redis", "redis-k8s:redis"))
	const (
		mainMsg    = "main, 1 process; workers need a redis integration"
		blockedMsg = "scaling beyond one unit needs a redis integration: juju integrate synapse redis-k8s"
	)
	var p plan
	fs := st.j.waitFor(t, "workers stopped without Redis", 15*time.Minute, func(fs *params.FullStatus) error {
		for _, rel := range fs.Relations {
			if strings.Contains(rel.Key, "synapse:redis") {
				return fmt.Errorf("relation %s still there", rel.Key)
			}
		}
		us := units(fs, "synapse")
		if len(us) != 3 {
			return fmt.Errorf("%d synapse units, want 3", len(us))
		}
		var err error
		if p, err = st.j.readPlan(us[0].Name); err != nil {
			return err
		}
		if len(p.Processes) != 1 {
			return fmt.Errorf("plan %d still has %d processes", p.Generation, len(p.Processes))
		}
		for _, u := range us {
			want, wantMsg := "blocked", blockedMsg
			if u.Name == p.Main {
				want, wantMsg = "active", mainMsg
			}
			if u.Agent != "idle" || u.Workload != want || u.Message != wantMsg {
				return fmt.Errorf("%s is %s/%s %q, want %s/idle %q", u.Name, u.Workload, u.Agent, u.Message, want, wantMsg)
			}
		}
		return nil
	})
	us := units(fs, "synapse")
	t.Logf("without Redis: %v", us)
	assert.Equal(t, st.main, p.Main)
	processHealth(t, p, us)
	ctx := matrixCtx(t)
	for _, u := range us {
		c := st.alice.via(nginxURL(u))
		require.NoError(t, c.waitForMessage(ctx, st.room, st.lastSent), "history through %s", u.Name)
		st.send(t, ctx, c, "without redis, through "+u.Name)
		require.NoError(t, st.bob.via(nginxURL(byName(us, p.Main))).waitForMessage(ctx, st.room, st.lastSent))
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
