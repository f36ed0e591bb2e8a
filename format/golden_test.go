package format_test

import (
	"bytes"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

var update = flag.Bool("update", false, "rewrite the recordings under testdata/recordings")

const fixtures = "../testdata/recordings"

// goldenRecords is the session every fixture is made of.
func goldenRecords() []format.Record {
	return randomRecords(rand.New(rand.NewPCG(42, 42)), 40, 300)
}

// golden lists the fixtures: how each is made and what reading it must give.
var golden = []struct {
	file    string
	make    func(t *testing.T) []byte
	records int // records Next returns before io.EOF
	status  format.VerifyStatus
	sealed  bool
}{
	// Version 1, as this package wrote it before version 2.
	{"sealed-small.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{Version: 1, ChunkSize: 1024}, true)
	}, 40, format.Valid, true},
	{"sealed-signed.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{Version: 1, ChunkSize: 1024, SignKey: testKey}, true)
	}, 40, format.Valid, true},
	{"sealed-empty.wsrec", func(t *testing.T) []byte {
		return write(t, nil, format.WriterOptions{Version: 1}, true)
	}, 0, format.Valid, true},
	{"unsealed-killed.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{Version: 1, ChunkSize: 1024}, false)
	}, 40, format.Unsealed, false},
	{"truncated-mid-chunk.wsrec", func(t *testing.T) []byte {
		b := write(t, goldenRecords(), format.WriterOptions{Version: 1, ChunkSize: 1024}, false)
		return b[:chunkOffset(t, b, 3)+150]
	}, -1, format.Unsealed, false},
	{"tampered-chunk1.wsrec", func(t *testing.T) []byte {
		b := write(t, goldenRecords(), format.WriterOptions{Version: 1, ChunkSize: 1024}, true)
		b[chunkOffset(t, b, 1)+110] ^= 0x01
		return b
	}, -1, format.Tampered, true},
	// Version 2: BLAKE3 or SHA-256, encrypted or not.
	{"v2-sealed-signed.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{ChunkSize: 1024, SignKey: testKey}, true)
	}, 40, format.Valid, true},
	{"v2-sha256-sealed.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{ChunkSize: 1024, Hash: format.SHA256}, true)
	}, 40, format.Valid, true},
	{"v2-encrypted-signed.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{ChunkSize: 1024, SignKey: testKey, Recipients: recipients(t, testRecipient1, testRecipient2)}, true)
	}, 40, format.Valid, true},
	{"v2-encrypted-unsealed-killed.wsrec", func(t *testing.T) []byte {
		return write(t, goldenRecords(), format.WriterOptions{ChunkSize: 1024, Recipients: recipients(t, testRecipient1)}, false)
	}, 40, format.Unsealed, false},
	{"v2-encrypted-tampered-chunk1.wsrec", func(t *testing.T) []byte {
		b := write(t, goldenRecords(), format.WriterOptions{ChunkSize: 1024, Recipients: recipients(t, testRecipient1)}, true)
		b[chunkOffset(t, b, 1)+120] ^= 0x01
		return b
	}, -1, format.Tampered, true},
}

// TestGolden reads the recordings kept under testdata: files written by
// earlier versions must stay readable with the same results. Run with
// -update to write the missing ones.
func TestGolden(t *testing.T) {
	if *update {
		for _, g := range golden {
			// A fixture written by an earlier version is kept: delete one
			// to rewrite it.
			name := filepath.Join(fixtures, g.file)
			if _, err := os.Stat(name); err == nil {
				continue
			}
			if err := os.WriteFile(name, g.make(t), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(fixtures, g.file))
			if err != nil {
				t.Fatal(err)
			}
			r := open(t, b)
			if r.Sealed() != g.sealed {
				t.Errorf("sealed: got %v, want %v", r.Sealed(), g.sealed)
			}
			h := r.Header()
			if h.SessionID != testHeader().SessionID || !h.Start.Equal(testStart) || h.Meta["x-future-key"] != "kept as is" {
				t.Errorf("header: %+v", h)
			}
			recs, err := readAll(r)
			want := goldenRecords()
			switch {
			case g.records >= 0 && err != nil:
				t.Fatalf("read: %v", err)
			case g.records >= 0:
				assertRecords(t, recs, want[:g.records])
			case g.status == format.Tampered:
				// Chunk 1 is damaged: chunk 0 reads, then a corruption error
				// (or, had the flip left zstd's checksum intact, Verify
				// alone would tell).
				if err == nil && len(recs) == len(want) {
					t.Fatal("tampered file read without error")
				}
			default: // cut mid-chunk: the complete chunks before it
				if err != nil || len(recs) == 0 || len(recs) >= len(want) {
					t.Fatalf("cut file: %d records, %v", len(recs), err)
				}
				assertRecords(t, recs, want[:len(recs)])
			}
			v, err := r.Verify(format.VerifyOptions{})
			if err != nil || v.Status != g.status {
				t.Fatalf("Verify: %v %+v, want %v", err, v, g.status)
			}
			if g.status == format.Tampered && (v.Problem.Chunk != 1 || v.Chunks != 1) {
				t.Fatalf("Verify problem %v after %d chunks, want chunk 1", v.Problem, v.Chunks)
			}
		})
	}
}

