package charm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/s3store"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"

	"github.com/synapse-charm/synapse-k8s-go/internal/lazyre"
)

// Backups are objects <path>/synapse-backups/<backup-id>.tar.gz.gpg: a tar
// archive, gzip-compressed, OpenPGP-encrypted with backup_passphrase (so
// `gpg --decrypt` opens it). Backup ids are UTC times in the Python
// charm's format, %Y%m%d%H%M%S%f.
const (
	backupKeyDir    = "synapse-backups/"
	backupKeySuffix = ".tar.gz.gpg"
	backupFormat    = 1
)

var backupIDRE = lazyre.New(`^[0-9]{20}$`)

// backupExecTimeout bounds writing or extracting one archive in the
// workload container.
const backupExecTimeout = 6 * time.Hour

// BackupCipher encrypts and decrypts backups with the passphrase
// (charm/backupcrypt: OpenPGP). It is an option, not an import, because
// OpenPGP's packages cost milliseconds of start-up: dispatch runs every
// hook without them and execs cmd/charm-backup, which sets it, for the
// backup actions (IsBackupAction).
type BackupCipher interface {
	// Encrypt returns a writer whose plaintext is encrypted to w.
	Encrypt(w io.Writer, passphrase []byte, name string) (io.WriteCloser, error)
	// Decrypt returns the plaintext of r; a wrong passphrase fails here,
	// tampering fails the last Read.
	Decrypt(r io.Reader, passphrase []byte) (io.Reader, error)
	// WrongPassphrase reports whether err is Decrypt's wrong passphrase.
	WrongPassphrase(err error) bool
}

// IsBackupAction reports whether action needs Options.Backups: cmd/charm
// hands these to the backup actions' binary.
func IsBackupAction(action string) bool {
	switch action {
	case "create-backup", "list-backups", "delete-backup", "restore-backup":
		return true
	}
	return false
}

func backupID(t time.Time) string {
	t = t.UTC()
	return t.Format("20060102150405") + fmt.Sprintf("%06d", t.Nanosecond()/1000)
}

// backupStore is the bucket the backup actions use, and the passphrase.
type backupStore struct {
	s3         *s3store.Client
	prefix     string
	passphrase []byte
	serverName string
	cipher     BackupCipher
}

func (b *backupStore) key(id string) string { return b.prefix + id + backupKeySuffix }

