package format_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is a fixed Ed25519 key so that signed fixtures are reproducible.
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

var testStart = time.Date(2026, 11, 25, 10, 4, 5, 123456789, time.UTC)

func testHeader() format.Header {
	id, _ := format.ParseSessionID("0123456789abcdef0123456789abcdef")
	return format.Header{
		SessionID: id,
		Start:     testStart,
		Meta: map[string]string{
			format.MetaClient:  "192.0.2.1:50000",
			format.MetaTarget:  "localhost:5900",
			format.MetaProgram: "wsproxy test",
			"x-future-key":     "kept as is",
		},
	}
}

// randomRecords returns n records of every kind with random payloads, in
// time order.
func randomRecords(rng *rand.Rand, n, maxPayload int) []format.Record {
	recs := []format.Record{{Kind: format.KindOpen}}
	t := time.Duration(0)
	for len(recs) < n-1 {
		t += time.Duration(rng.IntN(3_000_000))
		switch k := rng.IntN(20); {
		case k == 0:
			recs = append(recs, format.Record{Kind: format.KindMarker, Time: t, Label: "marker ✓"})
		case k == 1:
			recs = append(recs, format.Record{Kind: format.KindGap, Time: t, Gap: format.GapInfo{Records: 3, Bytes: 99, Reason: "queue full"}})
		default:
			p := make([]byte, rng.IntN(maxPayload+1))
			for i := range p {
				p[i] = byte(rng.IntN(4)) // compressible, like screen data
			}
			recs = append(recs, format.Record{
				Kind: format.KindMessage, Time: t,
				Dir: format.Direction(rng.IntN(2)), Type: format.MessageType(rng.IntN(2)),
				Payload: p,
			})
		}
	}
	return append(recs, format.Record{Kind: format.KindClose, Time: t + 1, Close: format.CloseInfo{
		By: format.ClosedByTarget, Code: 1000, Reason: "Target closed", ClientBytes: 12, TargetBytes: 34,
	}})
}

// write returns a recording of recs.
func write(t testing.TB, recs []format.Record, opts format.WriterOptions, seal bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	writeTo(t, &buf, testHeader(), recs, opts, seal)
	return buf.Bytes()
}

