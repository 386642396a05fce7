package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// restoreJournal records the phase of a restore's swap on /data, the
// volume the swap renames on, so a killed restore is found again.
const restoreJournal = workload.DataDir + "/.synapse-restore-journal"

// restoreStepTimeout bounds one phase of the swap (renames, or removing
// the replaced data).
const restoreStepTimeout = 10 * time.Minute

// journalScript runs one command on the restore journal in the synapse
// container. Every step is safe to repeat: a move is done when its source
// is gone and its target is there, and a phase is journaled (written to a
// temporary file, synced, renamed) before its work starts.
//
//	begin MODE ID  journal "staged" for the extracted backup
//	step           do the work of the journaled phase, journal the next;
//	               prints the new phase ("" when done)
//	rollback       put the previous data back, discard the backup
const journalScript = `
import json, os, shutil, sys
cmd, journal, stage, old, db, media, scratch, data = sys.argv[1:9]
SUFFIXES = ("", "-wal", "-shm", "-journal")
sdb, smedia = os.path.join(stage, "homeserver.db"), os.path.join(stage, "media_store")

def sync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

def save(j):
    tmp = journal + ".tmp"
    with open(tmp, "w") as f:
        json.dump(j, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, journal)
    sync(data)

def load():
    with open(journal) as f:
        return json.load(f)

def move(src, dst):
    if not os.path.lexists(src):
        return
    if os.path.lexists(dst):
        sys.exit("both %s and %s exist: cannot tell which one to keep" % (src, dst))
    os.replace(src, dst)

def aside(name):
    return os.path.join(old, name)

def move_old(j):
    os.makedirs(old, mode=0o700, exist_ok=True)
    if j["db"]:
        for s in SUFFIXES:
            move(db + s, aside("homeserver.db" + s))
    move(media, aside("media_store"))
    sync(old)
    sync(data)

def move_new(j):
    if j["db"]:
        if not os.path.lexists(sdb) and not os.path.lexists(db):
            sys.exit("the staged database %s is gone: restore the backup again" % sdb)
        move(sdb, db)
    if os.path.lexists(smedia):
        move(smedia, media)
    elif not os.path.lexists(media):
        st = os.stat(data)
        os.makedirs(media, mode=0o755)
        os.chown(media, st.st_uid, st.st_gid)
    sync(data)

def merge():
    for root, dirs, files in os.walk(smedia):
        rel = os.path.relpath(root, smedia)
        target = os.path.normpath(os.path.join(media, rel))
        if not os.path.isdir(target):
            os.makedirs(target, mode=0o755)
            st = os.stat(root)
            os.chown(target, st.st_uid, st.st_gid)
        for f in files:
            os.replace(os.path.join(root, f), os.path.join(target, f))

def clean():
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    if os.path.lexists(journal):
        os.remove(journal)
    sync(data)

if cmd == "begin":
    mode, backup = sys.argv[9:11]
    if not os.path.isdir(stage):
        sys.exit("nothing is staged at " + stage)
    shutil.rmtree(old, ignore_errors=True)
    save({"phase": "staged", "mode": mode, "backup": backup, "db": mode == "replace" and os.path.exists(sdb)})
elif cmd == "step":
    j = load()
    nxt = {"staged": "moving-old" if j["mode"] == "replace" else "merging",
           "moving-old": "moving-new", "moving-new": "swapped", "merging": "swapped", "swapped": ""}
    phase = j["phase"]
    if phase not in nxt:
        sys.exit("unknown restore phase %r" % phase)
    if phase == "moving-old":
        move_old(j)
    elif phase == "moving-new":
        move_new(j)
    elif phase == "merging":
        merge()
    elif phase == "swapped":
        clean()
    if nxt[phase]:
        j["phase"] = nxt[phase]
        save(j)
    print(nxt[phase])
elif cmd == "rollback":
    j = load() if os.path.lexists(journal) else {"phase": "leftover", "db": True}
    if j["phase"] not in ("leftover", "staged", "moving-old", "moving-new", "merging"):
        sys.exit("a restore in phase %r is not rolled back" % j["phase"])
    if j["phase"] == "moving-new":
        # Whatever of the backup is in place goes back to the stage.
        os.makedirs(stage, mode=0o700, exist_ok=True)
        if j["db"] and not os.path.lexists(sdb):
            move(db, sdb)
        if not os.path.lexists(smedia):
            move(media, smedia)
    if j["phase"] != "leftover":
        for s in SUFFIXES:
            move(aside("homeserver.db" + s), db + s)
        move(aside("media_store"), media)
        left = [n for n in os.listdir(old)] if os.path.isdir(old) else []
        if left:
            sys.exit("could not move back %s from %s" % (", ".join(left), old))
    shutil.rmtree(scratch, ignore_errors=True)
    if j["phase"] == "leftover":
        # No journal: only scratch is known to be ours (never an old
        # directory, which only a journal says what to do with).
        shutil.rmtree(stage, ignore_errors=True)
    else:
        clean()
else:
    sys.exit("unknown command " + cmd)
`