// backupStore checks everything the backup actions need and says how to
// fix what is missing.
func (c *charm) backupStore(s *decide.Snapshot) (*backupStore, error) {
	if s.ConfigErr != nil {
		return nil, s.ConfigErr
	}
	if s.Config.BackupPassphrase == "" {
		return nil, fmt.Errorf("backups are encrypted with a passphrase, and none is set: juju config %s backup_passphrase=<a long passphrase> (keep a copy: a backup cannot be restored without it)", c.ev.App)
	}
	rel := s.Backup
	if rel == nil {
		return nil, fmt.Errorf("no S3 bucket for backups: juju integrate %s:%s s3-integrator", c.ev.App, BackupEndpoint)
	}
	if rel.Pending {
		return nil, fmt.Errorf("the %s relation with %s is still being set up: try again once its hooks have run", BackupEndpoint, rel.RemoteApp)
	}
	bucket, err := relations.ParseS3(rel.App, rel.Secret)
	switch {
	case errors.Is(err, relations.ErrNotReady):
		return nil, fmt.Errorf("%s has not provided the backup bucket and its credentials yet (s3-integrator needs its bucket and credentials configured, e.g. with its sync-s3-credentials action)", rel.RemoteApp)
	case err != nil:
		return nil, fmt.Errorf("the %s relation data from %s is malformed: %w", BackupEndpoint, rel.RemoteApp, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = 2 * time.Minute
	transport.DialContext = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	if len(bucket.CAChain) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, pem := range bucket.CAChain {
			if !pool.AppendCertsFromPEM([]byte(pem)) {
				return nil, fmt.Errorf("the %s relation data from %s is malformed: tls-ca-chain holds a certificate that is not PEM", BackupEndpoint, rel.RemoteApp)
			}
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &backupStore{
		s3: &s3store.Client{
			Endpoint: bucket.Endpoint, Region: bucket.Region, Bucket: bucket.Bucket, PathStyle: bucket.PathStyle,
			AccessKey: bucket.AccessKey, SecretKey: bucket.SecretKey,
			HTTP: &http.Client{Transport: transport},
		},
		prefix:     bucket.Prefix + backupKeyDir,
		passphrase: []byte(s.Config.BackupPassphrase),
		serverName: s.Config.ServerName,
	}, nil
}

// openBackupStore starts a backup action: it checks the backup-id
// parameter when the action takes one, then observes the unit and returns
// the backup store. With onData, the action reads or writes this unit's
// volume and runs only on the unit that holds the data.
func (c *charm) openBackupStore(ctx context.Context, params map[string]any, withID, onData bool) (*backupStore, string, error) {
	id, _ := params["backup-id"].(string)
	if withID && !backupIDRE().MatchString(id) {
		return nil, "", fmt.Errorf("backup-id %q is not a backup id (20 digits, as list-backups shows them)", id)
	}
	s, err := c.observe(ctx, false)
	if err != nil {
		return nil, "", err
	}
	if onData {
		if err := dataUnit(s); err != nil {
			return nil, "", err
		}
	}
	store, err := c.backupStore(s)
	if err != nil {
		return nil, "", err
	}
	if store.cipher = c.opts.Backups; store.cipher == nil {
		return nil, "", fmt.Errorf("this charm build has no backup-actions program, which runs the backup actions: refresh to a complete build of the charm")
	}
	return store, id, nil
}

func (c *charm) createBackup(ctx context.Context, params map[string]any) (map[string]string, error) {
	store, _, err := c.openBackupStore(ctx, params, false, true)
	if err != nil {
		return nil, err
	}
	pc, err := c.workloadPebble()
	if err != nil {
		return nil, err
	}
	usesPG, err := container.UsesPostgres(pc)
	if err != nil {
		return nil, err
	}
	version, err := container.SynapseVersion(ctx, pc)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	m := container.BackupManifest{
		Format: backupFormat, ServerName: store.serverName, SynapseVersion: version,
		Unit: c.ev.Unit, BackupID: backupID(started), Created: started.UTC().Truncate(time.Second), Database: "sqlite",
	}
	if usesPG {
		m.Database = "postgresql"
	}
	key := store.key(m.BackupID)
	c.actionLog(ctx, "streaming backup %s to s3://%s/%s", m.BackupID, store.s3.Bucket, key)

	// Three stages run at once, each in bounded memory: the container
	// writes the tar, the charm compresses and encrypts it, and uploads.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tarR, tarW := io.Pipe()
	encR, encW := io.Pipe()
	written := make(chan container.BackupManifest, 1)
	go func() {
		out, err := container.WriteBackup(ctx, pc, m, !usesPG, tarW, backupExecTimeout)
		tarW.CloseWithError(err)
		written <- out
	}()
	go func() {
		encW.CloseWithError(compressAndEncrypt(store.cipher, encW, tarR, store.passphrase, m.BackupID+".tar.gz"))
	}()
	meta := map[string]string{
		"backup-id": m.BackupID, "unit": c.ev.Unit, "server-name": m.ServerName,
		"synapse-version": m.SynapseVersion, "database": m.Database, "created": m.Created.Format(time.RFC3339),
	}
	size, err := store.s3.Put(ctx, key, encR, meta)
	encR.CloseWithError(errors.New("upload ended"))
	tarR.CloseWithError(errors.New("upload ended"))
	if err != nil {
		cancel()
		<-written
		return nil, fmt.Errorf("upload backup %s to bucket %s: %w", m.BackupID, store.s3.Bucket, err)
	}
	m = <-written
	took := time.Since(started).Round(time.Millisecond)
	c.logf("backup %s: %d files, %d bytes, %d bytes encrypted in s3://%s/%s, took %s", m.BackupID, m.FileCount, m.Bytes, size, store.s3.Bucket, key, took)
	out := map[string]string{
		"backup-id": m.BackupID,
		"bucket":    store.s3.Bucket,
		"key":       key,
		"size":      strconv.FormatInt(size, 10),
		"files":     strconv.Itoa(m.FileCount),
		"includes":  strings.Join(m.Includes, ", "),
		"took":      took.String(),
	}
	if usesPG {
		out["database"] = "not included: Synapse's database is in PostgreSQL; back it up with postgresql-k8s's create-backup action"
	}
	return out, nil
}

func compressAndEncrypt(cipher BackupCipher, w io.Writer, r io.Reader, passphrase []byte, name string) error {
	enc, err := cipher.Encrypt(w, passphrase, name)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	gz := gzip.NewWriter(enc)
	if _, err := io.Copy(gz, r); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return enc.Close()
}

// backupInfo is one backup as list-backups shows it.
type backupInfo struct {
	id, created, unit, database, version string
	size                                 int64
}

func (c *charm) listBackups(ctx context.Context, params map[string]any) (map[string]string, error) {
	store, _, err := c.openBackupStore(ctx, params, false, false)
	if err != nil {
		return nil, err
	}
	objects, err := store.s3.List(ctx, store.prefix)
	if err != nil {
		return nil, fmt.Errorf("list backups in bucket %s: %w", store.s3.Bucket, err)
	}
	var infos []backupInfo
	for _, o := range objects {
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, store.prefix), backupKeySuffix)
		if !ok || !backupIDRE().MatchString(id) {
			continue
		}
		info := backupInfo{id: id, size: o.Size, created: o.LastModified.UTC().Format(time.RFC3339)}
		if head, err := store.s3.Head(ctx, o.Key); err == nil {
			info.unit = head.Metadata["unit"]
			info.database = head.Metadata["database"]
			info.version = head.Metadata["synapse-version"]
			if t := head.Metadata["created"]; t != "" {
				info.created = t
			}
		}
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].id < infos[j].id })
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "backup-id\tcreated\tunit\tdatabase\tsynapse\tsize")
	out := map[string]string{"count": strconv.Itoa(len(infos))}
	for _, b := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.id, b.created, orDash(b.unit), orDash(b.database), orDash(b.version), humanBytes(b.size))
		prefix := "backups." + b.id + "."
		out[prefix+"size"] = strconv.FormatInt(b.size, 10)
		out[prefix+"created"] = b.created
		if b.unit != "" {
			out[prefix+"unit"] = b.unit
		}
		if b.database != "" {
			out[prefix+"database"] = b.database
		}
	}
	_ = tw.Flush()
	out["formatted"] = table.String()
	return out, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func (c *charm) deleteBackup(ctx context.Context, params map[string]any) (map[string]string, error) {
	store, id, err := c.openBackupStore(ctx, params, true, false)
	if err != nil {
		return nil, err
	}
	key := store.key(id)
	if _, err := store.s3.Head(ctx, key); err != nil {
		return nil, store.missing(id, err)
	}
	if err := store.s3.Delete(ctx, key); err != nil {
		return nil, fmt.Errorf("delete backup %s: %w", id, err)
	}
	return map[string]string{"backup-id": id, "deleted": key}, nil
}

