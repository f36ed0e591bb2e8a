package screen

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

const indexCapture = "xvnc-none-noVNC-like.wsrec"

func openCapture(t *testing.T) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, indexCapture))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, fi.Size()
}

// TestSeekTo compares a Screen restored through the index with one
// decoded from the start, at 50 random times of a real capture and at
// every keyframe's time. The capture's updates are Tight and ZRLE, so the
// keyframes carry zlib histories: equality shows that Xvnc ended each
// rectangle's zlib data with a sync flush, as the index assumes.
func TestSeekTo(t *testing.T) {
	t.Parallel()
	f, size := openCapture(t)
	recs := rfbtest.Records(t, f.Name())
	end := recs[len(recs)-1].Time
	x, err := BuildIndex(f, size, IndexOptions{Interval: end / 40})
	if err != nil {
		t.Fatal(err)
	}
	keys := x.Keyframes()
	if len(keys) < 10 {
		t.Fatalf("%d keyframes, want at least 10", len(keys))
	}
	// Through a file: write, read back.
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	x, err = ReadIndex(buf.Bytes(), f, size, IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := format.NewReader(f, size, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	times := append([]time.Duration{0, end, end + time.Second}, keys...)
	for range 50 {
		times = append(times, time.Duration(rng.Int64N(int64(end))))
	}
	for _, at := range times {
		want := New(Options{})
		for _, rec := range recs {
			if rec.Time > at {
				break
			}
			if err := want.Feed(rec); err != nil {
				t.Fatal(err)
			}
		}
		got, err := x.SeekTo(r, at)
		if err != nil {
			t.Fatalf("seek to %v: %v", at, err)
		}
		if got.Records() != want.Records() || got.Time() != want.Time() || got.Updates() != want.Updates() || got.Name() != want.Name() {
			t.Fatalf("seek to %v: records %d time %v updates %d, want %d %v %d", at, got.Records(), got.Time(), got.Updates(),
				want.Records(), want.Time(), want.Updates())
		}
		if want.Image() == nil {
			if got.Image() != nil {
				t.Fatalf("seek to %v: framebuffer before the ServerInit", at)
			}
			continue
		}
		checkImage(t, got.Snapshot(true), want.Snapshot(true))
		if got.Cursor().Pos != want.Cursor().Pos {
			t.Fatalf("seek to %v: pointer %v, want %v", at, got.Cursor().Pos, want.Cursor().Pos)
		}
		// The Reader is left after t: the rest decodes as from the start.
		next, err := r.Next()
		if i := int(want.Records()); i < len(recs) && (err != nil || next.Time != recs[i].Time || !bytes.Equal(next.Payload, recs[i].Payload)) {
			t.Fatalf("seek to %v: next record %v %v, want record %d", at, next.Time, err, i)
		}
	}
}

func TestIndexErrors(t *testing.T) {
	t.Parallel()
	f, size := openCapture(t)
	x, err := BuildIndex(f, size, IndexOptions{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	x.WriteTo(&buf)
	good := buf.Bytes()
	other, _ := os.Open(filepath.Join(fixtureDir, "xvnc-rfb33.wsrec"))
	defer other.Close()
	ofi, _ := other.Stat()
	for _, tt := range []struct {
		name   string
		b      func() []byte
		stale  bool
		record *os.File
		size   int64
	}{
		{"ErrIndexCorruptMagic", func() []byte { b := bytes.Clone(good); b[0] = 'X'; return b }, false, f, size},
		{"ErrIndexCorruptTable", func() []byte { b := bytes.Clone(good); b[indexHeaderSize+3] ^= 1; return b }, false, f, size},
		{"ErrIndexCorruptCut", func() []byte { return good[:indexHeaderSize+10] }, false, f, size},
		{"ErrIndexStaleOtherRecording", func() []byte { return good }, true, other, ofi.Size()},
		{"ErrIndexStaleGrown", func() []byte { return good }, true, f, size - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadIndex(tt.b(), tt.record, tt.size, IndexOptions{})
			want := ErrIndexCorrupt
			if tt.stale {
				want = ErrIndexStale
			}
			if !errors.Is(err, want) {
				t.Errorf("error %v, want %v", err, want)
			}
		})
	}
	t.Run("ErrIndexCorruptKeyframe", func(t *testing.T) {
		b := bytes.Clone(good)
		b[len(b)-5] ^= 0xff // inside the last keyframe
		x, err := ReadIndex(b, f, size, IndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := format.NewReader(f, size, format.ReaderOptions{})
		defer r.Close()
		if _, err := x.SeekTo(r, time.Hour); !errors.Is(err, ErrIndexCorrupt) {
			t.Errorf("seek through a damaged keyframe: %v, want ErrIndexCorrupt", err)
		}
	})
}

func TestOpenIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(fixtureDir, indexCapture))
	if err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "s.wsrec")
	os.WriteFile(rec, src, 0o644)
	idx := IndexPath(rec)
	if idx != filepath.Join(dir, "s.wsidx") {
		t.Fatalf("IndexPath %q", idx)
	}
	opts := IndexOptions{Interval: time.Second}
	if _, err := OpenIndex(rec, idx, opts); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(idx)
	// Damage the index: OpenIndex rebuilds the same one.
	os.WriteFile(idx, first[:100], 0o644)
	if _, err := OpenIndex(rec, idx, opts); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(idx); !bytes.Equal(again, first) {
		t.Errorf("rebuilt index differs: %d bytes, want %d", len(again), len(first))
	}
	// The recording grows: the index is stale and rebuilt.
	os.WriteFile(rec, append(src, 0), 0o644)
	if _, err := OpenIndex(rec, idx, opts); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(idx); bytes.Equal(again, first) {
		t.Error("index not rebuilt for a changed recording")
	}
}
