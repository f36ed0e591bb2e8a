package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/format"
)

// TestConvertUpgrades converts a version 1 recording, as an earlier
// wsproxy wrote it, to wsrec: the copy is version 2, with a BLAKE3 chain,
// valid, and holds the same records.
func TestConvertUpgrades(t *testing.T) {
	t.Parallel()
	in := filepath.Join("..", "..", "testdata", "recordings", "sealed-signed.wsrec")
	out := filepath.Join(t.TempDir(), "v2.wsrec")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"convert", in, "-o", out}, &stdout, &stderr); err != nil {
		t.Fatalf("convert: %v; stderr %s", err, stderr.String())
	}
	old, err := format.Open(in, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	r, err := format.Open(out, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h := r.Header(); old.Header().Version != 1 || h.Version != 2 || h.ChainHash != format.BLAKE3 || h.SessionID != old.Header().SessionID {
		t.Fatalf("header %+v from %+v", h, old.Header())
	}
	if v, err := r.Verify(format.VerifyOptions{}); err != nil || v.Status != format.Valid {
		t.Fatalf("Verify: %+v %v", v, err)
	}
	for n := 0; ; n++ {
		a, errA := old.Next()
		b, errB := r.Next()
		if errA != nil || errB != nil {
			if errA != errB || n == 0 {
				t.Fatalf("record %d: %v, %v", n, errA, errB)
			}
			break
		}
		if a.Kind != b.Kind || a.Time != b.Time || !bytes.Equal(a.Payload, b.Payload) {
			t.Fatalf("record %d differs: %+v, %+v", n, a, b)
		}
	}
}
