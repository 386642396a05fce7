package charm_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// TestSMTPSendsMail integrates an smtp-integrator pointing at a mail
// receiver: a user adding an email address gets Synapse's validation mail
// from notif_from; a relay that would get the password in clear blocks
// with the fix named and leaves Synapse as it was; the password lives only
// in the 0600 email config file.
func TestSMTPSendsMail(t *testing.T) {
	ctx := context.Background()
	sink, err := bed.StartSMTPSink()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Stop() })

	u := newUnit(t)
	u.mem.SetConfig(map[string]any{
		"server_name": "test.local", "public_baseurl": "http://test.local/",
		"enable_email_notifs": true, "notif_from": "Test Homeserver <noreply@test.local>",
	})
	u.run("config-changed")
	st := u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.Contains(t, st.Message, "enable_email_notifs needs an smtp integration: juju integrate synapse smtp-integrator")

	id := u.mem.AddRelation("smtp", "smtp-integrator", "smtp-integrator/0")
	u.mem.SetRelationData(id, "smtp-integrator", true, map[string]string{
		"host": sink.Host(), "port": strconv.Itoa(sink.Port()),
		"auth_type": "none", "transport_security": "none", "skip_ssl_verify": "False",
	})
	u.run("smtp-relation-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	assert.NotContains(t, st.Message, "smtp")

	files, err := u.container.Client().ListFiles(&client.ListFilesOptions{Path: workload.EmailConfigPath})
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, "-rw-------", files[0].Mode().String())

	// What a user does in Element's settings: add an email address.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	anon := matrix.New("http://" + u.addr + ":8008")
	var token struct {
		SID string `json:"sid"`
	}
	require.NoError(t, anon.Do(ctx, "POST", "/_matrix/client/v3/account/3pid/email/requestToken",
		map[string]any{"client_secret": "secret-abc-123", "email": "alice@example.org", "send_attempt": 1}, &token))
	require.NotEmpty(t, token.SID)
	mail, err := sink.WaitFor(ctx, "alice@example.org")
	require.NoError(t, err)
	assert.Equal(t, "noreply@test.local", mail.From)
	assert.Contains(t, mail.Data, "From: Test Homeserver <noreply@test.local>")
	assert.Contains(t, mail.Data, "Subject: [test.local] Validate your email")

	// A relay that wants a password over a clear connection: blocked, the
	// running Synapse and its mail config untouched, the password nowhere.
	since := u.service().CurrentSince
	before := u.file(workload.EmailConfigPath)
	secretID := u.mem.AddSecret("smtp-integrator", "", map[string]string{"password": "Sm7pPassw0rdValue"})
	u.mem.SetRelationData(id, "smtp-integrator", true, map[string]string{
		"host": sink.Host(), "port": strconv.Itoa(sink.Port()), "user": "synapse",
		"password_id": secretID, "auth_type": "plain", "transport_security": "none", "skip_ssl_verify": "False",
	})
	u.run("smtp-relation-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Blocked, st.Status, st.Message)
	assert.Contains(t, st.Message, "juju config smtp-integrator transport_security=starttls")
	assert.NotContains(t, st.Message, "Sm7pPassw0rdValue")
	assert.Equal(t, since, u.service().CurrentSince)
	assert.Equal(t, before, u.file(workload.EmailConfigPath))

	// The operator fixes the relay: STARTTLS required, password only in
	// the 0600 email file, never in homeserver.yaml or the Pebble plan.
	u.mem.SetRelationData(id, "smtp-integrator", true, map[string]string{
		"host": sink.Host(), "port": strconv.Itoa(sink.Port()), "user": "synapse",
		"password_id": secretID, "auth_type": "plain", "transport_security": "starttls", "skip_ssl_verify": "False",
	})
	u.run("smtp-relation-changed")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	email := u.file(workload.EmailConfigPath)
	assert.Contains(t, email, "smtp_pass: Sm7pPassw0rdValue")
	assert.Contains(t, email, "require_transport_security: true")
	assert.NotContains(t, u.file(workload.HomeserverPath), "Sm7pPassw0rdValue")
	plan, err := u.container.Client().PlanBytes(nil)
	require.NoError(t, err)
	assert.NotContains(t, string(plan), "Sm7pPassw0rdValue")
	assert.Contains(t, string(plan), "--config-path "+workload.EmailConfigPath)

	// The relation goes: the file with the password goes with it.
	u.mem.RemoveRelation(id)
	u.run("smtp-relation-broken")
	st = u.mem.UnitStatus()
	require.Equal(t, juju.Active, st.Status, st.Message)
	_, err = u.container.Client().ListFiles(&client.ListFilesOptions{Path: workload.EmailConfigPath})
	require.Error(t, err, "the email config with the SMTP password is removed")
	plan, err = u.container.Client().PlanBytes(nil)
	require.NoError(t, err)
	assert.False(t, strings.Contains(string(plan), workload.EmailConfigPath))
}
