package format_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// TestWriteBuffer: records written through RecordBuffers, split in
// buffers of many sizes (tiny ones that join the open chunk, ones of half
// a chunk and more that are written where they lie, ones bigger than a
// chunk), read back as written, in the clear, signed and encrypted, to a
// plain writer and to a BuffersWriter; the buffers are left empty.
func TestWriteBuffer(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 15))
	recs := randomRecords(rng, 600, 20<<10)
	for _, tc := range []struct {
		name    string
		per     int // bytes per buffer, about
		opts    format.WriterOptions
		vectors bool
	}{
		{"tiny buffers", 100, format.WriterOptions{ChunkSize: 64 << 10}, false},
		{"half chunks", 32 << 10, format.WriterOptions{ChunkSize: 64 << 10}, true},
		{"whole chunks", 64 << 10, format.WriterOptions{ChunkSize: 64 << 10, SignKey: testKey}, true},
		{"bigger than chunks", 200 << 10, format.WriterOptions{ChunkSize: 64 << 10}, false},
		{"encrypted", 48 << 10, format.WriterOptions{ChunkSize: 64 << 10, Recipients: recipients(t, testRecipient1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var bw buffersWriter
			var w *format.Writer
			var err error
			if tc.vectors {
				w, err = format.NewWriter(&bw, testHeader(), tc.opts)
			} else {
				w, err = format.NewWriter(&bw.Buffer, testHeader(), tc.opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			var b format.RecordBuffer
			for _, r := range recs {
				if err := b.Append(r); err != nil {
					t.Fatal(err)
				}
				if b.Len() >= tc.per {
					if err := w.WriteBuffer(&b); err != nil {
						t.Fatal(err)
					}
					if n, _ := b.Records(); n != 0 || b.Len() != 0 {
						t.Fatalf("buffer holds %d records (%d bytes) after WriteBuffer, want none", n, b.Len())
					}
				}
			}
			if err := w.WriteBuffer(&b); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(open(t, bw.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, recs)
			v, err := open(t, bw.Bytes()).Verify(format.VerifyOptions{})
			if err != nil || v.Status != format.Valid {
				t.Fatalf("Verify: %v, %v; want a valid recording", v.Status, err)
			}
		})
	}
}

// TestRecordBufferErrors: a record the format cannot hold, or older than
// the one before, is refused by Append and leaves the buffer as it was; a
// buffer older than the Writer's last record, or with a record over the
// Writer's limit, is refused by WriteBuffer, and the Writer stays usable.
func TestRecordBufferErrors(t *testing.T) {
	t.Parallel()
	msg := func(at time.Duration, n int) format.Record {
		return format.Record{Kind: format.KindMessage, Time: at, Payload: make([]byte, n)}
	}
	t.Run("append", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			rec  format.Record
			want error
		}{
			{"older", msg(time.Second, 1), format.ErrInvalid},
			{"bad direction", format.Record{Kind: format.KindMessage, Time: 3 * time.Second, Dir: 7}, format.ErrInvalid},
			{"bad label", format.Record{Kind: format.KindMarker, Time: 3 * time.Second, Label: "\xff"}, format.ErrInvalid},
			{"unknown kind", format.Record{Kind: 99, Time: 3 * time.Second}, format.ErrInvalid},
			{"negative time", msg(-1, 1), format.ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var b format.RecordBuffer
				if err := b.Append(msg(2*time.Second, 10)); err != nil {
					t.Fatal(err)
				}
				if err := b.Append(tc.rec); !errors.Is(err, tc.want) {
					t.Fatalf("Append: %v, want %v", err, tc.want)
				}
				if n, bytes := b.Records(); n != 1 || bytes != 10 || b.Len() != 14+10 {
					t.Fatalf("buffer holds %d records, %d payload bytes, %d bytes; want 1, 10, 24", n, bytes, b.Len())
				}
			})
		}
	})
	t.Run("write", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		w, err := format.NewWriter(&out, testHeader(), format.WriterOptions{MaxRecordSize: 100, FlushInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		var b format.RecordBuffer
		b.Append(msg(5*time.Second, 1))
		if err := w.WriteBuffer(&b); err != nil {
			t.Fatal(err)
		}
		b.Append(msg(time.Second, 1))
		if err := w.WriteBuffer(&b); !errors.Is(err, format.ErrInvalid) {
			t.Fatalf("WriteBuffer of an older record: %v, want ErrInvalid", err)
		}
		b.Append(msg(6*time.Second, 101))
		if err := w.WriteBuffer(&b); !errors.Is(err, format.ErrTooLarge) {
			t.Fatalf("WriteBuffer over the limit: %v, want ErrTooLarge", err)
		}
		b.Append(msg(7*time.Second, 100))
		if err := w.WriteBuffer(&b); err != nil {
			t.Fatalf("WriteBuffer after refused buffers: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteBuffer(&b); !errors.Is(err, format.ErrClosed) {
			t.Fatalf("WriteBuffer after Close: %v, want ErrClosed", err)
		}
		got, err := readAll(open(t, out.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		assertRecords(t, got, []format.Record{msg(5*time.Second, 1), msg(7*time.Second, 100)})
	})
}
