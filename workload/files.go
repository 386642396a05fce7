package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is one file the charm keeps in a container.
type File struct {
	// Path is absolute, inside the container.
	Path string
	// Content is the whole file.
	Content []byte
	// Mode is the file's permission bits (0600 for secrets).
	Mode fs.FileMode
	// Owner, when set, owns the file; nil leaves it to Pebble (root).
	// A file that only its process's user may read (a secret of mode
	// 0600) is owned by that user.
	Owner *Owner
}

// Owner is a file's owning user and group, by ID.
type Owner struct {
	UserID, GroupID int
}

// Writable is a path a service writes (its data), with the owner it
// needs. Execute gives it, recursively, to that owner when it belongs to
// someone else: data left by a process that ran as root.
type Writable struct {
	Path  string
	Owner Owner
	// Recursive covers what the path holds; otherwise only the path.
	Recursive bool
}

// HashFiles returns a digest of paths and contents. A service's environment
// carries the digest of the files it reads, so Pebble restarts it exactly
// when one of them changes.
func HashFiles(files []File) string {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	h := sha256.New()
	for _, f := range sorted {
		h.Write([]byte(f.Path))
		h.Write([]byte{0})
		h.Write(f.Content)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ProcessConfigHash returns the restart hash of the Synapse process name
// ("main" or a slot "<role>-<n>"): the digest of what it reads among
// files, so that a change it does not read restarts it not. It reads
// the files every process reads, its own worker file, the S3 files when
// it loads the media repository, and of homeserver.yaml the keys
// readsKey gives it. homeserver.yaml itself stays one file, the same on
// every unit: only the hash is cut.
func ProcessConfigHash(files []File, name string) (string, error) {
	hs, err := homeserverDoc(files)
	if err != nil {
		return "", err
	}
	reads, _, err := processReads(files, hs, name, SlotRole(name))
	if err != nil {
		return "", err
	}
	return HashFiles(reads), nil
}

// SlotRole is the role of a process name: slots are named "<role>-<n>";
// the main is "main".
func SlotRole(name string) Role {
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		return Role(name[:i])
	}
	return Role(name)
}

// homeserverDoc parses homeserver.yaml among files (empty when absent).
func homeserverDoc(files []File) (map[string]any, error) {
	doc := map[string]any{}
	for _, f := range files {
		if f.Path == HomeserverPath {
			if err := yaml.Unmarshal(f.Content, &doc); err != nil {
				return nil, fmt.Errorf("read %s for the restart hashes: %w", f.Path, err)
			}
		}
	}
	return doc, nil
}

// processReads returns what process name of role reads among files, given
// homeserver.yaml parsed (hs), and whether it loads the media repository.
func processReads(files []File, hs map[string]any, name string, role Role) ([]File, bool, error) {
	own := ""
	if role != RoleMain {
		own = WorkerConfigPath(name)
	}
	worker := map[string]any{}
	for _, f := range files {
		if own != "" && f.Path == own {
			if err := yaml.Unmarshal(f.Content, &worker); err != nil {
				return nil, false, fmt.Errorf("read %s for the restart hash of %s: %w", f.Path, name, err)
			}
		}
	}
	media := loadsMedia(hs, worker)
	var reads []File
	for _, f := range files {
		switch {
		case f.Path == HomeserverPath:
			cut, err := cutKeys(hs, func(key string) bool { return readsKey(key, role, media) })
			if err != nil {
				return nil, false, fmt.Errorf("restart hash of %s: %w", name, err)
			}
			reads = append(reads, File{Path: f.Path, Content: cut})
		case strings.HasPrefix(f.Path, DataDir+"/workers/"):
			if f.Path == own {
				reads = append(reads, f)
			}
		case f.Path == AWSCredentialsPath || f.Path == AWSConfigPath:
			if media {
				reads = append(reads, f)
			}
		default:
			reads = append(reads, f)
		}
	}
	return reads, media, nil
}

// loadsMedia is Synapse's rule (synapse/config/repository.py): a process
// loads the media repository unless enable_media_repo, its worker file's
// over homeserver.yaml's, is false.
func loadsMedia(homeserver, worker map[string]any) bool {
	v, ok := worker["enable_media_repo"]
	if !ok {
		v, ok = homeserver["enable_media_repo"]
	}
	return !ok || v != false
}

// readsKey reports whether a process of role reads a top-level key of
// homeserver.yaml: the media keys only where the media repository loads;
// a role's keys, when its holders change with main-and-holders restarts,
// only the main and the holders; every other key (instance_map and
// stream_writers among them) every process.
func readsKey(key string, role Role, media bool) bool {
	if slices.Contains(MediaKeys, key) {
		return media
	}
	if owner, ok := roleKeyOwner(key); ok {
		return role == RoleMain || role == owner
	}
	return true
}

// roleKeyOwner returns the role whose holders, with the main, alone read
// key.
func roleKeyOwner(key string) (Role, bool) {
	for _, s := range Roles {
		if s.Restart != RestartMainAndHolders {
			continue
		}
		if _, held := s.SharedWhenHeld[key]; held || key == s.InstancesKey || key == s.SingleKey {
			return s.Role, true
		}
	}
	return "", false
}

// cutKeys renders the keys of doc that keep says (yaml sorts them).
func cutKeys(doc map[string]any, keep func(string) bool) ([]byte, error) {
	cut := map[string]any{}
	for k, v := range doc {
		if keep(k) {
			cut[k] = v
		}
	}
	out, err := yaml.Marshal(cut)
	if err != nil {
		return nil, fmt.Errorf("cut %s: %w", HomeserverPath, err)
	}
	return out, nil
}

// FilesHash is a digest of everything Execute compares in a container
// before it changes services: files (path, mode, owner, content),
// executables, pruned directories and writable paths with their owners.
// When it equals the digest of what was last pushed or found identical in
// the same boot of Pebble, nothing need be read back.
func FilesHash(c Container) string {
	h := sha256.New()
	for _, f := range c.Files {
		owner := "-"
		if f.Owner != nil {
			owner = fmt.Sprintf("%d:%d", f.Owner.UserID, f.Owner.GroupID)
		}
		fmt.Fprintf(h, "file %q %o %s %d\n", f.Path, f.Mode.Perm(), owner, len(f.Content))
		h.Write(f.Content)
	}
	for _, e := range c.Executables {
		fmt.Fprintf(h, "exec %q\n", e.Path)
	}
	for _, d := range c.PruneDirs {
		fmt.Fprintf(h, "prune %q\n", d)
	}
	for _, w := range c.Writable {
		fmt.Fprintf(h, "writable %q %d:%d %t\n", w.Path, w.Owner.UserID, w.Owner.GroupID, w.Recursive)
	}
	return hex.EncodeToString(h.Sum(nil))
}
