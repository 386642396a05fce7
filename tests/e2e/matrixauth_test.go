package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/appservice"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// TestMatrixAuthAppServicesAcrossUnits: on 2 units with PostgreSQL and
// Redis, two matrix-auth requirers (lib v1, Fernet token; lib v0, Juju
// secret) register real application services (matrix-appservice on node).
// A user invites both bots, says "hi" through one unit and sees both echo
// through every unit. A bad registration (regex "(", then an id another
// service uses) blocks naming the relation and restarts nothing, and the
// services keep working; removing a relation stops delivery to that
// service only and removes its file from every unit. One deployment for
// every step: each costs a minute of CI.
func TestMatrixAuthAppServicesAcrossUnits(t *testing.T) {
	bed.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	asDir, err := appservice.Install(ctx, appservice.DefaultCacheDir)
	require.NoError(t, err)

	const server = "test.local"
	newReg := func(name string) appservice.Registration {
		port, err := bed.FreePort("127.0.0.1")
		require.NoError(t, err)
		return appservice.NewRegistration(fmt.Sprintf("http://127.0.0.1:%d", port), server, name)
	}
	echoReg, maubotReg := newReg("echo"), newReg("maubot")
	v1 := &sim.MatrixAuthRequirer{AppName: "irc-bridge", LibVersion: 1, Registration: echoReg.YAML()}
	v0 := &sim.MatrixAuthRequirer{AppName: "maubot", LibVersion: 0, Registration: maubotReg.YAML()}

	// The v0 requirer comes with the database and Redis (Synapse starts
	// once, with its registration); the v1 one joins the running cluster,
	// which restarts every process to load it.
	d := newDeployment(t, 2)
	pg, pgEndpoint := d.provider("postgresql")
	redis, redisEndpoint := d.provider("redis")
	for _, r := range []struct {
		name, endpoint string
		app            sim.RemoteApp
	}{{"postgresql", pgEndpoint, pg}, {"redis", redisEndpoint, redis}, {"maubot", "matrix-auth", v0}} {
		id, err := d.m.Integrate(d.ctx, r.app, r.endpoint)
		require.NoError(t, err)
		d.rels[r.name] = id
	}
	d.waitIdle()
	d.requireActive()
	d.integrateWith("irc-bridge", v1, "matrix-auth")
	d.requireActive()

	// What Synapse published, as each requirer's lib reads it.
	for _, c := range []struct {
		req *sim.MatrixAuthRequirer
		rel int
	}{{v1, d.rels["irc-bridge"]}, {v0, d.rels["maubot"]}} {
		p := c.req.Provided(c.rel)
		assert.True(t, p.Valid(), "%s: homeserver and shared secret readable: %+v", c.req.Name(), p.Homeserver)
		assert.Contains(t, p.Homeserver, server)
		assert.NotEmpty(t, p.EncryptionKey, "%s: the v1 key is published to every requirer", c.req.Name())
	}
	assert.Equal(t, v1.Provided(d.rels["irc-bridge"]).EncryptionKey, v0.Provided(d.rels["maubot"]).EncryptionKey, "one key")
	want := map[string]string{"irc-bridge": echoReg.ID, "maubot": maubotReg.ID}
	assert.Equal(t, want, d.registrationFiles(), "every unit has both registrations")

	base := d.nginx("synapse/0")
	echo, err := appservice.Start(ctx, t, asDir, echoReg, base, server)
	require.NoError(t, err)
	maubot, err := appservice.Start(ctx, t, asDir, maubotReg, base, server)
	require.NoError(t, err)

	alice := d.register("synapse/1", "alice")
	room, err := alice.CreateRoom(ctx, echoReg.Bot(server), maubotReg.Bot(server))
	require.NoError(t, err)
	for _, s := range []*appservice.Service{echo, maubot} {
		waitEvent(t, ctx, s, "joined", room)
	}
	bots := []string{echoReg.Bot(server), maubotReg.Bot(server)}
	say := func(text string, repliers ...string) {
		t.Helper()
		_, err := alice.Send(ctx, room, text)
		require.NoError(t, err)
		for _, u := range []string{"synapse/0", "synapse/1"} {
			require.NoError(t, waitReplies(ctx, alice.WithBase(d.nginx(u)), room, "echo: "+text, repliers), "through %s", u)
		}
	}
	say("hi", bots...)

	// Bad registrations: blocked naming the relation, nothing restarts,
	// the files stay, and both services still answer.
	before := d.m.PebbleSnapshot(d.ctx)
	for _, bad := range []struct {
		name, want string
		reg        appservice.Registration
	}{
		{"regex", "irc-bridge", withRegex(echoReg, "(")},
		{"duplicate id", "irc-bridge", withID(echoReg, maubotReg.ID)},
	} {
		v1.SetRegistration(bad.reg.YAML())
		require.NoError(t, d.m.RemoteChanged(d.rels["irc-bridge"]))
		d.waitIdle()
		for _, u := range d.m.Units() {
			assert.Equal(t, "blocked", u.WorkloadStatus.Status, "%s: %s", bad.name, u.Name)
			assert.Contains(t, u.WorkloadStatus.Message, bad.want, "%s: %s", bad.name, u.Name)
			assert.Contains(t, u.WorkloadStatus.Message, "matrix-auth", "%s: %s", bad.name, u.Name)
		}
		assert.Equal(t, want, d.registrationFiles(), "%s: the registrations in use stay", bad.name)
	}
	assert.Empty(t, sim.Restarts(before, d.m.PebbleSnapshot(d.ctx)), "a bad registration restarted nothing")
	say("still", bots...)
	v1.SetRegistration(echoReg.YAML())
	require.NoError(t, d.m.RemoteChanged(d.rels["irc-bridge"]))
	d.waitIdle()
	d.requireActive()

	// Removing a relation: its file goes from every unit, its service gets
	// nothing more, the other one still answers.
	d.removeRelation("irc-bridge")
	d.requireActive()
	assert.Equal(t, map[string]string{"maubot": maubotReg.ID}, d.registrationFiles())
	say("bye", maubotReg.Bot(server))
	quiet, cancelQuiet := context.WithTimeout(ctx, 5*time.Second)
	defer cancelQuiet()
	_, err = echo.Wait(quiet, func(e appservice.Event) bool { return e.Kind == "message" && e.Body == "bye" })
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the removed service got a message after its relation left")
}

