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