// writeTo writes recs to dst as a recording with header h, sealed or only
// flushed.
func writeTo(t testing.TB, dst io.Writer, h format.Header, recs []format.Record, opts format.WriterOptions, seal bool) {
	t.Helper()
	w, err := format.NewWriter(dst, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if seal {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// open reads b, with testIDs for an encrypted recording.
func open(t testing.TB, b []byte) *format.Reader {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), format.ReaderOptions{Identities: testIDs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll returns copies of every record until io.EOF or an error.
func readAll(r *format.Reader) ([]format.Record, error) {
	var out []format.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if rec.Payload != nil {
			rec.Payload = bytes.Clone(rec.Payload)
		}
		out = append(out, rec)
	}
}

func normalize(recs []format.Record) []format.Record {
	out := make([]format.Record, len(recs))
	for i, r := range recs {
		if r.Kind == format.KindMessage && r.Payload == nil {
			r.Payload = []byte{}
		}
		if r.Kind != format.KindMessage {
			r.Payload = nil
		}
		out[i] = r
	}
	return out
}

func assertRecords(t *testing.T, got, want []format.Record) {
	t.Helper()
	got, want = normalize(got), normalize(want)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		n    int
		max  int
		opts format.WriterOptions
	}{
		{"OneChunk", 50, 100, format.WriterOptions{}},
		{"ManyChunks", 500, 3000, format.WriterOptions{ChunkSize: 4096}},
		{"RecordsOverChunkSize", 40, 20000, format.WriterOptions{ChunkSize: 1024}},
		{"Signed", 100, 500, format.WriterOptions{ChunkSize: 2048, SignKey: testKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := randomRecords(rand.New(rand.NewPCG(1, uint64(tc.n))), tc.n, tc.max)
			b := write(t, recs, tc.opts, true)
			r := open(t, b)
			if !r.Sealed() {
				t.Fatal("sealed recording reads as unsealed")
			}
			h := r.Header()
			want := testHeader()
			if h.SessionID != want.SessionID || !h.Start.Equal(want.Start) || h.Version != format.Version || !reflect.DeepEqual(h.Meta, want.Meta) {
				t.Fatalf("header: got %+v, want %+v", h, want)
			}
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, recs)
			v, err := r.Verify(format.VerifyOptions{})
			if err != nil || v.Status != format.Valid {
				t.Fatalf("Verify: %+v, %v", v, err)
			}
			if v.Records != uint64(len(recs)) {
				t.Fatalf("Verify counted %d records, want %d", v.Records, len(recs))
			}
		})
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(2, 2)), 300, 2000)
	var want format.Summary
	for _, r := range recs {
		want.Records++
		want.Duration = r.Time
		if r.Kind != format.KindMessage {
			continue
		}
		if r.Dir == format.ClientToTarget {
			want.ClientMessages++
			want.ClientBytes += uint64(len(r.Payload))
		} else {
			want.TargetMessages++
			want.TargetBytes += uint64(len(r.Payload))
		}
	}
	sealed := write(t, recs, format.WriterOptions{ChunkSize: 8192, SignKey: testKey}, true)
	unsealed := write(t, recs, format.WriterOptions{ChunkSize: 8192}, false)

	t.Run("Sealed", func(t *testing.T) {
		t.Parallel()
		ra := &readLog{r: bytes.NewReader(sealed)}
		r, err := format.NewReader(ra, int64(len(sealed)), format.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s, err := r.Summary()
		if err != nil {
			t.Fatal(err)
		}
		checkSummary(t, s, want)
		if !s.Sealed || !bytes.Equal(s.PublicKey, testKey.Public().(ed25519.PublicKey)) || s.Size != int64(len(sealed)) || s.Unreadable != 0 {
			t.Fatalf("sealed summary: %+v", s)
		}
		// Only the header and the trailer were read.
		trailerStart := int64(len(sealed)) - 2000
		for _, span := range ra.spans() {
			if span[0] >= 1000 && span[0] < trailerStart {
				t.Fatalf("Summary read %d bytes at %d, between header and trailer", span[1], span[0])
			}
		}
	})
	t.Run("Unsealed", func(t *testing.T) {
		t.Parallel()
		s, err := open(t, unsealed).Summary()
		if err != nil {
			t.Fatal(err)
		}
		checkSummary(t, s, want)
		if s.Sealed || s.PublicKey != nil || s.Unreadable != 0 {
			t.Fatalf("unsealed summary: %+v", s)
		}
		cut := unsealed[:len(unsealed)-10]
		s, err = open(t, cut).Summary()
		if err != nil {
			t.Fatal(err)
		}
		if s.Unreadable == 0 || s.Records >= want.Records {
			t.Fatalf("cut summary: %+v", s)
		}
	})
}

func checkSummary(t *testing.T, got, want format.Summary) {
	t.Helper()
	if got.Records != want.Records || got.Duration != want.Duration ||
		got.ClientMessages != want.ClientMessages || got.TargetMessages != want.TargetMessages ||
		got.ClientBytes != want.ClientBytes || got.TargetBytes != want.TargetBytes {
		t.Fatalf("summary counts: got %+v, want %+v", got, want)
	}
	if got.Header.SessionID != testHeader().SessionID {
		t.Fatalf("summary session ID %v", got.Header.SessionID)
	}
}

// readLog is an io.ReaderAt that logs what was read.
type readLog struct {
	r   io.ReaderAt
	mu  sync.Mutex
	log [][2]int64
}

func (l *readLog) ReadAt(p []byte, off int64) (int, error) {
	l.mu.Lock()
	l.log = append(l.log, [2]int64{off, int64(len(p))})
	l.mu.Unlock()
	return l.r.ReadAt(p, off)
}

func (l *readLog) spans() [][2]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][2]int64(nil), l.log...)
}

