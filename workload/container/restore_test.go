package container_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canonical/pebble/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// restoreBed is a synapse container with /data bound to a host directory:
// live data ("old") and a staged backup ("new"), as StageRestore leaves
// them.
type restoreBed struct {
	t    *testing.T
	pc   *client.Client
	data string
}

func newRestoreBed(t *testing.T) *restoreBed {
	t.Helper()
	bed.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := bed.Image(ctx)
	require.NoError(t, err)
	dir, err := os.MkdirTemp("/tmp", "rs")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	ct, err := bed.StartContainer(ctx, bed.ContainerOptions{
		Name: "synapse", Image: img, Dir: filepath.Join(dir, "c"), SocketDir: filepath.Join(dir, "sock"),
		Binds: []bed.Bind{{HostPath: data, Path: "/data"}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ct.Stop() })
	return &restoreBed{t: t, pc: ct.Client(), data: data}
}

// reset lays out live data and a staged backup.
func (b *restoreBed) reset() {
	b.t.Helper()
	entries, err := os.ReadDir(b.data)
	require.NoError(b.t, err)
	for _, e := range entries {
		require.NoError(b.t, os.RemoveAll(filepath.Join(b.data, e.Name())))
	}
	for name, content := range map[string]string{
		"homeserver.db":                     "old db",
		"homeserver.db-wal":                 "old wal",
		"media_store/local_content/old":     "old media",
		".synapse-restore/homeserver.db":    "new db",
		".synapse-restore/media_store/l/nw": "new media",
	} {
		path := filepath.Join(b.data, name)
		require.NoError(b.t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(b.t, os.WriteFile(path, []byte(content), 0o600))
	}
}

// state names what /data holds: "old", "new", or "mixed" (any other
// layout), and whether scratch or a journal is left.
func (b *restoreBed) state() (string, bool) {
	b.t.Helper()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(b.data, name))
		if err != nil {
			return ""
		}
		return string(data)
	}
	var files []string
	require.NoError(b.t, filepath.Walk(b.data, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(b.data, path)
			files = append(files, rel)
		}
		return err
	}))
	scratch := false
	for _, f := range files {
		if f[0] == '.' {
			scratch = true
		}
	}
	switch {
	case len(files) == 3 && read("homeserver.db") == "old db" && read("homeserver.db-wal") == "old wal" && read("media_store/local_content/old") == "old media":
		return "old", scratch
	case len(files) == 2 && read("homeserver.db") == "new db" && read("media_store/l/nw") == "new media":
		return "new", scratch
	}
	return "mixed " + filepath.Join(files...), scratch
}

// recover does what the next hook does: observe the pending phase and
// roll back or complete.
func (b *restoreBed) recover() workload.RestorePhase {
	b.t.Helper()
	phase, err := container.PendingRestore(b.pc)
	require.NoError(b.t, err)
	require.NotEmpty(b.t, phase, "a restore is pending")
	how, ok := phase.Recovery()
	require.True(b.t, ok, "phase %s", phase)
	require.NoError(b.t, container.RecoverRestore(context.Background(), b.pc, how))
	again, err := container.PendingRestore(b.pc)
	require.NoError(b.t, err)
	assert.Empty(b.t, again, "nothing pending after the recovery")
	return phase
}

func (b *restoreBed) move(from, to string) {
	b.t.Helper()
	require.NoError(b.t, os.MkdirAll(filepath.Dir(filepath.Join(b.data, to)), 0o700))
	require.NoError(b.t, os.Rename(filepath.Join(b.data, from), filepath.Join(b.data, to)))
}