// missing turns a not-found error into one that says where to look.
func (b *backupStore) missing(id string, err error) error {
	if errors.Is(err, s3store.ErrNotFound) {
		return fmt.Errorf("backup %s does not exist in bucket %s: list-backups shows the backups there", id, b.s3.Bucket)
	}
	return fmt.Errorf("look up backup %s: %w", id, err)
}

// streamErr remembers the first error other than EOF its reader returned,
// so a failure the consumer swallowed (Pebble treats any read error as the
// end of stdin) is still seen.
type streamErr struct {
	r   io.Reader
	err error
}

func (s *streamErr) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (c *charm) restoreBackup(ctx context.Context, params map[string]any) (map[string]string, error) {
	store, id, err := c.openBackupStore(ctx, params, true, true)
	if err != nil {
		return nil, err
	}
	pc, err := c.workloadPebble()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	body, _, err := store.s3.Get(ctx, store.key(id))
	if err != nil {
		return nil, store.missing(id, err)
	}
	defer body.Close()
	plain, err := store.cipher.Decrypt(body, store.passphrase)
	if store.cipher.WrongPassphrase(err) {
		return nil, fmt.Errorf("cannot decrypt backup %s with the configured backup_passphrase: set the passphrase the backup was made with (juju config %s backup_passphrase=...); nothing was changed", id, c.ev.App)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w; nothing was changed", id, err)
	}
	gz, err := gzip.NewReader(plain)
	if err != nil {
		return nil, fmt.Errorf("backup %s is not a gzip-compressed archive: %w; nothing was changed", id, err)
	}
	// The manifest is the first entry: read it, keep its bytes, and hand
	// the whole archive on.
	var head bytes.Buffer
	tr := tar.NewReader(io.TeeReader(gz, &head))
	hdr, err := tr.Next()
	if err != nil || hdr.Name != container.BackupManifestName {
		return nil, fmt.Errorf("backup %s has no manifest: not a backup of this charm; nothing was changed", id)
	}
	var m container.BackupManifest
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("backup %s: unreadable manifest: %w; nothing was changed", id, err)
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return nil, fmt.Errorf("backup %s: read the manifest: %w", id, err)
	}
	if m.Format != backupFormat {
		return nil, fmt.Errorf("backup %s has format %d; this charm restores format %d; nothing was changed", id, m.Format, backupFormat)
	}
	if m.ServerName != store.serverName {
		return nil, fmt.Errorf("backup %s is of server_name %s, but this application serves %s: a homeserver's data cannot move to another server_name; nothing was changed", id, m.ServerName, store.serverName)
	}
	usesPG, err := container.UsesPostgres(pc)
	if err != nil {
		return nil, err
	}
	replace := !usesPG && m.Database == "sqlite"
	if replace {
		running, err := container.SynapseVersion(ctx, pc)
		if err != nil {
			return nil, err
		}
		if versionLess(running, m.SynapseVersion) {
			return nil, fmt.Errorf("backup %s was made by Synapse %s, and this unit runs %s, which cannot open a newer database; use the image the backup was made with; nothing was changed", id, m.SynapseVersion, running)
		}
	}

	c.actionLog(ctx, "backup %s of %s (unit %s, %s) decrypted and checked; extracting beside the live data", id, m.ServerName, m.Unit, m.Created.Format(time.RFC3339))
	// Extract beside the live data, while Synapse keeps running.
	stream := &streamErr{r: io.MultiReader(&head, gz)}
	staged, err := container.StageRestore(ctx, pc, stream, backupExecTimeout)
	if err == nil {
		// Read to the end: the OpenPGP integrity check runs on the last byte.
		_, err = io.Copy(io.Discard, stream)
	}
	if err == nil && stream.err != nil {
		err = stream.err
	}
	if err != nil {
		_ = container.DiscardRestore(pc)
		return nil, fmt.Errorf("backup %s cannot be extracted (damaged or incomplete?): %w; nothing was changed", id, err)
	}

	out := map[string]string{"backup-id": id, "files": strconv.Itoa(staged.Files), "from-unit": m.Unit, "created": m.Created.Format(time.RFC3339)}
	if !replace {
		// The database is elsewhere: add the media files back, keep the
		// ones uploaded since (the database refers to them).
		c.actionLog(ctx, "extracted %d files; adding the media files to the media store", staged.Files)
		if err := container.BeginRestore(ctx, pc, false, id); err != nil {
			_ = container.RollBackRestore(ctx, pc)
			return nil, fmt.Errorf("backup %s: %w; nothing was changed", id, err)
		}
		if err := container.SwapRestore(ctx, pc); err != nil {
			_ = container.RollBackRestore(ctx, pc)
			return nil, fmt.Errorf("backup %s: %w; the media files added so far stay", id, err)
		}
		out["restored"] = "media files"
		switch {
		case usesPG:
			out["database"] = "not restored: Synapse's database is in PostgreSQL; restore it with postgresql-k8s's restore action"
		default:
			out["database"] = "not in this backup: it was made while Synapse ran on PostgreSQL"
		}
		out["took"] = time.Since(started).Round(time.Millisecond).String()
		return out, nil
	}
	c.actionLog(ctx, "extracted %d files; stopping synapse to swap the database and the media store", staged.Files)

	// From here the swap is journaled on /data: if this action is killed,
	// the next hook rolls it back or completes it before starting Synapse.
	if err := container.BeginRestore(ctx, pc, true, id); err != nil {
		_ = container.RollBackRestore(ctx, pc)
		return nil, fmt.Errorf("backup %s: %w; nothing was changed", id, err)
	}
	stopped, err := container.StopActive(pc, c.opts.ChangeTimeout)
	if err != nil {
		_ = container.RollBackRestore(ctx, pc)
		_ = container.StartServices(pc, stopped, c.opts.ChangeTimeout)
		return nil, fmt.Errorf("stop synapse before the restore: %w; nothing was changed", err)
	}
	if err := container.SwapRestore(ctx, pc); err != nil {
		if rerr := container.RollBackRestore(ctx, pc); rerr != nil {
			return nil, fmt.Errorf("restore %s failed (%w), and putting the previous data back failed too (%w): synapse stays stopped until a hook completes or rolls back the restore journaled in %s", id, err, rerr, workload.DataDir)
		}
		if serr := container.StartServices(pc, stopped, c.opts.ChangeTimeout); serr != nil {
			return nil, fmt.Errorf("restore %s failed and synapse did not start again on its previous data: %w; %w", id, err, serr)
		}
		return nil, fmt.Errorf("restore %s failed; synapse runs again on its previous data: %w", id, err)
	}
	if err := container.StartServices(pc, stopped, c.opts.ChangeTimeout); err != nil {
		return nil, fmt.Errorf("backup %s was restored, but synapse did not start: %w", id, err)
	}
	c.logf("restored backup %s (%d files) and restarted %s", id, staged.Files, strings.Join(stopped, ", "))
	out["restored"] = "database and media store"
	out["restarted"] = strings.Join(stopped, ", ")
	out["took"] = time.Since(started).Round(time.Millisecond).String()
	return out, nil
}

// versionLess compares dotted version numbers ("1.98.0" < "1.99.0"); a
// part that is not a number compares as 0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(strings.TrimLeft(pa[i], "v"))
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(strings.TrimLeft(pb[i], "v"))
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// workloadPebble returns the synapse container's Pebble, reachable.
func (c *charm) workloadPebble() (pebbleClient, error) {
	pc, err := c.pebble(workload.SynapseContainer)
	if err != nil {
		return nil, err
	}
	if _, err := pc.SysInfo(); err != nil {
		return nil, fmt.Errorf("pebble in the %s container is not reachable: %w", workload.SynapseContainer, err)
	}
	return pc, nil
}

// actionLog tells the operator running the action what it is doing; a
// failure to say so is only logged.
func (c *charm) actionLog(ctx context.Context, format string, args ...any) {
	if err := c.tools.ActionLog(ctx, fmt.Sprintf(format, args...)); err != nil {
		c.logf("action-log: %v", err)
	}
}
