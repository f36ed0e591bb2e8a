package record

import (
	"bytes"
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
