package unitstate

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadSaveRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if s := Load(path); s.Fresh(time.Now()) {
		t.Fatal("a missing file is a fresh state")
	}
	now := time.Now()
	var s State
	s.Reset(now)
	s.Relations = map[string][]string{"database": {"database:3"}}
	s.Address = "10.1.2.3"
	s.SetContainer("synapse", Container{BootID: "b1", Since: now, Files: "abc"})
	if err := Save(path, State{}, s); err != nil {
		t.Fatal(err)
	}
	got := Load(path)
	if !got.Fresh(now.Add(time.Minute)) || got.Address != "10.1.2.3" || got.Relations["database"][0] != "database:3" {
		t.Fatalf("loaded %+v", got)
	}
	if _, ok := got.ContainerFresh("synapse", "b1", now.Add(time.Minute)); !ok {
		t.Error("the container entry of the same boot is not fresh")
	}
	if _, ok := got.ContainerFresh("synapse", "b2", now.Add(time.Minute)); ok {
		t.Error("another Pebble boot trusts the entry")
	}
	if _, ok := got.ContainerFresh("synapse", "b1", now.Add(MaxAge)); ok {
		t.Error("an entry older than MaxAge is trusted")
	}
	if got.Fresh(now.Add(MaxAge)) || got.Fresh(now.Add(-time.Minute)) {
		t.Error("the Juju-side entries are trusted outside [since, since+MaxAge)")
	}
}

func TestForeignOrBrokenFilesAreEmpty(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage": "{not json",
		"other":   `{"version": 99, "address": "10.0.0.1"}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if s := Load(path); s.Address != "" || s.Fresh(time.Now()) {
			t.Errorf("%s: loaded %+v", name, s)
		}
	}
}

func TestSaveOnlyWhenChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	var s State
	s.Reset(time.Now())
	if err := Save(path, s, s.Clone()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("an unchanged state was written")
	}
	c := s.Clone()
	c.Relations["smtp"] = nil
	if err := Save(path, s, c); err != nil {
		t.Fatal(err)
	}
	if got := Load(path); got.Relations == nil {
		t.Fatal("a changed state was not written")
	}
	before := Load(path)
	after := before.Clone()
	after.Members["redis:3"] = []string{"redis/0"}
	if err := Save(path, before, after); err != nil {
		t.Fatal(err)
	}
	if got := Load(path); len(got.Members["redis:3"]) != 1 || len(before.Members) != 0 {
		t.Fatalf("members: saved %v, loaded copy changed to %v", got.Members, before.Members)
	}
	if err := Forget(path); err != nil {
		t.Fatal(err)
	}
	if err := Forget(path); err != nil {
		t.Fatal("forgetting twice fails:", err)
	}
}

func TestPathIsInTheCharmDirectory(t *testing.T) {
	if got := Path("/var/lib/juju/agents/unit-synapse-0/charm"); got != "/var/lib/juju/agents/unit-synapse-0/charm/"+FileName {
		t.Errorf("Path: %q", got)
	}
	if got := Path(""); got != "" {
		t.Errorf("without a charm directory nothing is remembered, got %q", got)
	}
}