// journal runs one command of journalScript and returns its output.
func journal(ctx context.Context, c *client.Client, args ...string) (string, error) {
	argv := append([]string{"python3", "-c", journalScript}, args[0],
		restoreJournal, restoreStageDir, restoreOldDir, workload.SQLitePath, workload.MediaStorePath, backupWorkDir, workload.DataDir)
	argv = append(argv, args[1:]...)
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{Command: argv, Stdout: &stdout, Stderr: &stderr, Timeout: restoreStepTimeout})
	if err != nil {
		return "", fmt.Errorf("start the restore's %s in the %s container: %w", args[0], workload.SynapseContainer, err)
	}
	if err := waitExec(ctx, proc); err != nil {
		return "", fmt.Errorf("restore %s: %w: %s", args[0], err, lastLine(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// BeginRestore journals a staged restore (phase staged): from here on a
// killed restore is found by PendingRestore. replace swaps the database
// and the media store (SQLite); otherwise staged media files are merged.
func BeginRestore(ctx context.Context, c *client.Client, replace bool, backupID string) error {
	mode := "merge"
	if replace {
		mode = "replace"
	}
	_, err := journal(ctx, c, "begin", mode, backupID)
	return err
}

// StepRestore does the work of the journaled phase and journals the next
// one, which it returns ("" once the restore is done and its scratch
// removed). A process killed during a step leaves the journal at that
// step's phase, with its work partly done; repeating the step finishes it.
func StepRestore(ctx context.Context, c *client.Client) (workload.RestorePhase, error) {
	out, err := journal(ctx, c, "step")
	return workload.RestorePhase(out), err
}

// SwapRestore runs a begun restore's steps to the end. In replace mode
// Synapse must be stopped: the database is moved away and back.
func SwapRestore(ctx context.Context, c *client.Client) error {
	for range 8 {
		phase, err := StepRestore(ctx, c)
		if err != nil {
			return err
		}
		if phase == "" {
			return nil
		}
	}
	return fmt.Errorf("the restore did not finish in 8 steps")
}

// RollBackRestore puts back whatever of the previous data a restore moved
// aside and discards the staged backup (and a backup's scratch copy). A
// media merge keeps the files it already added.
func RollBackRestore(ctx context.Context, c *client.Client) error {
	_, err := journal(ctx, c, "rollback")
	return err
}

// RecoverRestore finishes or rolls back a restore found half done.
func RecoverRestore(ctx context.Context, c *client.Client, how workload.RestoreRecovery) error {
	switch how {
	case workload.RestoreComplete:
		return SwapRestore(ctx, c)
	case workload.RestoreRollBack:
		return RollBackRestore(ctx, c)
	}
	return fmt.Errorf("unknown restore recovery %q", how)
}

// PendingRestore returns the phase of a restore that did not finish: the
// journaled phase, RestoreLeftover when only scratch directories remain,
// "" when there is none. An unreadable journal is reported as its own
// phase, which no recovery knows.
func PendingRestore(c *client.Client) (workload.RestorePhase, error) {
	files, err := c.ListFiles(&client.ListFilesOptions{Path: workload.DataDir, Pattern: ".synapse-*"})
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look for an interrupted restore in %s: %w", workload.DataDir, err)
	}
	found := map[string]bool{}
	for _, f := range files {
		found[workload.DataDir+"/"+f.Name()] = true
	}
	if !found[restoreJournal] {
		if found[restoreStageDir] || found[backupWorkDir] {
			return workload.RestoreLeftover, nil
		}
		return "", nil
	}
	var buf bytes.Buffer
	if err := c.Pull(&client.PullOptions{Path: restoreJournal, Target: &buf}); err != nil {
		return "", fmt.Errorf("read %s: %w", restoreJournal, err)
	}
	var j struct {
		Phase workload.RestorePhase `json:"phase"`
	}
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil || j.Phase == "" {
		return "unreadable journal " + restoreJournal, nil
	}
	return j.Phase, nil
}
