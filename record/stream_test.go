package record

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
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
