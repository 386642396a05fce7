package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/canonical/pebble/client"
	"gopkg.in/yaml.v3"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// What a backup archive holds, by name inside the archive. The manifest
// comes first, so a restore can check it before it touches anything.
const (
	BackupManifestName = "manifest.json"
	BackupSQLiteName   = "homeserver.db"
	BackupMediaDir     = "media_store"
	BackupSigningKey   = "keys/signing.key"
)

// Scratch directories on /data (the same volume, so moves are renames).
const (
	backupWorkDir   = workload.DataDir + "/.synapse-backup"
	restoreStageDir = workload.DataDir + "/.synapse-restore"
	restoreOldDir   = workload.DataDir + "/.synapse-restore-old"
)

// BackupManifest describes one backup; manifest.json in the archive.
type BackupManifest struct {
	Format         int       `json:"format"`
	ServerName     string    `json:"server_name"`
	SynapseVersion string    `json:"synapse_version"`
	Unit           string    `json:"unit"`
	BackupID       string    `json:"backup_id"`
	Created        time.Time `json:"created"`
	// Database is "sqlite" (the database is in the archive) or
	// "postgresql" (it is not: postgresql-k8s backs it up).
	Database string `json:"database"`
	// Includes names what the archive holds: homeserver.db, media_store,
	// keys/signing.key. Filled in the container.
	Includes []string `json:"includes"`
	// FileCount counts the files after the manifest; MediaFiles those of
	// the media store; Bytes their total size before compression.
	FileCount  int   `json:"file_count"`
	MediaFiles int   `json:"media_files"`
	Bytes      int64 `json:"bytes"`
}

// backupScript runs in the synapse container with the image's python3:
// it copies the SQLite database with SQLite's online backup API (a
// consistent copy of a live database) and writes a tar stream to stdout:
// the manifest, the database copy, the media store, the signing key.
// Parameters arrive on stdin; the final manifest goes to stderr.
const backupScript = `
import io, json, os, shutil, sqlite3, sys, tarfile, time
p = json.load(sys.stdin)
work, m = p["work"], p["manifest"]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work, mode=0o700)
try:
    entries, includes, media, size = [], [], 0, 0
    if p["sqlite"]:
        if not os.path.exists(p["db"]):
            sys.exit("no SQLite database at " + p["db"])
        src = sqlite3.connect("file:" + p["db"] + "?mode=ro", uri=True, timeout=60)
        dst = sqlite3.connect(os.path.join(work, "homeserver.db"))
        src.backup(dst)
        dst.close()
        src.close()
        entries.append(("homeserver.db", os.path.join(work, "homeserver.db")))
        includes.append("homeserver.db")
    for root, dirs, files in os.walk(p["media"]):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(root, f)
            if os.path.isfile(path) and not os.path.islink(path):
                entries.append(("media_store/" + os.path.relpath(path, p["media"]), path))
                media += 1
    if os.path.isdir(p["media"]):
        includes.append("media_store")
    if os.path.isfile(p["key"]):
        entries.append(("keys/signing.key", p["key"]))
        includes.append("keys/signing.key")
    for _, path in entries:
        size += os.path.getsize(path)
    m.update(includes=includes, file_count=len(entries), media_files=media, bytes=size)
    data = json.dumps(m, indent=2).encode()
    out = sys.stdout.buffer
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        tar.addfile(info, io.BytesIO(data))
        for name, path in entries:
            try:
                tar.add(path, arcname=name, recursive=False)
            except FileNotFoundError:
                # Media retention may purge a file while we walk.
                sys.stderr.write("skipped vanished file " + name + "\n")
    out.flush()
    sys.stderr.write("MANIFEST " + json.dumps(m) + "\n")
finally:
    shutil.rmtree(work, ignore_errors=True)
`

// WriteBackup streams this unit's backup archive (an uncompressed tar)
// from the synapse container to out, and returns the manifest it wrote.
// With sqlite, the database is copied consistently while Synapse runs.
func WriteBackup(ctx context.Context, c *client.Client, m BackupManifest, sqlite bool, out io.Writer, timeout time.Duration) (BackupManifest, error) {
	in, err := json.Marshal(map[string]any{
		"work": backupWorkDir, "manifest": m, "sqlite": sqlite,
		"db": workload.SQLitePath, "media": workload.MediaStorePath, "key": workload.SigningKeyPath,
	})
	if err != nil {
		return m, err
	}
	var stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", backupScript},
		Stdin:   bytes.NewReader(in),
		Stdout:  out,
		Stderr:  &stderr,
		Timeout: timeout,
	})
	if err != nil {
		return m, fmt.Errorf("start the backup in the %s container: %w", workload.SynapseContainer, err)
	}
	if err := waitExec(ctx, proc); err != nil {
		return m, fmt.Errorf("write the backup archive: %w: %s", err, lastLine(stderr.String()))
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if raw, ok := strings.CutPrefix(line, "MANIFEST "); ok {
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return m, fmt.Errorf("read the backup manifest: %w", err)
			}
			return m, nil
		}
	}
	return m, errors.New("the backup script wrote no manifest")
}

