package charm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm"
	"github.com/synapse-charm/synapse-k8s-go/charm/backupcrypt"
	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

// maxArg bounds every hook-tool argument a hostile bag value may reach:
// far below Linux's 128 KiB per argument (MAX_ARG_STRLEN), past which
// status-set or juju-log fails with E2BIG and the hook errors for good.
const maxArg = 8 << 10

// TestHugeRelationValueBlocks: a 200 KiB value in a provider's bag gives a
// blocked status of a readable length, never a hook error, and no hook
// tool gets an argument of that size. One relation at a time, on a unit
// whose containers have not started (no Pebble: the decision needs none
// to block on a malformed bag).
func TestHugeRelationValueBlocks(t *testing.T) {
	huge := "https://x/" + strings.Repeat("a\"b", 200<<10/3)
	bags := []struct {
		endpoint, remote string
		app              map[string]string
	}{
		{decide.DatabaseEndpoint, "postgresql-k8s", map[string]string{"endpoints": huge, "database": huge, "secret-user": huge}},
		{decide.RedisEndpoint, "redis-k8s", map[string]string{"hostname": huge, "port": huge}},
		{decide.MediaEndpoint, "s3-integrator", map[string]string{"bucket": huge, "endpoint": huge, "secret-extra": huge}},
		{decide.SMTPEndpoint, "smtp-integrator", map[string]string{"host": huge, "port": "25", "password_id": huge}},
		{decide.SAMLEndpoint, "saml-integrator", map[string]string{"entity_id": "x", "metadata_url": huge}},
		{decide.IngressEndpoint, "traefik-k8s", map[string]string{"ingress": huge}},
		{decide.MatrixAuthEndpoint, "irc-bridge", map[string]string{"registration_secret_id": huge, "registration_secret": huge}},
		{decide.MatrixAuthEndpoint, "irc-bridge", map[string]string{"registration_secret_id": "secret:" + huge}},
	}
	for _, b := range bags {
		t.Run(b.endpoint, func(t *testing.T) {
			mem := jujutest.NewMemory("synapse/0")
			mem.SetLeader(true)
			mem.SetConfig(map[string]any{"server_name": "test.local"})
			mem.AddRelation(charm.PeerEndpoint, "synapse")
			mem.SetNetwork(charm.PeerEndpoint, &juju.Network{
				BindAddresses:    []juju.BindAddress{{InterfaceName: "eth0", Addresses: []juju.InterfaceAddress{{Value: "10.1.2.3", CIDR: "10.1.2.3/32"}}}},
				IngressAddresses: []string{"10.1.2.3"},
			})
			id := mem.AddRelation(b.endpoint, b.remote, b.remote+"/0")
			mem.SetRelationData(id, b.remote, true, b.app)
			mem.SetRelationData(id, b.remote+"/0", false, b.app)
			var stderr longestLine
			err := charm.Run(context.Background(), charm.Options{
				Tools: juju.New(mem), Event: juju.Event{Name: b.endpoint + "-relation-changed", Unit: "synapse/0", App: "synapse", Model: "test"},
				ContainersDir: t.TempDir(), ReadyTimeout: time.Second, Log: &stderr,
			})
			require.NoError(t, err)
			st := mem.UnitStatus()
			assert.Equal(t, juju.Blocked, st.Status, st.Message)
			assert.LessOrEqual(t, len(st.Message), decide.MaxMessage)
			for _, argv := range mem.Argv() {
				for _, a := range argv {
					assert.LessOrEqual(t, len(a), maxArg, "%s argument of %d bytes", argv[0], len(a))
				}
			}
			for _, l := range mem.Logs() {
				assert.LessOrEqual(t, len(l.Message), maxArg, "log line of %d bytes", len(l.Message))
			}
			assert.LessOrEqual(t, stderr.max, maxArg, "a line of %d bytes on the charm's stderr", stderr.max)
			t.Logf("%s: %s", st.Status, st.Message)
		})
	}
}

// TestHugeActionParameterFails: an action given a 200 KiB parameter fails
// with a message of a readable length.
func TestHugeActionParameterFails(t *testing.T) {
	huge := strings.Repeat("A", 200<<10)
	for _, tc := range []struct {
		action string
		params map[string]any
	}{
		{"register-user", map[string]any{"username": huge}},
		{"promote-user-admin", map[string]any{"username": huge}},
		{"restore-backup", map[string]any{"backup-id": huge}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			mem := jujutest.NewMemory("synapse/0")
			mem.SetLeader(true)
			mem.SetConfig(map[string]any{"server_name": "test.local"})
			mem.AddRelation(charm.PeerEndpoint, "synapse")
			mem.SetActionParams(tc.params)
			var stderr longestLine
			err := charm.Run(context.Background(), charm.Options{
				Tools: juju.New(mem), Event: juju.Event{Name: tc.action, IsAction: true, Unit: "synapse/0", App: "synapse", Model: "test"},
				ContainersDir: t.TempDir(), Log: &stderr, Backups: backupcrypt.OpenPGP{},
			})
			require.NoError(t, err)
			failed, msg := mem.ActionFailed()
			assert.True(t, failed)
			assert.LessOrEqual(t, len(msg), maxArg, "action-fail message of %d bytes", len(msg))
			assert.LessOrEqual(t, stderr.max, maxArg)
		})
	}
}

// longestLine records the longest line written to it.
type longestLine struct{ max int }

func (l *longestLine) Write(p []byte) (int, error) {
	for _, line := range strings.Split(string(p), "\n") {
		l.max = max(l.max, len(line))
	}
	return len(p), nil
}
