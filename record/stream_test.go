package record

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStreamFile writes a file of several drop windows in uneven writes
// and reads back every byte: dropping pages from the cache loses nothing.
func TestStreamFile(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "f")
	osf, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f := newStreamFile(osf)
	want := make([]byte, 3*dropWindow+12345)
	rand.NewChaCha8([32]byte{5}).Read(want)
	rng := rand.New(rand.NewPCG(1, 1))
	for p := want; len(p) > 0; {
		n := min(len(p), 1+rng.IntN(3<<20))
		if m, err := f.Write(p[:n]); err != nil || m != n {
			t.Fatalf("Write: %d of %d, %v", m, n, err)
		}
		p = p[n:]
	}
	if f.next != 4*dropWindow {
		t.Errorf("next window ends at %d, want %d", f.next, 4*dropWindow)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the file differs from what was written")
	}
}

// syncCountFile is a file that counts its syncs and closes, and fails its
// sync with err.
type syncCountFile struct {
	syncs, closes int
	err           error
}

func (f *syncCountFile) Write(p []byte) (int, error) { return len(p), nil }
func (f *syncCountFile) Sync() error                 { f.syncs++; return f.err }
func (f *syncCountFile) Close() error                { f.closes++; return nil }

// TestSyncBatch syncs files of one file system together with one that
// cannot be synced as a whole and one whose sync fails: every file is
// synced and closed, and only the failure is logged, with its name.
func TestSyncBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var jobs []syncJob
	var osFiles []*os.File
	for i := range 3 {
		osf, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := osf.Write([]byte("sealed")); err != nil {
			t.Fatal(err)
		}
		osFiles = append(osFiles, osf)
		jobs = append(jobs, syncJob{f: &countedFile{f: newStreamFile(osf), c: &counters{}}, name: osf.Name()})
	}
	plain := &syncCountFile{}
	failing := &syncCountFile{err: errors.New("disk on fire")}
	jobs = append(jobs, syncJob{f: plain, name: "plain"}, syncJob{f: failing, name: "failing"})
	var logged bytes.Buffer
	syncBatch(slog.New(slog.NewTextHandler(&logged, nil)), &syncGuard{}, jobs)
	for _, f := range osFiles {
		if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s: write after the sync: %v, want it closed", f.Name(), err)
		}
		if got, err := os.ReadFile(f.Name()); err != nil || string(got) != "sealed" {
			t.Errorf("%s: %q, %v", f.Name(), got, err)
		}
	}
	for _, f := range []*syncCountFile{plain, failing} {
		if f.syncs != 1 || f.closes != 1 {
			t.Errorf("synced %d and closed %d times, want once each", f.syncs, f.closes)
		}
	}
	if got := logged.String(); strings.Count(got, "level=ERROR") != 1 || !strings.Contains(got, "file=failing") || !strings.Contains(got, "disk on fire") {
		t.Errorf("log:\n%s\nwant one error, for the failing file", got)
	}
}