// registrationFiles reads every unit's registration files and returns
// them by the requirer their file is named after (<app>-<relation>.yaml),
// with the id each holds; it fails the test if the units disagree.
func (d *deployment) registrationFiles() map[string]string {
	d.t.Helper()
	var first map[string]string
	for _, u := range d.m.Units() {
		got := map[string]string{}
		dir := filepath.Join(u.StorageDirs["data"], strings.TrimPrefix(workload.AppServicesDir, workload.DataDir+"/"))
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(d.t, err)
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			app := name[:strings.LastIndex(name, "-")]
			got[app] = idOf(string(b))
		}
		if first == nil {
			first = got
		}
		require.Equal(d.t, first, got, "%s has other registrations than the first unit", u.Name)
	}
	return first
}

// idOf finds the id in a rendered registration (JSON, or YAML "id: x").
func idOf(reg string) string {
	for _, line := range strings.Split(reg, "\n") {
		line = strings.TrimSpace(line)
		for _, p := range []string{`"id": "`, "id: "} {
			if rest, ok := strings.CutPrefix(line, p); ok {
				return strings.Trim(rest, `",' `)
			}
		}
	}
	return ""
}

func withRegex(r appservice.Registration, regex string) appservice.Registration {
	ns := *r.Namespaces
	ns.Users = []appservice.Namespace{{Regex: regex, Exclusive: true}}
	r.Namespaces = &ns
	return r
}

func withID(r appservice.Registration, id string) appservice.Registration {
	r.ID = id
	return r
}

func waitEvent(t *testing.T, ctx context.Context, s *appservice.Service, kind, room string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := s.Wait(ctx, func(e appservice.Event) bool { return e.Kind == kind && e.Room == room })
	require.NoError(t, err, "appservice output:\n%s", s.Output())
}

// waitReplies syncs through c until each of senders has said text in room.
func waitReplies(ctx context.Context, c *matrix.Client, room, text string, senders []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	since := ""
	for {
		res, err := c.Sync(ctx, since, 5*time.Second)
		if err != nil {
			var missing []string
			for _, s := range senders {
				if !seen[s] {
					missing = append(missing, s)
				}
			}
			sort.Strings(missing)
			return errors.Join(fmt.Errorf("%q from %v never arrived", text, missing), err)
		}
		for _, ev := range res.Rooms.Join[room].Timeline.Events {
			if body, _ := ev.Content["body"].(string); ev.Type == "m.room.message" && body == text {
				seen[ev.Sender] = true
			}
		}
		done := true
		for _, s := range senders {
			done = done && seen[s]
		}
		if done {
			return nil
		}
		since = res.NextBatch
	}
}
