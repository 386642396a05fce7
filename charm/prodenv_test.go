package charm_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProductionReadsNoSimulatorVariable: the code that ships (every Go
// file outside tests/ and _test.go files) reads no environment variable
// of its own invention: under Juju the charm has only what Juju gives, so
// a variable only the simulator sets would make tests pass on a path
// production never takes (the Pebble socket directory was one).
func TestProductionReadsNoSimulatorVariable(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	own := regexp.MustCompile(`(Getenv|LookupEnv)\("SYNAPSE_|SYNAPSE_CHARM_CONTAINERS_DIR`)
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "tests" || rel == "tools" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		assert.False(t, own.Match(src), "%s reads a simulator-only variable: %s", rel, own.Find(src))
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 50, "the walk found the charm's sources")
}