// TestRestoreKilledAtEveryPointRecovers kills a SQLite restore between
// every two steps and in the middle of each step (some of a phase's
// renames done), and runs the next hook's recovery: /data then holds
// exactly the previous data or exactly the backup, never a mix or a
// missing database, and no scratch.
func TestRestoreKilledAtEveryPointRecovers(t *testing.T) {
	b := newRestoreBed(t)
	ctx := context.Background()
	phase, err := container.PendingRestore(b.pc)
	require.NoError(t, err)
	assert.Empty(t, phase, "an empty volume has nothing pending")

	for _, tc := range []struct {
		name  string
		steps int
		// mid does part of the next step's renames, as a process killed
		// during that step would have.
		mid   func()
		phase workload.RestorePhase
		want  string
	}{
		{name: "while extracting (no journal)", steps: -1, phase: workload.RestoreLeftover, want: "old"},
		{name: "after staging", steps: 0, phase: workload.RestoreStaged, want: "old"},
		{name: "before moving the old data aside", steps: 1, phase: workload.RestoreMovingOld, want: "old"},
		{name: "with the database aside, not its WAL nor the media", steps: 1, phase: workload.RestoreMovingOld, want: "old", mid: func() {
			b.move("homeserver.db", ".synapse-restore-old/homeserver.db")
		}},
		{name: "with the database and WAL aside, not the media", steps: 1, phase: workload.RestoreMovingOld, want: "old", mid: func() {
			b.move("homeserver.db", ".synapse-restore-old/homeserver.db")
			b.move("homeserver.db-wal", ".synapse-restore-old/homeserver.db-wal")
		}},
		{name: "with the old data aside, nothing new in place", steps: 2, phase: workload.RestoreMovingNew, want: "new"},
		{name: "with the new database in place, not the media", steps: 2, phase: workload.RestoreMovingNew, want: "new", mid: func() {
			b.move(".synapse-restore/homeserver.db", "homeserver.db")
		}},
		{name: "swapped, the old data not yet removed", steps: 3, phase: workload.RestoreSwapped, want: "new"},
		{name: "swapped, half removed", steps: 3, phase: workload.RestoreSwapped, want: "new", mid: func() {
			require.NoError(t, os.RemoveAll(filepath.Join(b.data, ".synapse-restore-old", "media_store")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			b.reset()
			if tc.steps >= 0 {
				require.NoError(t, container.BeginRestore(ctx, b.pc, true, "20260101000000000000"))
			}
			for range tc.steps {
				_, err := container.StepRestore(ctx, b.pc)
				require.NoError(t, err)
			}
			if tc.mid != nil {
				tc.mid()
			}
			assert.Equal(t, tc.phase, b.recover())
			got, scratch := b.state()
			assert.Equal(t, tc.want, got)
			assert.False(t, scratch, "no scratch or journal left")
		})
	}
}

// TestRestoreRunsToTheEndAndRollsBack: the action's own path (every step
// in one go) and its failure path (a roll back from any phase before the
// swap is done, including with the backup half in place).
func TestRestoreRunsToTheEndAndRollsBack(t *testing.T) {
	b := newRestoreBed(t)
	ctx := context.Background()
	b.reset()
	require.NoError(t, container.BeginRestore(ctx, b.pc, true, "20260101000000000000"))
	require.NoError(t, container.SwapRestore(ctx, b.pc))
	got, scratch := b.state()
	assert.Equal(t, "new", got)
	assert.False(t, scratch)

	for steps := range 3 {
		b.reset()
		require.NoError(t, container.BeginRestore(ctx, b.pc, true, "20260101000000000000"))
		for range steps {
			_, err := container.StepRestore(ctx, b.pc)
			require.NoError(t, err)
		}
		if steps == 2 {
			b.move(".synapse-restore/homeserver.db", "homeserver.db")
		}
		require.NoError(t, container.RollBackRestore(ctx, b.pc))
		require.NoError(t, container.RollBackRestore(ctx, b.pc), "a roll back is safe to repeat")
		got, scratch := b.state()
		assert.Equal(t, "old", got, "rolled back after %d steps", steps)
		assert.False(t, scratch)
	}

	// A merge (PostgreSQL: media only) killed midway is completed.
	b.reset()
	require.NoError(t, container.BeginRestore(ctx, b.pc, false, "20260101000000000000"))
	_, err := container.StepRestore(ctx, b.pc)
	require.NoError(t, err)
	assert.Equal(t, workload.RestoreMerging, b.recover())
	for name, want := range map[string]string{"homeserver.db": "old db", "media_store/local_content/old": "old media", "media_store/l/nw": "new media"} {
		data, err := os.ReadFile(filepath.Join(b.data, name))
		require.NoError(t, err)
		assert.Equal(t, want, string(data))
	}
	assert.NoDirExists(t, filepath.Join(b.data, ".synapse-restore"))
}
