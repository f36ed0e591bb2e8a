package screen

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// encryptedCapture returns the index capture's records written again as
// a recording encrypted to id.
func encryptedCapture(t *testing.T, id *age.X25519Identity) ([]byte, []format.Record) {
	t.Helper()
	f, _ := openCapture(t)
	recs := rfbtest.Records(t, f.Name())
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{}, format.WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), recs
}

// resum rewrites the header checksum of index file b after an edit.
func resum(b []byte) []byte {
	end := indexHeaderSize + int(binary.LittleEndian.Uint32(b[56:]))*indexEntrySize
	sum := sha256.Sum256(b[:end])
	copy(b[end:], sum[:])
	return b
}

// TestSealedIndex indexes an encrypted recording: the index opens with the
// recording's identity only, its keyframes are sealed (no zstd frame, no
// pixels in the clear), seeking through it gives the screens decoded from
// the start, and a clear index, a sealed one for a clear recording or a
// tampered keyframe are rejected.
func TestSealedIndex(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rec, recs := encryptedCapture(t, id)
	ra, size := bytes.NewReader(rec), int64(len(rec))
	ids := []age.Identity{id}
	end := recs[len(recs)-1].Time
	opts := IndexOptions{Interval: end / 10, Identities: ids}

	if _, err := BuildIndex(ra, size, IndexOptions{Interval: end / 10}); !errors.Is(err, format.ErrNoIdentity) {
		t.Fatalf("build without identity: %v, want format.ErrNoIdentity", err)
	}
	x, err := BuildIndex(ra, size, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	idx := buf.Bytes()
	if got := binary.LittleEndian.Uint16(idx[10:]); got != indexSealed {
		t.Fatalf("flags %#x, want sealed", got)
	}
	n := int(binary.LittleEndian.Uint32(idx[56:]))
	if n < 5 {
		t.Fatalf("%d keyframes, want at least 5", n)
	}
	zstdMagic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	for i := range n {
		off := binary.LittleEndian.Uint64(idx[indexHeaderSize+i*indexEntrySize+24:])
		if bytes.HasPrefix(idx[off:], zstdMagic) {
			t.Fatalf("keyframe %d is a zstd frame in the clear", i)
		}
	}

	t.Run("SeekEqualsDecode", func(t *testing.T) {
		x, err := ReadIndex(idx, ra, size, opts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(ra, size, format.ReaderOptions{Identities: ids})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := range 8 {
			at := end * time.Duration(i+1) / 8
			got, err := x.SeekTo(r, at)
			if err != nil {
				t.Fatal(err)
			}
			want := New(Options{})
			for _, rec := range recs {
				if rec.Time > at {
					break
				}
				want.Feed(rec)
			}
			if got.Records() != want.Records() || !bytes.Equal(got.Image().Pix, want.Image().Pix) {
				t.Fatalf("at %v: screen through the sealed index differs from the decoded one", at)
			}
		}
	})
	for _, tt := range []struct {
		name string
		b    func() []byte
		ids  []age.Identity
		want error
	}{
		{"NoIdentity", func() []byte { return idx }, nil, format.ErrNoIdentity},
		{"WrongIdentity", func() []byte { return idx }, []age.Identity{other}, format.ErrWrongIdentity},
		{"ClearIndexIsStale", func() []byte {
			b := bytes.Clone(idx)
			b[10] = 0
			return resum(b)
		}, ids, ErrIndexStale},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadIndex(tt.b(), ra, size, IndexOptions{Identities: tt.ids})
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("SealedIndexOfClearRecordingIsCorrupt", func(t *testing.T) {
		f, fsize := openCapture(t)
		cx, err := BuildIndex(f, fsize, IndexOptions{Interval: end / 10})
		if err != nil {
			t.Fatal(err)
		}
		var cb bytes.Buffer
		cx.WriteTo(&cb)
		b := cb.Bytes()
		b[10] = indexSealed
		if _, err := ReadIndex(resum(b), f, fsize, IndexOptions{}); !errors.Is(err, ErrIndexCorrupt) {
			t.Errorf("error %v, want ErrIndexCorrupt", err)
		}
	})
	t.Run("TamperedKeyframe", func(t *testing.T) {
		b := bytes.Clone(idx)
		b[len(b)-20] ^= 1 // inside the last keyframe
		x, err := ReadIndex(b, ra, size, opts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(ra, size, format.ReaderOptions{Identities: ids})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := x.SeekTo(r, end); !errors.Is(err, ErrIndexCorrupt) {
			t.Errorf("seek through a tampered keyframe: %v, want ErrIndexCorrupt", err)
		}
	})
}
