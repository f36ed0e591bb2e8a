package record_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
	"github.com/wsproxy/wsproxy/record"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 11, 25, 10, 4, 5, 0, time.UTC)

func header() format.Header {
	id, _ := format.ParseSessionID("00112233445566778899aabbccddeeff")
	return format.Header{SessionID: id, Start: start, Meta: map[string]string{
		format.MetaClient: "192.0.2.7:41000", format.MetaTarget: "localhost:5900",
		format.MetaToken: "../etc/passwd", format.MetaUser: "alice",
	}}
}

type msg struct {
	dir  format.Direction
	typ  format.MessageType
	at   time.Duration
	data []byte
}

func randomMessages(n int, seed uint64) []msg {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]msg, n)
	at := time.Duration(0)
	for i := range out {
		at += time.Duration(rng.IntN(1_000_000))
		p := make([]byte, []int{0, 1, 100, 5000}[rng.IntN(4)])
		for j := range p {
			p[j] = byte(rng.IntN(256))
		}
		out[i] = msg{format.Direction(rng.IntN(2)), format.MessageType(rng.IntN(2)), at, p}
	}
	return out
}

func newRecorder(t *testing.T, opts record.Options) *record.Recorder {
	t.Helper()
	r, err := record.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	// Base name first, then the parts in order.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

func readRecords(t *testing.T, name string) (format.Header, []format.Record, *format.Reader) {
	t.Helper()
	r, err := format.Open(name, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var recs []format.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Payload = bytes.Clone(rec.Payload)
		recs = append(recs, rec)
	}
	return r.Header(), recs, r
}

// TestByteExact records random traffic both ways, with empty and text
// messages, and reads back exactly that, between an open and a close
// record, with the metadata and a sealed, valid file of mode 0600.
func TestByteExact(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "dir")
	rec := newRecorder(t, record.Options{Dir: dir})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	msgs := randomMessages(2000, 1)
	for _, m := range msgs {
		if err := s.Frame(m.dir, m.typ, m.at, m.data); err != nil {
			t.Fatal(err)
		}
	}
	ci := format.CloseInfo{By: format.ClosedByClient, Code: 1000, Reason: "bye", ClientBytes: 1, TargetBytes: 2}
	if err := s.Close(msgs[len(msgs)-1].at+1, ci); err != nil {
		t.Fatal(err)
	}
	names := files(t, dir)
	want := filepath.Join(dir, "2026-11-25T10-04-05Z_00112233445566778899aabbccddeeff.wsrec")
	if len(names) != 1 || names[0] != want {
		t.Fatalf("files %v, want %s", names, want)
	}
	if fi, _ := os.Stat(want); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	h, recs, r := readRecords(t, want)
	if h.SessionID != header().SessionID || h.Meta[format.MetaUser] != "alice" || !h.Start.Equal(start) {
		t.Errorf("header %+v", h)
	}
	if len(recs) != len(msgs)+2 || recs[0].Kind != format.KindOpen || recs[len(recs)-1].Kind != format.KindClose {
		t.Fatalf("%d records, want open, %d messages, close", len(recs), len(msgs))
	}
	for i, m := range msgs {
		got := recs[i+1]
		if got.Dir != m.dir || got.Type != m.typ || got.Time != m.at || !bytes.Equal(got.Payload, m.data) {
			t.Fatalf("message %d: got %v %v %v %d bytes, want %v %v %v %d bytes", i, got.Dir, got.Type, got.Time, len(got.Payload), m.dir, m.typ, m.at, len(m.data))
		}
	}
	if got := recs[len(recs)-1].Close; got != ci {
		t.Errorf("close %+v, want %+v", got, ci)
	}
	if v, err := r.Verify(format.VerifyOptions{}); err != nil || v.Status != format.Valid {
		t.Errorf("verify: %+v %v", v, err)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, Name: "{date}/{user}-{token}-{client}-{target}.wsrec"})
	for range 3 { // the same name three times: never overwritten
		s, err := rec.Start(header())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(0, format.CloseInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	base := filepath.Join(dir, "2026-11-25", "alice-_._etc_passwd-192.0.2.7-localhost_5900")
	want := []string{base + ".wsrec", base + "-1.wsrec", base + "-2.wsrec"}
	if got := files(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, bad := range []string{"{nope}.wsrec", "../x.wsrec", "/abs.wsrec", "{start"} {
		if _, err := record.New(record.Options{Dir: dir, Name: bad}); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}

// TestWebsockifyFile checks --record FILE: FILE.N in websockify's format,
// N skipping existing files, readable by the websockify reader.
func TestWebsockifyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "rec")
	if err := os.WriteFile(base+".1", []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, record.Options{File: base, Format: record.FormatWebsockify})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	msgs := randomMessages(200, 2)
	for _, m := range msgs {
		if err := s.Frame(m.dir, format.Binary, m.at, m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(0, format.CloseInfo{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(base + ".1"); string(b) != "keep me" {
		t.Fatalf("existing recording overwritten: %q", b)
	}
	f, err := os.Open(base + ".2")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wr := websockify.NewReader(f, websockify.ReaderOptions{})
	for i, m := range msgs {
		fr, err := wr.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if fr.FromClient != (m.dir == format.ClientToTarget) || fr.Time != m.at.Truncate(time.Millisecond) || !bytes.Equal(fr.Data, m.data) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if _, err := wr.Next(); err != io.EOF {
		t.Fatalf("after the frames: %v, want io.EOF", err)
	}
}

// TestParts splits a session by size: every part is sealed, carries the
// session ID and part number, and continues the previous part's chain.
func TestParts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	rec := newRecorder(t, record.Options{Dir: dir, MaxSize: 1 << 20, SignKey: key})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{3})
	var sent int
	for i := range 400 { // 400 × 10 KiB of random bytes: about 4 MiB
		p := make([]byte, 10<<10)
		rng.Read(p)
		sent += len(p)
		if err := s.Frame(format.TargetToClient, format.Binary, time.Duration(i), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(0, format.CloseInfo{}); err != nil {
		t.Fatal(err)
	}
	names := files(t, dir)
	if len(names) < 4 {
		t.Fatalf("%d parts, want at least 4: %v", len(names), names)
	}
	var prev format.Hash
	var got int
	for i, name := range names {
		want := "_00112233445566778899aabbccddeeff.wsrec"
		if i > 0 {
			want = "_00112233445566778899aabbccddeeff.part" + string(rune('0'+i)) + ".wsrec"
		}
		if !strings.HasSuffix(name, want) {
			t.Errorf("part %d named %s", i, name)
		}
		h, recs, r := readRecords(t, name)
		if h.Part != uint32(i) || h.PrevChain != prev || h.SessionID != header().SessionID {
			t.Errorf("part %d header: part %d, prev chain %v", i, h.Part, h.PrevChain)
		}
		v, err := r.Verify(format.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
		if err != nil || v.Status != format.Valid {
			t.Fatalf("part %d: %+v %v", i, v, err)
		}
		prev = v.Chain
		if fi, _ := os.Stat(name); fi.Size() > 1<<20+(1<<20)/4+4096 {
			t.Errorf("part %d: %d bytes, over the maximum by more than a chunk", i, fi.Size())
		}
		for _, rec := range recs {
			got += len(rec.Payload)
		}
	}
	if got != sent {
		t.Fatalf("parts hold %d payload bytes, %d were sent", got, sent)
	}
}

// TestStrictFailure: a write error ends the session (Frame fails) and is
// Close's result; the file keeps what was written.
func TestStrictFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, FlushInterval: 5 * time.Millisecond})
	record.FailAfter(rec, 2000, -1)
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{4})
	// One chunk reaches the file before the failures start.
	first := make([]byte, 500)
	rng.Read(first)
	if err := s.Frame(format.ClientToTarget, format.Binary, 0, first); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		names := files(t, dir) // none until the writing goroutine creates it
		if len(names) == 1 {
			if fi, err := os.Stat(names[0]); err == nil && fi.Size() > 600 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the first chunk was not written within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	var ferr error
	for i := 1; ferr == nil && time.Now().Before(deadline); i++ {
		p := make([]byte, 500)
		rng.Read(p)
		ferr = s.Frame(format.ClientToTarget, format.Binary, time.Duration(i), p)
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(ferr, record.ErrInjected) {
		t.Fatalf("Frame: got %v, want the injected write error", ferr)
	}
	if err := s.Err(); !errors.Is(err, record.ErrInjected) {
		t.Fatalf("Err: got %v, want the injected write error", err)
	}
	if err := s.Close(0, format.CloseInfo{}); !errors.Is(err, record.ErrInjected) {
		t.Fatalf("Close: got %v, want the injected error", err)
	}
	names := files(t, dir)
	if len(names) != 1 {
		t.Fatalf("files %v", names)
	}
	r, err := format.Open(names[0], format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Sealed() {
		t.Fatal("a failed recording reads as sealed")
	}
	if v, _ := r.Verify(format.VerifyOptions{}); v.Status != format.Unsealed || v.Records == 0 {
		t.Fatalf("verify: %+v", v)
	}
}

// TestBestEffortGap: the session goes on through a write error, and the
// recording resumes in a new part that starts with a gap record.
func TestBestEffortGap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, Policy: record.BestEffort, FlushInterval: 5 * time.Millisecond})
	record.FailAfter(rec, 2000, 1) // only the first file fails
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{5})
	for i := range 300 {
		p := make([]byte, 500)
		rng.Read(p)
		if err := s.Frame(format.ClientToTarget, format.Binary, time.Duration(i)*time.Millisecond, p); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	if err := s.Close(0, format.CloseInfo{}); !errors.Is(err, record.ErrInjected) {
		t.Fatalf("Close: %v, want the injected error reported", err)
	}
	names := files(t, dir)
	if len(names) != 2 {
		t.Fatalf("files %v, want the failed part and its continuation", names)
	}
	_, failed, _ := readRecords(t, names[0])
	h, recs, r := readRecords(t, names[1])
	if h.Part != 1 || len(recs) < 2 || recs[0].Kind != format.KindGap || recs[0].Gap.Records == 0 {
		t.Fatalf("continuation: part %d, first record %+v", h.Part, recs[0])
	}
	// Every record is in one of the files or counted in the gap: the open
	// record, 300 messages and the close.
	if n := uint64(len(failed)) + recs[0].Gap.Records + uint64(len(recs)-1); n != 302 {
		t.Fatalf("%d records in the failed part + %d lost + %d after the gap = %d, want 302", len(failed), recs[0].Gap.Records, len(recs)-1, n)
	}
	if recs[len(recs)-1].Kind != format.KindClose {
		t.Fatalf("continuation ends with %v", recs[len(recs)-1].Kind)
	}
	if v, _ := r.Verify(format.VerifyOptions{}); v.Status != format.Valid {
		t.Fatalf("continuation: %v", v.Status)
	}
}

// TestCannotCreate: a directory that cannot be made fails Start under the
// strict policy; the directory removed while running is made again.
func TestCannotCreate(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	notDir := filepath.Join(tmp, "file")
	os.WriteFile(notDir, nil, 0o600)
	rec := newRecorder(t, record.Options{Dir: filepath.Join(notDir, "sub")})
	if _, err := rec.Start(header()); err == nil {
		t.Fatal("Start under a regular file succeeded")
	}

	dir := filepath.Join(tmp, "rec")
	rec = newRecorder(t, record.Options{Dir: dir})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	s.Frame(format.ClientToTarget, format.Binary, 1, []byte("x"))
	s.Close(0, format.CloseInfo{})
	s2, err := rec.Start(header())
	if err != nil {
		t.Fatalf("Start after the directory was removed: %v", err)
	}
	s2.Close(0, format.CloseInfo{})
	if len(files(t, dir)) != 1 {
		t.Fatalf("files %v", files(t, dir))
	}
}

// TestBackpressure: with a tiny queue the session waits instead of dropping
// or growing; every message arrives.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, BufferSize: 4096})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	msgs := randomMessages(3000, 6)
	for _, m := range msgs {
		if err := s.Frame(m.dir, m.typ, m.at, m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(0, format.CloseInfo{}); err != nil {
		t.Fatal(err)
	}
	_, recs, _ := readRecords(t, files(t, dir)[0])
	if len(recs) != len(msgs)+2 {
		t.Fatalf("%d records, want %d", len(recs), len(msgs)+2)
	}
}

// TestRecorderCloseSeals: shutting the recorder down seals open sessions
// and refuses new ones.
func TestRecorderCloseSeals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec, err := record.New(record.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	s.Frame(format.TargetToClient, format.Binary, 5, []byte("RFB 003.008\n"))
	if err := s.Err(); err != nil {
		t.Fatalf("Err of an open session: %v", err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Frame(format.TargetToClient, format.Binary, 6, []byte("late")); !errors.Is(err, record.ErrSessionClosed) {
		t.Fatalf("Frame after shutdown: %v", err)
	}
	if err := s.Err(); !errors.Is(err, record.ErrSessionClosed) {
		t.Fatalf("Err after shutdown: %v", err)
	}
	if _, err := rec.Start(header()); !errors.Is(err, record.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	_, recs, r := readRecords(t, files(t, dir)[0])
	if !r.Sealed() || recs[len(recs)-1].Kind != format.KindClose || recs[len(recs)-1].Close.Code != 1001 {
		t.Fatalf("sealed %v, last record %+v", r.Sealed(), recs[len(recs)-1])
	}
}

// TestCreateFailure: the file is created by the Session's writing
// goroutine, after Start returned. Under the strict policy a file that
// cannot be created fails the recording as a write error does: Err, Frame
// and Close return the error and nothing is written. Under best-effort
// the session goes on and its recording starts at the next try with a gap
// record counting what was lost.
func TestCreateFailure(t *testing.T) {
	t.Parallel()
	t.Run("strict", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		rec := newRecorder(t, record.Options{Dir: dir})
		record.FailCreate(rec, -1)
		s, err := rec.Start(header())
		if err != nil {
			t.Fatalf("Start: %v, want the directory accepted", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.Err() == nil && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		// The injected error is the *fs.PathError of an invalid argument.
		want := "record: create " + dir + "/"
		if err := s.Err(); !errors.Is(err, fs.ErrInvalid) || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Err: %v, want %q and the injected error", err, want)
		}
		if err := s.Frame(format.ClientToTarget, format.Binary, 1, []byte("x")); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Frame: %v, want the injected error", err)
		}
		if err := s.Close(0, format.CloseInfo{}); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Close: %v, want the injected error", err)
		}
		if names := files(t, dir); len(names) != 0 {
			t.Errorf("files %v, want none", names)
		}
	})
	t.Run("best-effort", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		rec := newRecorder(t, record.Options{Dir: dir, Policy: record.BestEffort, FlushInterval: 5 * time.Millisecond})
		// Two failures: the session's records wait in its queue for up
		// to the flush interval, and a file created at the first retry
		// would hold them all, with no gap.
		record.FailCreate(rec, 2)
		s, err := rec.Start(header())
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		for i := range 4 {
			if err := s.Frame(format.ClientToTarget, format.Binary, time.Duration(i)*10*time.Millisecond, []byte("x")); err != nil {
				t.Fatalf("Frame: %v", err)
			}
			time.Sleep(10 * time.Millisecond) // past the flush interval: a retry
		}
		if err := s.Close(0, format.CloseInfo{}); err != nil {
			t.Errorf("Close: %v", err)
		}
		names := files(t, dir)
		if len(names) != 1 {
			t.Fatalf("files %v, want one", names)
		}
		if _, recs, _ := readRecords(t, names[0]); len(recs) < 2 || recs[0].Kind != format.KindGap || recs[0].Gap.Records == 0 {
			t.Errorf("records %+v, want a gap record first", recs)
		}
	})
}

// TestRefusedRecord: a marker whose label is not UTF-8 is refused by
// Marker, under the strict policy too, and the recording goes on without
// it: the records before and after it are written and the file seals.
func TestRefusedRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newRecorder(t, record.Options{Dir: dir, Policy: record.Strict})
	s, err := r.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Frame(format.TargetToClient, format.Binary, 1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := s.Marker(2, "\xff"); !errors.Is(err, format.ErrInvalid) {
		t.Fatalf("Marker with a label that is not UTF-8: %v, want format.ErrInvalid", err)
	}
	if err := s.Frame(format.ClientToTarget, format.Binary, 3, []byte("after")); err != nil {
		t.Fatalf("Frame after the refused marker: %v", err)
	}
	if err := s.Close(4, format.CloseInfo{}); err != nil {
		t.Fatal(err)
	}
	fs := files(t, dir)
	if len(fs) != 1 {
		t.Fatalf("files %v, want one", fs)
	}
	_, recs, _ := readRecords(t, fs[0])
	var kinds []format.Kind
	for _, rec := range recs {
		kinds = append(kinds, rec.Kind)
	}
	want := []format.Kind{format.KindOpen, format.KindMessage, format.KindMessage, format.KindClose}
	if !slices.Equal(kinds, want) {
		t.Fatalf("records %v, want %v", kinds, want)
	}
	if string(recs[1].Payload) != "before" || string(recs[2].Payload) != "after" {
		t.Fatalf("payloads %q, %q", recs[1].Payload, recs[2].Payload)
	}
}

// TestFlushBound: a record reaches the file once it has waited the flush
// interval, not sooner (the writing goroutine takes full buffers only) and
// not twice as late (the Writer's open chunk is flushed with it). Both
// small records of a quiet session and the burst of a busy one are held
// for at most the interval.
func TestFlushBound(t *testing.T) {
	t.Parallel()
	const flush = 500 * time.Millisecond
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, FlushInterval: flush})
	s, err := rec.Start(header())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(0, format.CloseInfo{})
	var name string
	deadline := time.Now().Add(10 * time.Second)
	for name == "" {
		if names := files(t, dir); len(names) == 1 {
			name = names[0]
		} else if time.Now().After(deadline) {
			t.Fatal("no file within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	// The file holds its header; the open record, queued by Start, is
	// written once it has waited the interval. Measured from Start, that
	// wait would also count the file's creation, slow on a loaded
	// machine; so the message is queued after, in an empty queue.
	header := size(t, name)
	for size(t, name) == header {
		if time.Now().After(deadline) {
			t.Fatal("the open record was not written within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	before := size(t, name)
	at := time.Now()
	if err := s.Frame(format.ClientToTarget, format.Binary, 0, bytes.Repeat([]byte("x"), 3000)); err != nil {
		t.Fatal(err)
	}
	for size(t, name) == before {
		if time.Since(at) > 10*time.Second {
			t.Fatal("the record was not written within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	waited := time.Since(at)
	t.Logf("written after %v (flush interval %v)", waited, flush)
	if waited < flush*8/10 || waited >= flush*16/10 {
		t.Errorf("the record was written after %v, want about the flush interval, %v", waited, flush)
	}
}

func size(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