// FuzzReader feeds arbitrary bytes to the reader: it must never panic or
// allocate past its limits, and what it reads must survive a rewrite.
func FuzzReader(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixtures, "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<20 {
			f.Add(b, int64(0))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, seek int64) {
		opts := format.ReaderOptions{MaxRecordSize: 1 << 16, MaxChunkSize: 1 << 20, Identities: testIDs}
		r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), opts)
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = r.Summary()
		_, _ = r.Verify(format.VerifyOptions{})
		var out bytes.Buffer
		w, err := format.NewWriter(&out, r.Header(), format.WriterOptions{FlushInterval: -1})
		if err != nil {
			t.Fatalf("header read but not writable: %v", err)
		}
		defer w.Close()
		var n int
		for ; n < 10000; n++ {
			rec, err := r.Next()
			if err != nil {
				break
			}
			if err := w.Write(rec); err != nil {
				t.Fatalf("record %d read but not writable: %v", n, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r2 := open(t, out.Bytes())
		got, err := readAll(r2)
		if err != nil || len(got) != n {
			t.Fatalf("rewrite: %d records of %d, %v", len(got), n, err)
		}
		if err := r.Seek(time.Duration(seek)); err == nil {
			for range 100 {
				if _, err := r.Next(); err == io.EOF {
					break
				} else if err != nil {
					break
				}
			}
		}
	})
}

// FuzzEncrypted damages an encrypted recording (bytes changed at fuzzed
// offsets, and a fuzzed cut) and reads it with its identity: the reader
// must never panic, and must never return a record that was not written
// without an error first.
func FuzzEncrypted(f *testing.F) {
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, testHeader(), format.WriterOptions{
		ChunkSize: 512, FlushInterval: -1, SignKey: testKey, Recipients: recipients(f, testRecipient1),
	})
	if err != nil {
		f.Fatal(err)
	}
	want := randomRecords(rand.New(rand.NewPCG(43, 43)), 30, 200)
	for _, r := range want {
		if err := w.Write(r); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	orig := buf.Bytes()
	f.Add([]byte{}, uint32(len(orig)))
	f.Add([]byte{0, 2, 0x10}, uint32(len(orig)))         // header
	f.Add([]byte{3, 0, 0x01}, uint32(len(orig)))         // first chunk
	f.Add([]byte{9, 0, 0x80, 10, 1, 0x01}, uint32(2000)) // cut
	f.Add([]byte{byte(len(orig) >> 8), byte(len(orig)), 1}, uint32(len(orig)))
	f.Fuzz(func(t *testing.T, edits []byte, cut uint32) {
		b := bytes.Clone(orig)
		for e := edits; len(e) >= 3; e = e[3:] {
			b[(int(e[0])<<8|int(e[1]))%len(b)] ^= e[2]
		}
		b = b[:min(int(cut), len(b))]
		r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), format.ReaderOptions{Identities: testIDs})
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = r.Verify(format.VerifyOptions{})
		got, _ := readAll(r)
		if len(got) > len(want) {
			t.Fatalf("read %d records, %d were written", len(got), len(want))
		}
		assertRecords(t, got, want[:len(got)])
		_ = r.Seek(want[len(want)/2].Time)
		_, _ = r.Next()
	})
}
