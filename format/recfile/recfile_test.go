package recfile_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/websockify"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const fixtures = "../../testdata/recordings"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newFile opens the recording in b.
func newFile(t testing.TB, b []byte) *recfile.File {
	t.Helper()
	f, err := recfile.New(bytes.NewReader(b), int64(len(b)), recfile.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readAll returns the records of f, with copied payloads, and the error
// that ended them (nil for io.EOF).
func readAll(f *recfile.File) ([]format.Record, error) {
	var recs []format.Record
	for {
		rec, err := f.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		rec.Payload = bytes.Clone(rec.Payload)
		recs = append(recs, rec)
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	wsrec := fixture(t, "sealed-small.wsrec")
	tests := []struct {
		name   string
		prefix []byte
		want   recfile.Format
	}{
		{"WSRec", wsrec[:recfile.PrefixSize], recfile.WSRec},
		{"WSRecHeaderOnly", wsrec[:12], recfile.WSRec},
		{"WSRecShort", wsrec[:11], recfile.Unknown},
		{"Websockify", []byte("var VNC_frame_data = [\n'{2{RFB"), recfile.Websockify},
		{"WebsockifyEncodingLine", []byte("var VNC_frame_encoding = 'binary';\n"), recfile.Websockify},
		{"Empty", nil, recfile.Unknown},
		{"Text", []byte("hello, world\n"), recfile.Unknown},
		{"Zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0}, recfile.Unknown},
		{"OtherSkippableFrame", append([]byte{0x57, 0x2A, 0x4D, 0x18, 4, 0, 0, 0}, "WRCK"...), recfile.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := recfile.Detect(tt.prefix); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"ErrUnknownFormat", write("text", []byte("not a recording\n")), recfile.ErrUnknownFormat},
		{"ErrUnknownFormatEmpty", write("empty", nil), recfile.ErrUnknownFormat},
		{"ErrTruncated", write("cut-header", fixture(t, "sealed-small.wsrec")[:40]), format.ErrTruncated},
		{"ErrTruncatedTiny", write("cut-magic", fixture(t, "sealed-small.wsrec")[:6]), format.ErrTruncated},
		{"ErrNotExist", filepath.Join(dir, "missing"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := recfile.Open(tt.path, recfile.Options{})
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("Directory", func(t *testing.T) {
		t.Parallel()
		if _, err := recfile.Open(dir, recfile.Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("got error %v, want one saying it is a directory", err)
		}
	})
}

func TestNextWSRec(t *testing.T) {
	t.Parallel()
	sealedRecs, err := readAll(newFile(t, fixture(t, "sealed-small.wsrec")))
	if err != nil || len(sealedRecs) != 40 {
		t.Fatalf("sealed-small: %d records, %v; want 40, nil", len(sealedRecs), err)
	}
	tests := []struct {
		file    string
		records int  // records before the error
		lost    bool // IncompleteError.Lost > 0
		wantErr string
	}{
		{"sealed-signed.wsrec", 40, false, ""},
		{"sealed-empty.wsrec", 0, false, ""},
		{"unsealed-killed.wsrec", 40, false, "incomplete"},
		{"truncated-mid-chunk.wsrec", -1, true, "incomplete"},
		{"tampered-chunk1.wsrec", -1, false, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			b := fixture(t, tt.file)
			f := newFile(t, b)
			if f.Format() != recfile.WSRec || f.Size() != int64(len(b)) || f.Reader() == nil || f.Header().Meta[format.MetaTarget] != "localhost:5900" {
				t.Fatalf("got format %v, size %d, header %+v", f.Format(), f.Size(), f.Header())
			}
			recs, err := readAll(f)
			if tt.records >= 0 && len(recs) != tt.records {
				t.Errorf("got %d records, want %d", len(recs), tt.records)
			}
			if len(recs) == 0 && tt.records != 0 {
				t.Errorf("got no records, want those before the damage")
			}
			for i := range recs {
				assertRecord(t, i, recs[i], sealedRecs[i])
			}
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("got error %v, want io.EOF", err)
				}
			case "incomplete":
				inc, ok := errors.AsType[*recfile.IncompleteError](err)
				if !ok || !errors.Is(err, recfile.ErrIncomplete) {
					t.Fatalf("got error %v, want an *IncompleteError", err)
				}
				if inc.Offset+inc.Lost != int64(len(b)) || (inc.Lost > 0) != tt.lost || inc.Format != recfile.WSRec {
					t.Errorf("got %+v for a file of %d bytes, want lost bytes: %v", inc, len(b), tt.lost)
				}
				if _, again := f.Next(); again == nil || again.Error() != err.Error() {
					t.Errorf("second Next: got %v, want %v again", again, err)
				}
			case "corrupt":
				ce, ok := errors.AsType[*format.CorruptError](err)
				if !ok || ce.Chunk != 1 {
					t.Fatalf("got error %v, want a *format.CorruptError in chunk 1", err)
				}
			}
		})
	}
}

func assertRecord(t *testing.T, i int, got, want format.Record) {
	t.Helper()
	if got.Kind != want.Kind || got.Time != want.Time || got.Dir != want.Dir || got.Type != want.Type ||
		!bytes.Equal(got.Payload, want.Payload) || got.Label != want.Label || got.Close != want.Close || got.Gap != want.Gap {
		t.Errorf("record %d: got %+v, want %+v", i, got, want)
	}
}

func TestNextWebsockify(t *testing.T) {
	t.Parallel()
	b := fixture(t, "websockify-vnc-session.txt")
	wr := websockify.NewReader(bytes.NewReader(b), websockify.ReaderOptions{})
	var frames []websockify.Frame
	for {
		fr, err := wr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, fr)
	}
	f := newFile(t, b)
	if f.Format() != recfile.Websockify || f.Reader() != nil || f.Header().Meta != nil {
		t.Fatalf("got format %v, reader %v, header %+v", f.Format(), f.Reader(), f.Header())
	}
	recs, err := readAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(frames) || len(recs) != 35 {
		t.Fatalf("got %d records, want %d (35)", len(recs), len(frames))
	}
	for i, fr := range frames {
		dir := format.TargetToClient
		if fr.FromClient {
			dir = format.ClientToTarget
		}
		assertRecord(t, i, recs[i], format.Record{Kind: format.KindMessage, Time: fr.Time, Dir: dir, Type: format.Binary, Payload: fr.Data})
	}
	if f.Clamped() != 0 {
		t.Errorf("got %d clamped, want 0", f.Clamped())
	}
}

// clampedRecording has times that go below zero and backwards.
const clampedRecording = `var VNC_frame_data = [
'{-3{a',
'}2{b',
'{5{c',
'}4}d',
'{4{e',
'EOF'];
`

func TestClamp(t *testing.T) {
	t.Parallel()
	f := newFile(t, []byte(clampedRecording))
	_, err := readAll(f)
	// '}2{b' mixes directions: a syntax error on line 3, after the first
	// frame.
	if se, ok := errors.AsType[*websockify.SyntaxError](err); !ok || se.Line != 3 {
		t.Fatalf("got error %v, want a syntax error on line 3", err)
	}

	good := strings.Replace(clampedRecording, "'}2{b'", "'}2}b'", 1)
	f = newFile(t, []byte(good))
	recs, err := readAll(f)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	msg := func(t time.Duration, dir format.Direction, p string) format.Record {
		return format.Record{Kind: format.KindMessage, Time: t, Dir: dir, Payload: []byte(p)}
	}
	marker := func(t time.Duration, label string) format.Record {
		return format.Record{Kind: format.KindMarker, Time: t, Label: label}
	}
	want := []format.Record{
		marker(0, "websockify clock went back: frame stamped -3ms, kept at 0ms"),
		msg(0, format.TargetToClient, "a"),
		msg(2*ms, format.ClientToTarget, "b"),
		msg(5*ms, format.TargetToClient, "c"),
		marker(5*ms, "websockify clock went back: frame stamped 4ms, kept at 5ms"),
		msg(5*ms, format.ClientToTarget, "d"),
		marker(5*ms, "websockify clock went back: frame stamped 4ms, kept at 5ms"),
		msg(5*ms, format.TargetToClient, "e"),
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records %+v, want %d", len(recs), recs, len(want))
	}
	for i := range want {
		assertRecord(t, i, recs[i], want[i])
	}
	if f.Clamped() != 3 {
		t.Errorf("got %d clamped, want 3", f.Clamped())
	}
}

func TestWebsockifyIncomplete(t *testing.T) {
	t.Parallel()
	const head = "var VNC_frame_data = [\n'{1{a',\n"
	tests := []struct {
		name    string
		data    string
		records int
		offset  int64
		lost    int64
	}{
		{"LineBoundary", head, 1, int64(len(head)), 0},
		{"CutInLine", head + "'}2}bcd", 1, int64(len(head)), 7},
		{"CutInEscape", head + "'}2}\\x4", 1, int64(len(head)), 7},
		{"WholeLastLineWithoutNewline", head + "'}2}b',", 2, int64(len(head)) + 7, 0},
		{"HeaderOnly", "var VNC_frame_data = [\n", 0, 23, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFile(t, []byte(tt.data))
			recs, err := readAll(f)
			if len(recs) != tt.records {
				t.Errorf("got %d records, want %d", len(recs), tt.records)
			}
			inc, ok := errors.AsType[*recfile.IncompleteError](err)
			if !ok || !errors.Is(err, websockify.ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("got error %v, want an *IncompleteError wrapping websockify.ErrTruncated", err)
			}
			if inc.Offset != tt.offset || inc.Lost != tt.lost || inc.Format != recfile.Websockify {
				t.Errorf("got offset %d, lost %d, want %d, %d", inc.Offset, inc.Lost, tt.offset, tt.lost)
			}
		})
	}
}

func TestIncompleteErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  recfile.IncompleteError
		want string
	}{
		{recfile.IncompleteError{Format: recfile.WSRec, Offset: 100}, "recfile: unsealed recording: no trailer after the last complete chunk, which ends at offset 100"},
		{recfile.IncompleteError{Format: recfile.WSRec, Offset: 100, Lost: 5}, "recfile: unsealed recording: the 5 bytes at offset 100 are not a complete chunk"},
		{recfile.IncompleteError{Format: recfile.Websockify, Offset: 100}, "recfile: websockify recording without its 'EOF'] trailer: it ends at offset 100"},
		{recfile.IncompleteError{Format: recfile.Websockify, Offset: 100, Lost: 5}, "recfile: websockify recording cut off: the 5 bytes at offset 100 are not a complete frame"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestSeek(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"sealed-small.wsrec", "websockify-vnc-session.txt"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			b := fixture(t, file)
			all, err := readAll(newFile(t, b))
			if err != nil {
				t.Fatal(err)
			}
			f := newFile(t, b)
			for _, i := range []int{len(all) / 2, 0, len(all) - 1, len(all) / 3} {
				at := all[i].Time
				first := i
				for first > 0 && all[first-1].Time >= at {
					first--
				}
				if err := f.Seek(at); err != nil {
					t.Fatal(err)
				}
				rest, err := readAll(f)
				if err != nil {
					t.Fatal(err)
				}
				if len(rest) != len(all)-first {
					t.Fatalf("Seek(%v): got %d records, want %d", at, len(rest), len(all)-first)
				}
				for j := range rest {
					assertRecord(t, first+j, rest[j], all[first+j])
				}
			}
			if err := f.Seek(all[len(all)-1].Time + 1); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Next(); err != io.EOF {
				t.Fatalf("Next after seeking past the end: got %v, want io.EOF", err)
			}
		})
	}
}

func TestSeekClamped(t *testing.T) {
	t.Parallel()
	f := newFile(t, []byte(strings.Replace(clampedRecording, "'}2{b'", "'}2}b'", 1)))
	if err := f.Seek(3 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(f)
	if err != nil {
		t.Fatal(err)
	}
	// c, then the marker and d, the marker and e.
	if len(recs) != 5 || string(recs[0].Payload) != "c" || recs[1].Kind != format.KindMarker || string(recs[2].Payload) != "d" {
		t.Fatalf("got %+v", recs)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	f, err := recfile.Open(filepath.Join(fixtures, "sealed-small.wsrec"), recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: got %v, want nil", err)
	}
	if _, err := f.Next(); !errors.Is(err, recfile.ErrClosed) {
		t.Errorf("Next after Close: got %v, want ErrClosed", err)
	}
	if err := f.Seek(0); !errors.Is(err, recfile.ErrClosed) {
		t.Errorf("Seek after Close: got %v, want ErrClosed", err)
	}
}

func TestFormatString(t *testing.T) {
	t.Parallel()
	for f, want := range map[recfile.Format]string{recfile.Unknown: "unknown", recfile.WSRec: "wsrec", recfile.Websockify: "websockify", 9: "Format(9)"} {
		if got := f.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
