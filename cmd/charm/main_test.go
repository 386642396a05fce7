package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charmarchive"
)

func TestBackupProgramIsTheOnePacked(t *testing.T) {
	assert.Equal(t, charmarchive.BackupActions, backupProgram)
}

// TestBackupActionsRunInTheBackupProgram: dispatch execs the program
// beside it for the backup actions only, with Juju's environment and no
// arguments (no secret travels in argv), and keeps every other event.
func TestBackupActionsRunInTheBackupProgram(t *testing.T) {
	dir := t.TempDir()
	dispatch := filepath.Join(dir, "dispatch")
	build := exec.Command("go", "build", "-o", dispatch, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	// A stand-in that says how it was run.
	mark := filepath.Join(dir, "ran")
	require.NoError(t, os.WriteFile(filepath.Join(dir, backupProgram),
		[]byte("#!/bin/sh\necho \"$# $JUJU_DISPATCH_PATH $JUJU_UNIT_NAME\" > "+mark+"\nexit 3\n"), 0o755))
	noTools := t.TempDir()

	run := func(path string) (code int, ran string) {
		t.Helper()
		os.Remove(mark)
		cmd := exec.Command(dispatch)
		cmd.Env = []string{"PATH=" + noTools, "JUJU_DISPATCH_PATH=" + path, "JUJU_UNIT_NAME=synapse/0", "JUJU_MODEL_NAME=m"}
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		data, _ := os.ReadFile(mark)
		return code, strings.TrimSpace(string(data))
	}
	for _, action := range []string{"create-backup", "list-backups", "delete-backup", "restore-backup"} {
		code, ran := run("actions/" + action)
		assert.Equal(t, "0 actions/"+action+" synapse/0", ran, action)
		assert.Equal(t, 3, code, "%s: the program's exit code is the action's", action)
	}
	for _, path := range []string{"actions/register-user", "hooks/update-status", "hooks/list-backups"} {
		_, ran := run(path)
		assert.Empty(t, ran, "%s runs in dispatch", path)
	}
}
