package record

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestStreamFileWriteBuffers writes more buffers than one writev takes,
// of uneven sizes and some empty, over several drop windows, and reads
// back every byte; the caller's slice is left as it was.
func TestStreamFileWriteBuffers(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "f")
	osf, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f := newStreamFile(osf)
	want := make([]byte, 2*dropWindow+777)
	rand.NewChaCha8([32]byte{6}).Read(want)
	rng := rand.New(rand.NewPCG(2, 2))
	var bufs [][]byte
	for p := want; len(p) > 0; {
		n := min(len(p), rng.IntN(16<<10))
		bufs = append(bufs, p[:n])
		p = p[n:]
	}
	if len(bufs) <= maxIovecs {
		t.Fatalf("%d buffers, want more than %d", len(bufs), maxIovecs)
	}
	before := append([][]byte(nil), bufs...)
	n, err := f.WriteBuffers(bufs)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteBuffers: %d of %d, %v", n, len(want), err)
	}
	for i := range bufs {
		if len(bufs[i]) != len(before[i]) {
			t.Fatalf("buffer %d changed from %d to %d bytes", i, len(before[i]), len(bufs[i]))
		}
	}
	if f.off != int64(len(want)) || f.next != 3*dropWindow {
		t.Errorf("off %d, next %d; want %d, %d", f.off, f.next, len(want), 3*dropWindow)
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
	if _, err := f.WriteBuffers([][]byte{{1}}); err == nil {
		t.Error("WriteBuffers on a closed file: nil error")
	}
}

// fsyncCountingFile is a recording file that counts its fsyncs.
type fsyncCountingFile struct {
	*streamFile
	fsyncs *int
}

func (f fsyncCountingFile) Sync() error { *f.fsyncs++; return f.streamFile.Sync() }

// TestSyncGuardFiles syncs real files of the test's file system through a
// real guard: one syncfs, no fsync, every file closed with its bytes.
func TestSyncGuardFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var g syncGuard
	defer g.close()
	var jobs []syncJob
	var osFiles []*os.File
	fsyncs := 0
	fi, err := root.Stat(".")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tok := g.enter(root, nil)
		if !tok.ok {
			t.Skipf("the test's directory %s is on a file system or kernel the guard does not vouch for", dir)
		}
		// The directory as a caller found it gives the same token.
		if got := g.enter(root, fi); got != tok {
			t.Errorf("enter with the directory's FileInfo: %+v, want %+v", got, tok)
		}
		osf, err := root.Create(string(rune('a' + i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := osf.Write([]byte("sealed")); err != nil {
			t.Fatal(err)
		}
		osFiles = append(osFiles, osf)
		jobs = append(jobs, syncJob{f: fsyncCountingFile{newStreamFile(osf), &fsyncs}, name: osf.Name(), tok: tok})
	}
	if len(g.fss) != 1 {
		t.Errorf("guard holds %d file systems, want 1", len(g.fss))
	}
	var logged bytes.Buffer
	syncBatch(slog.New(slog.NewTextHandler(&logged, nil)), &g, jobs)
	if fsyncs != 0 || logged.Len() != 0 {
		t.Errorf("%d fsyncs, log %q; want none", fsyncs, logged.String())
	}
	for _, f := range osFiles {
		if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s: write after the sync: %v, want it closed", f.Name(), err)
		}
		if got, err := os.ReadFile(f.Name()); err != nil || string(got) != "sealed" {
			t.Errorf("%s: %q, %v", f.Name(), got, err)
		}
	}
	g.close()
	if tok := g.enter(root, nil); tok.ok {
		t.Error("a closed guard gave a token")
	}
}

// TestSyncGuardUnknownFS: a file system type not known to report
// write-back errors to syncfs (procfs here) gets no guard.
func TestSyncGuardUnknownFS(t *testing.T) {
	t.Parallel()
	root, err := os.OpenRoot("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	defer root.Close()
	var g syncGuard
	defer g.close()
	if tok := g.enter(root, nil); tok.ok {
		t.Errorf("procfs got a token %+v", tok)
	}
}

func TestKernelAtLeast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		release string
		want    bool
	}{
		{"5.8.0", true},
		{"5.7.19", false},
		{"5.10.0-28-amd64", true},
		{"6.1.0-18-amd64", true},
		{"4.19.0", false},
		{"6.18.44-fc-v1294", true},
		{"5.8-rc1", true},
		{"5", false},
		{"", false},
		{"x.y", false},
	}
	for _, tt := range tests {
		if got := kernelAtLeast(tt.release, 5, 8); got != tt.want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", tt.release, got, tt.want)
		}
	}
}