// stageScript extracts a backup archive from stdin into the staging
// directory, keeping only the database and the media store (never the
// manifest, the signing key or a path outside). Each file gets the mode
// it was saved with and the owner of what it replaces (else of /data).
const stageScript = `
import json, os, shutil, sys, tarfile
stage, data, db, media = sys.argv[1:5]
shutil.rmtree(stage, ignore_errors=True)
os.makedirs(stage, mode=0o700)
def owner(path):
    st = os.stat(path if os.path.exists(path) else data)
    return st.st_uid, st.st_gid
owners = {"homeserver.db": owner(db), "media_store": owner(media)}
files, size = 0, 0
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
    for m in tar:
        name = os.path.normpath(m.name)
        top = name.split("/")[0]
        if os.path.isabs(name) or ".." in name.split("/") or not m.isfile():
            continue
        if name != "homeserver.db" and top != "media_store":
            continue
        uid, gid = owners[top]
        dest = os.path.join(stage, name)
        parent = os.path.dirname(dest)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o755)
        with open(dest, "wb") as f:
            shutil.copyfileobj(tar.extractfile(m), f, 1 << 20)
        os.chmod(dest, (m.mode & 0o777) or 0o600)
        os.chown(dest, uid, gid)
        files += 1
        size += m.size
uid, gid = owners["media_store"]
for root, dirs, _ in os.walk(os.path.join(stage, "media_store")):
    os.chown(root, uid, gid)
    for d in dirs:
        os.chown(os.path.join(root, d), uid, gid)
print(json.dumps({"files": files, "bytes": size}))
`

// Staged is what StageRestore extracted.
type Staged struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// StageRestore extracts a backup archive (an uncompressed tar read from
// archive) into a staging directory on /data, beside the live data, which
// it does not touch. A failed or interrupted stage is removed.
func StageRestore(ctx context.Context, c *client.Client, archive io.Reader, timeout time.Duration) (Staged, error) {
	var stdout, stderr bytes.Buffer
	proc, err := c.Exec(&client.ExecOptions{
		Command: []string{"python3", "-c", stageScript, restoreStageDir, workload.DataDir, workload.SQLitePath, workload.MediaStorePath},
		Stdin:   archive,
		Stdout:  &stdout,
		Stderr:  &stderr,
		Timeout: timeout,
	})
	if err != nil {
		return Staged{}, fmt.Errorf("start extracting in the %s container: %w", workload.SynapseContainer, err)
	}
	if err := waitExec(ctx, proc); err != nil {
		_ = DiscardRestore(c)
		return Staged{}, fmt.Errorf("extract the backup: %w: %s", err, lastLine(stderr.String()))
	}
	var st Staged
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &st); err != nil {
		_ = DiscardRestore(c)
		return Staged{}, fmt.Errorf("extract the backup: unexpected output %q", stdout.String())
	}
	return st, nil
}

// DiscardRestore removes the staging directory.
func DiscardRestore(c *client.Client) error {
	err := c.RemovePath(&client.RemovePathOptions{Path: restoreStageDir, Recursive: true})
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// StopActive stops every active service of the container and returns
// their names, so StartServices can start exactly those again.
func StopActive(c *client.Client, timeout time.Duration) ([]string, error) {
	infos, err := c.Services(&client.ServicesOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var names []string
	for _, info := range infos {
		if info.Current == client.StatusActive {
			names = append(names, info.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	err = waitChange(c, func() (string, error) {
		return c.Stop(&client.ServiceOptions{Names: names})
	}, timeout)
	if err != nil {
		return names, fmt.Errorf("stop %s: %w", strings.Join(names, ", "), err)
	}
	return names, nil
}

// StartServices starts the named services.
func StartServices(c *client.Client, names []string, timeout time.Duration) error {
	if len(names) == 0 {
		return nil
	}
	err := waitChange(c, func() (string, error) {
		return c.Start(&client.ServiceOptions{Names: names})
	}, timeout)
	if err != nil {
		return fmt.Errorf("start %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// UsesPostgres reports whether this unit's Synapse runs on PostgreSQL, as
// the database section of its configuration file says.
func UsesPostgres(c *client.Client) (bool, error) {
	var buf bytes.Buffer
	if err := c.Pull(&client.PullOptions{Path: workload.HomeserverPath, Target: &buf}); err != nil {
		if isNotFound(err) {
			return false, fmt.Errorf("synapse is not configured on this unit yet (no %s)", workload.HomeserverPath)
		}
		return false, fmt.Errorf("read %s: %w", workload.HomeserverPath, err)
	}
	return usesPostgres(buf.Bytes())
}

// usesPostgres reads database.name from a homeserver.yaml: psycopg2
// (PostgreSQL) or sqlite3.
func usesPostgres(homeserver []byte) (bool, error) {
	var hs struct {
		Database struct {
			Name string `yaml:"name"`
		} `yaml:"database"`
	}
	if err := yaml.Unmarshal(homeserver, &hs); err != nil {
		return false, fmt.Errorf("parse %s: %w", workload.HomeserverPath, err)
	}
	switch hs.Database.Name {
	case "psycopg2":
		return true, nil
	case "sqlite3":
		return false, nil
	}
	return false, fmt.Errorf("%s: database.name is %q, neither sqlite3 nor psycopg2", workload.HomeserverPath, hs.Database.Name)
}

// waitExec waits for an exec'd process, killing it when ctx ends first.
func waitExec(ctx context.Context, proc *client.ExecProcess) error {
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = proc.SendSignal("SIGKILL")
		<-done
		return ctx.Err()
	}
}
