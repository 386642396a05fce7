package charmarchive

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Unpack extracts a charm archive Build wrote into dir, as Juju does,
// keeping each file's mode (dispatch stays executable). The archive is
// flat: an entry with a directory or ".." in its name is refused.
func Unpack(archive, dir string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("open charm: %w", err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range zr.File {
		if strings.Contains(f.Name, "/") || strings.Contains(f.Name, "..") {
			return fmt.Errorf("unpack charm: unexpected entry %q", f.Name)
		}
		r, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("unpack %s: %w", f.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), data, f.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