func TestSeek(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(3, 3)), 2000, 1500)
	for _, seal := range []bool{true, false} {
		b := write(t, recs, format.WriterOptions{ChunkSize: 16 << 10}, seal)
		name := map[bool]string{true: "Sealed", false: "Unsealed"}[seal]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(4, 4))
			end := recs[len(recs)-1].Time
			for range 50 {
				at := time.Duration(rng.Int64N(int64(end) + 2))
				ra := &readLog{r: bytes.NewReader(b)}
				r, err := format.NewReader(ra, int64(len(b)), format.ReaderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Seek(at); err != nil {
					t.Fatal(err)
				}
				// Seek decompresses at most one chunk: one read larger
				// than a chunk header frame.
				big := 0
				for _, s := range ra.spans() {
					if s[1] > 104 && s[0] > 1000 && (!seal || s[0] < int64(len(b))-4000) {
						big++
					}
				}
				if big > 1 {
					t.Fatalf("Seek(%v) read %d chunks", at, big)
				}
				got, err := readAll(r)
				r.Close()
				if err != nil {
					t.Fatal(err)
				}
				var want []format.Record
				for _, rec := range recs {
					if rec.Time >= at {
						want = append(want, rec)
					}
				}
				assertRecords(t, got, want)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, testHeader(), format.WriterOptions{MaxRecordSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rec  format.Record
		want error
	}{
		{"ErrTooLarge", format.Record{Kind: format.KindMessage, Time: 5, Payload: make([]byte, 101)}, format.ErrTooLarge},
		{"ErrInvalidKind", format.Record{Kind: 9, Time: 5}, format.ErrInvalid},
		{"ErrInvalidDirection", format.Record{Kind: format.KindMessage, Time: 5, Dir: 2}, format.ErrInvalid},
		{"ErrInvalidNegativeTime", format.Record{Kind: format.KindOpen, Time: -1}, format.ErrInvalid},
		{"ErrInvalidLabel", format.Record{Kind: format.KindMarker, Time: 5, Label: "\xff"}, format.ErrInvalid},
	} {
		if err := w.Write(tc.rec); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := w.WriteMessage(10, format.ClientToTarget, format.Binary, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(9, format.ClientToTarget, format.Binary, []byte("b")); !errors.Is(err, format.ErrInvalid) {
		t.Fatalf("record before the previous: got %v, want ErrInvalid", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.WriteMarker(11, "x"); !errors.Is(err, format.ErrClosed) {
		t.Fatalf("Write after Close: got %v, want ErrClosed", err)
	}
	got, err := readAll(open(t, buf.Bytes()))
	if err != nil || len(got) != 1 || string(got[0].Payload) != "a" {
		t.Fatalf("records after rejected writes: %+v, %v", got, err)
	}

	if _, err := format.NewWriter(&buf, format.Header{Meta: map[string]string{"": "x"}}, format.WriterOptions{}); !errors.Is(err, format.ErrInvalid) {
		t.Fatalf("empty metadata key: got %v, want ErrInvalid", err)
	}
	if _, err := format.NewWriter(&buf, testHeader(), format.WriterOptions{ChunkSize: format.MaxChunkSize + 1}); !errors.Is(err, format.ErrInvalid) {
		t.Fatalf("chunk size over the limit: got %v, want ErrInvalid", err)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct {
	n   int
	buf bytes.Buffer
}

var errDiskFull = errors.New("no space left on device")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.n {
		return 0, errDiskFull
	}
	return f.buf.Write(p)
}

func TestWriterBrokenBySinkError(t *testing.T) {
	t.Parallel()
	fw := &failWriter{n: 2000}
	w, err := format.NewWriter(fw, testHeader(), format.WriterOptions{ChunkSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; werr == nil && i < 100; i++ {
		p := make([]byte, 500)
		rand.NewChaCha8([32]byte{byte(i)}).Read(p)
		werr = w.WriteMessage(time.Duration(i), format.TargetToClient, format.Binary, p)
	}
	if !errors.Is(werr, errDiskFull) {
		t.Fatalf("got %v, want the sink's error", werr)
	}
	if err := w.WriteMarker(1000, "after"); !errors.Is(err, errDiskFull) {
		t.Fatalf("Write after a failed write: got %v, want the sticky error", err)
	}
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Close after a failed write: got %v", err)
	}
	// What reached the sink is a readable, unsealed recording.
	r := open(t, fw.buf.Bytes())
	recs, err := readAll(r)
	if err != nil || r.Sealed() || len(recs) == 0 {
		t.Fatalf("got %d records, sealed %v, err %v", len(recs), r.Sealed(), err)
	}
}

// TestFlushInterval checks that a record reaches the sink within the flush
// interval without further calls.
func TestFlushInterval(t *testing.T) {
	t.Parallel()
	sink := &syncBuffer{}
	w, err := format.NewWriter(sink, testHeader(), format.WriterOptions{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	headerLen := sink.Len()
	if err := w.WriteMessage(0, format.ClientToTarget, format.Binary, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sink.Len() == headerLen {
		if time.Now().After(deadline) {
			t.Fatal("the chunk was not written within 5 s with a 20 ms flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	recs, err := readAll(open(t, sink.Bytes()))
	if err != nil || len(recs) != 1 || string(recs[0].Payload) != "hello" {
		t.Fatalf("got %+v, %v", recs, err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func TestParts(t *testing.T) {
	t.Parallel()
	var p0, p1 bytes.Buffer
	w0, err := format.NewWriter(&p0, testHeader(), format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w0.WriteMarker(1, "part 0"); err != nil {
		t.Fatal(err)
	}
	if err := w0.Close(); err != nil {
		t.Fatal(err)
	}
	h := testHeader()
	h.Part, h.PrevChain = 1, w0.Chain()
	w1, err := format.NewWriter(&p1, h, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	got := open(t, p1.Bytes()).Header()
	if got.Part != 1 || got.PrevChain != w0.Chain() || got.PrevChain == (format.Hash{}) {
		t.Fatalf("part header: %+v", got)
	}
}

func TestNotRecording(t *testing.T) {
	t.Parallel()
	good := write(t, nil, format.WriterOptions{}, true)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"ErrNotRecordingEmptyIsTruncated", nil, format.ErrTruncated},
		{"ErrNotRecordingText", []byte("var VNC_frame_data = [\n"), format.ErrNotRecording},
		{"ErrNotRecordingZstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0}, format.ErrNotRecording},
		{"ErrTruncatedMagic", good[:3], format.ErrTruncated},
		{"ErrTruncatedHeader", good[:40], format.ErrTruncated},
		{"ErrTruncatedUnexpectedEOF", good[:20], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := format.NewReader(bytes.NewReader(tc.data), int64(len(tc.data)), format.ReaderOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadAfterClose(t *testing.T) {
	t.Parallel()
	b := write(t, randomRecords(rand.New(rand.NewPCG(5, 5)), 10, 10), format.WriterOptions{}, true)
	r := open(t, b)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, format.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// buffersWriter is a format.BuffersWriter that keeps what it is given and
// counts its calls; it fails every call once fail is set.
type buffersWriter struct {
	bytes.Buffer
	writes, vectored int
	fail             bool
}

func (b *buffersWriter) Write(p []byte) (int, error) {
	if b.fail {
		return 0, errors.New("disk full")
	}
	b.writes++
	return b.Buffer.Write(p)
}

func (b *buffersWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	if b.fail {
		return 0, errors.New("disk full")
	}
	b.vectored++
	var n int64
	for _, p := range bufs {
		m, _ := b.Buffer.Write(p)
		n += int64(m)
	}
	return n, nil
}

// TestBuffersWriter: a Writer whose underlying writer is a BuffersWriter
// writes raw chunks with WriteBuffers, and writes the same bytes as to a
// plain writer, for chunks of one block, of several blocks and of a
// block and a bit, compressed chunks and signed seals; the file reads
// back. A failed WriteBuffers breaks the Writer as a failed Write does.
func TestBuffersWriter(t *testing.T) {
	t.Parallel()
	random := func(n int, seed byte) []byte {
		p := make([]byte, n)
		rand.NewChaCha8([32]byte{seed}).Read(p)
		return p
	}
	for _, tc := range []struct {
		name     string
		sizes    []int // payloads, random but for 0 (text)
		vectored bool  // some chunk is raw
	}{
		{"one block", []int{100 << 10}, true},
		{"blocks", []int{300 << 10, 300 << 10, 300 << 10, 200 << 10}, true},
		{"block and a bit", []int{128<<10 + 1}, true},
		{"exact blocks", []int{256<<10 - 64}, true},
		{"compressible", []int{0, 0, 0}, false},
		{"small", []int{10, 20}, true}, // under 1 KiB: raw
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := []format.Record{{Kind: format.KindOpen}}
			for i, n := range tc.sizes {
				p := bytes.Repeat([]byte("wsproxy "), 20000)
				if n > 0 {
					p = random(n, byte(i))
				}
				recs = append(recs, format.Record{Kind: format.KindMessage, Time: time.Duration(i+1) * time.Millisecond, Payload: p})
			}
			opts := format.WriterOptions{SignKey: testKey, FlushInterval: -1}
			want := write(t, recs, opts, true)
			var bw buffersWriter
			writeTo(t, &bw, testHeader(), recs, opts, true)
			if !bytes.Equal(bw.Bytes(), want) {
				t.Fatalf("%d bytes written through WriteBuffers differ from the %d bytes written through Write", bw.Len(), len(want))
			}
			if got := bw.vectored > 0; got != tc.vectored {
				t.Errorf("WriteBuffers called %d times, want some: %v", bw.vectored, tc.vectored)
			}
			got, err := readAll(open(t, bw.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, recs)
		})
	}
	t.Run("error", func(t *testing.T) {
		t.Parallel()
		var bw buffersWriter
		w, err := format.NewWriter(&bw, testHeader(), format.WriterOptions{FlushInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		bw.fail = true
		if err := w.Write(format.Record{Kind: format.KindMessage, Payload: random(200<<10, 9)}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Flush: %v, want the write error", err)
		}
		if err := w.Close(); err == nil {
			t.Fatal("Close after a write error: nil, want the error")
		}
	})
}
