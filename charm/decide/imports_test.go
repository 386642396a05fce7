package decide_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The decisions are pure: no package of theirs may reach the outside
// world, the clock or randomness. Inputs arrive in the Snapshot.
func TestDecisionsImportNoIO(t *testing.T) {
	forbidden := []string{"os", "net", "time", "math/rand", "crypto/rand", "io/ioutil", "syscall",
		"github.com/canonical/pebble", "github.com/synapse-charm/synapse-k8s-go/charm/juju",
		"github.com/synapse-charm/synapse-k8s-go/workload/container"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s: decisions take their inputs from the Snapshot", f, path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source file checked")
	}
}
