package container_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/config"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// TestCheckConfigLoadsAppServices shows that the config check loads the
// registrations as a Synapse process does at start: what the charm's own
// validation passes but Python's re refuses (a group name used twice, fine
// for RE2) is rejected, naming the registration's file.
func TestCheckConfigLoadsAppServices(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rb := newRestoreBed(t)
	cfg, err := config.Parse(map[string]any{"server_name": "check.test"})
	require.NoError(t, err)
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	reg := func(name, regex string) workload.AppService {
		as, err := workload.ParseAppService(name, []byte(`{"id": "`+name+`", "url": null, "as_token": "a-`+name+`", "hs_token": "h-`+name+
			`", "sender_localpart": "`+name+`_bot", "namespaces": {"users": [{"regex": "`+regex+`", "exclusive": true}]}}`))
		require.NoError(t, err)
		return as
	}
	check := func(list ...workload.AppService) map[string]string {
		want, err := workload.RenderSynapse(workload.SynapseInput{
			Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://check.test/", BindAddress: "127.0.0.1", AppServices: list},
			Secrets:    secrets,
		})
		require.NoError(t, err)
		checks := workload.ConfigChecks(want, workload.Changes{Start: []string{workload.MainService}, Redefined: []string{workload.MainService}})
		rejected, err := container.CheckConfig(ctx, rb.pc, want.Files, checks)
		require.NoError(t, err)
		return rejected
	}

	assert.Empty(t, check(reg("irc-7", `@irc_(?!admin).*:check\\.test`)), "a lookahead RE2 refuses loads in Synapse")
	rejected := check(reg("irc-7", `@irc_.*:check\\.test`), reg("slack-9", `(?P<n>a)(?P<n>b)`))
	require.Contains(t, rejected, workload.MainService)
	msg := rejected[workload.MainService]
	assert.True(t, strings.Contains(msg, "slack-9.yaml") && strings.Contains(msg, "redefinition of group name"), msg)
	assert.NotContains(t, msg, "/tmp/synapse-charm-check")
}

// TestCheckConfigNeverQuotesAnASToken: Synapse's own message for a reused
// as_token quotes it; the check's does not.
func TestCheckConfigNeverQuotesAnASToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rb := newRestoreBed(t)
	cfg, err := config.Parse(map[string]any{"server_name": "check.test"})
	require.NoError(t, err)
	secrets, err := workload.GenerateSecrets()
	require.NoError(t, err)
	var list []workload.AppService
	for _, name := range []string{"a-1", "b-2"} {
		as, err := workload.ParseAppService(name, []byte(`{"id": "`+name+`", "url": null, "as_token": "SharedAsTok3n", "hs_token": "h", "sender_localpart": "bot`+name[:1]+`", "namespaces": {}}`))
		require.NoError(t, err)
		list = append(list, as)
	}
	want, err := workload.RenderSynapse(workload.SynapseInput{
		Homeserver: workload.Homeserver{Config: cfg, PublicBaseURL: "https://check.test/", BindAddress: "127.0.0.1", AppServices: list},
		Secrets:    secrets,
	})
	require.NoError(t, err)
	checks := workload.ConfigChecks(want, workload.Changes{Start: []string{workload.MainService}, Redefined: []string{workload.MainService}})
	rejected, err := container.CheckConfig(ctx, rb.pc, want.Files, checks)
	require.NoError(t, err)
	require.Contains(t, rejected, workload.MainService)
	assert.Contains(t, rejected[workload.MainService], "reuse an id or an as_token")
	assert.NotContains(t, rejected[workload.MainService], "SharedAsTok3n")
}
