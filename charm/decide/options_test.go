package decide_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// The options this charm does not run block, name what the image has or
// lacks and the fix, and leave Synapse serving the rest of the config.
func TestUnsupportedOptionsBlockAndKeepServing(t *testing.T) {
	for _, tc := range []struct {
		option, program string
		has             *bool
		want            []string
	}{
		{"enable_mjolnir", decide.MjolnirProgram, nil, []string{"enable_mjolnir is on, but this charm does not run the Mjolnir moderation bot (the Python charm ran it from /mjolnir-entrypoint.sh in Canonical's synapse rock): juju config synapse enable_mjolnir=false"}},
		{"enable_mjolnir", decide.MjolnirProgram, ptr(false), []string{"(the synapse image lacks /mjolnir-entrypoint.sh): juju config synapse enable_mjolnir=false"}},
		{"enable_mjolnir", decide.MjolnirProgram, ptr(true), []string{"(the image has /mjolnir-entrypoint.sh)", "juju config synapse enable_mjolnir=false"}},
		{"enable_draupnir", decide.DraupnirProgram, ptr(false), []string{"enable_draupnir is on, but this charm does not run the Draupnir moderation bot (the synapse image lacks /draupnir-entrypoint.sh): juju config synapse enable_draupnir=false"}},
		{"enable_media_sync_cleanup", decide.MediaUploadProgram, ptr(false), []string{"enable_media_sync_cleanup is on, but this charm does not run the media sync after create-backup (s3_media_upload) (the synapse image lacks /usr/local/bin/s3_media_upload): juju config synapse enable_media_sync_cleanup=false"}},
	} {
		t.Run(tc.option, func(t *testing.T) {
			s := ttReady(t)
			before := ttFile(t, decide.Decide(s).Synapse, workload.HomeserverPath)
			s.Config = ttConfig(t, map[string]any{tc.option: true, "report_stats": true})
			if tc.has != nil {
				s.Image.Programs = map[string]bool{tc.program: *tc.has}
			}
			assert.Equal(t, []string{tc.program}, decide.OptionPrograms(&s), "the observer checks this file")
			d := decide.Decide(s)
			st := ttStatus(d)
			assert.Equal(t, decide.Blocked, st.Level, st.Message)
			assert.True(t, ttHas(st.Message, tc.want...), st.Message)
			after := ttFile(t, d.Synapse, workload.HomeserverPath)
			assert.NotEqual(t, before, after, "the rest of the configuration still applies")
			assert.Contains(t, after, "report_stats: true")
		})
	}
}

func TestInviteCheckerNeedsTheModule(t *testing.T) {
	s := ttReady(t)
	s.Config = ttConfig(t, map[string]any{"invite_checker_policy_rooms": "!policy:example.com"})
	assert.True(t, decide.InviteCheckerOn(&s))
	s.Image.Modules = map[string]bool{decide.InviteCheckerModule: false}
	d := decide.Decide(s)
	st := ttStatus(d)
	assert.Equal(t, decide.Blocked, st.Level)
	assert.True(t, ttHas(st.Message, "invite_checker_* options need the synapse_invite_checker module",
		"juju config synapse --reset invite_checker_blocklist_allowlist_url,invite_checker_policy_rooms"), st.Message)
	assert.Nil(t, d.Synapse, "the running Synapse keeps its configuration")

	s.Image.Modules = map[string]bool{decide.InviteCheckerModule: true}
	d = decide.Decide(s)
	assert.Equal(t, decide.Active, ttStatus(d).Level, ttStatus(d).Message)
	assert.Contains(t, ttFile(t, d.Synapse, workload.HomeserverPath), "synapse_invite_checker.InviteChecker")
}

// experimental_extract_background_tasks moves background tasks to a
// worker even where keep_singletons_on_main keeps them on the main.
func TestExtractBackgroundTasksPlansABackgroundWorker(t *testing.T) {
	roles := func(options map[string]any) []workload.Role {
		s := ttCluster(t, options)
		var out []workload.Role
		for _, p := range ttPlan(t, s.Peer.App).Processes {
			out = append(out, p.Role)
		}
		return out
	}
	assert.NotContains(t, roles(map[string]any{"keep_singletons_on_main": true}), workload.RoleBackground)
	got := roles(map[string]any{"keep_singletons_on_main": true, "experimental_extract_background_tasks": true})
	require.Contains(t, got, workload.RoleBackground)

	// What the Python charm's test checks: homeserver.yaml names the worker.
	s := ttCluster(t, map[string]any{"keep_singletons_on_main": true, "experimental_extract_background_tasks": true})
	assert.Contains(t, ttFile(t, decide.Decide(s).Synapse, workload.HomeserverPath), "run_background_tasks_on: background-1")
}

func ptr[T any](v T) *T { return &v }

// One unit stays a monolith: its one process runs the background tasks.
func TestExtractBackgroundTasksOnOneUnitKeepsTheMonolith(t *testing.T) {
	s := ttReady(t)
	s.Config = ttConfig(t, map[string]any{"experimental_extract_background_tasks": true})
	s = ttSettle(t, ttApply(t, s, decide.Decide(s)))
	procs := ttPlan(t, s.Peer.App).Processes
	require.Len(t, procs, 1)
	assert.Equal(t, workload.RoleMain, procs[0].Role)
}
