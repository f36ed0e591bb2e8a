package filesnap_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/filesnap"
)

func TestSnapshot(t *testing.T) {
	t.Parallel()
	old := time.Now().Add(-time.Hour)
	settled := func(t *testing.T) (string, *filesnap.Snapshot) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, []byte("a: h:1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		var s filesnap.Snapshot
		if _, err := s.Stat(path); err != nil {
			t.Fatal(err)
		}
		return path, &s
	}
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   bool
	}{
		// Once a file has settled, a check only stats it.
		{"Unchanged", func(*testing.T, string) {}, false},
		{"Modified", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("a: h:2\n"), 0o644)
			os.Chtimes(path, old, old.Add(time.Second))
		}, true},
		{"SameSizeNewTime", func(t *testing.T, path string) {
			os.Chtimes(path, old, old.Add(time.Second))
		}, true},
		{"Removed", func(t *testing.T, path string) { os.Remove(path) }, true},
		{"Replaced", func(t *testing.T, path string) {
			tmp := path + ".new"
			os.WriteFile(tmp, []byte("a: h:1\n"), 0o644)
			os.Chtimes(tmp, old, old)
			os.Rename(tmp, path)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, s := settled(t)
			tt.change(t, path)
			if got := s.Changed(); got != tt.want {
				t.Errorf("Changed() = %v, want %v", got, tt.want)
			}
		})
	}
}

// A file changed within the timestamp granularity counts as changed until
// it has settled; a Snapshot that recorded nothing counts as changed.
func TestSnapshotRacy(t *testing.T) {
	t.Parallel()
	var zero filesnap.Snapshot
	if !zero.Changed() {
		t.Error("Changed() of the zero Snapshot is false")
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var s filesnap.Snapshot
	if _, err := s.Stat(path); err != nil {
		t.Fatal(err)
	}
	if !s.Changed() {
		t.Error("Changed() of a file written just now is false")
	}
	if _, err := s.Stat(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Stat of a missing file: no error")
	}
}
