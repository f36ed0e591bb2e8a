package proxy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Once a file has settled, a lookup only stats it.
func TestSnapshotSettled(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("a: h:1\n"), 0o644)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	var s snapshot
	if _, err := s.stat(path); err != nil {
		t.Fatal(err)
	}
	if s.changed() {
		t.Error("changed() of an unchanged, settled file is true")
	}
	os.WriteFile(path, []byte("a: h:2\n"), 0o644)
	os.Chtimes(path, old, old.Add(time.Second))
	if !s.changed() {
		t.Error("changed() of a modified file is false")
	}
}
