package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"sort"
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
