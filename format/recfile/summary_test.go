package recfile_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// sealedTotals are the totals of sealed-small.wsrec, of which
// unsealed-killed.wsrec and tampered-chunk1.wsrec are copies.
var sealedTotals = totals{records: 40, duration: 54920972, clientMessages: 18, targetMessages: 18, clientBytes: 3015, targetBytes: 2408}

// websockifyTotals are those of websockify-vnc-session.txt.
var websockifyTotals = totals{records: 35, duration: 1402 * time.Millisecond, clientMessages: 27, targetMessages: 8, clientBytes: 258, targetBytes: 77280}

type totals struct {
	records                        uint64
	duration                       time.Duration
	clientMessages, targetMessages uint64
	clientBytes, targetBytes       uint64
}

func totalsOf(s recfile.Summary) totals {
	return totals{s.Records, s.Duration, s.ClientMessages, s.TargetMessages, s.ClientBytes, s.TargetBytes}
}

// websockifyWithout returns websockify-vnc-session.txt without its 'EOF']
// line, cut keep bytes into the line before (0: at its start).
func websockifyWithout(t testing.TB, keep int) []byte {
	t.Helper()
	b := fixture(t, "websockify-vnc-session.txt")
	b = b[:bytes.LastIndex(b, []byte("'EOF'];"))]
	if keep > 0 {
		last := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
		b = b[:last+keep]
	}
	return b
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	var (
		sealed    = fixture(t, "sealed-small.wsrec")
		unsealed  = fixture(t, "unsealed-killed.wsrec")
		truncated = fixture(t, "truncated-mid-chunk.wsrec")
		tampered  = fixture(t, "tampered-chunk1.wsrec")
		ws        = fixture(t, "websockify-vnc-session.txt")
	)
	tests := []struct {
		name   string
		data   []byte
		opts   recfile.SummaryOptions
		want   recfile.Status
		totals *totals // nil: not checked
		// lost is the IncompleteError's Lost, when it gives one.
		lost int64
	}{
		{"Sealed", sealed, recfile.SummaryOptions{}, recfile.Sealed, &sealedTotals, -1},
		{"SealedScan", sealed, recfile.SummaryOptions{Scan: true}, recfile.Sealed, &sealedTotals, -1},
		// The trailer is trusted without Scan: verify finds what was
		// changed.
		{"SealedTampered", tampered, recfile.SummaryOptions{}, recfile.Sealed, &sealedTotals, -1},
		{"Damaged", tampered, recfile.SummaryOptions{Scan: true}, recfile.Damaged, nil, -1},
		{"Unsealed", unsealed, recfile.SummaryOptions{}, recfile.Unsealed, &sealedTotals, 0},
		{"UnsealedScan", unsealed, recfile.SummaryOptions{Scan: true}, recfile.Unsealed, &sealedTotals, 0},
		{"Truncated", truncated, recfile.SummaryOptions{}, recfile.Truncated, nil, 150},
		{"TruncatedScan", truncated, recfile.SummaryOptions{Scan: true}, recfile.Truncated, nil, 150},
		{"Complete", ws, recfile.SummaryOptions{}, recfile.Complete, &websockifyTotals, -1},
		{"Incomplete", websockifyWithout(t, 0), recfile.SummaryOptions{}, recfile.Incomplete, &websockifyTotals, 0},
		{"TruncatedWebsockify", websockifyWithout(t, 9), recfile.SummaryOptions{}, recfile.Truncated, nil, 9},
		{"DamagedWebsockify", append(websockifyWithout(t, 0), "'{9{\\q',\n'EOF'];\n"...), recfile.SummaryOptions{}, recfile.Damaged, &websockifyTotals, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFile(t, tt.data)
			s, err := recfile.Summarize(t.Context(), f, tt.opts)
			if err != nil {
				t.Fatalf("Summarize: %v", err)
			}
			if s.Status != tt.want {
				t.Fatalf("got status %v (%v), want %v", s.Status, s.Err, tt.want)
			}
			if (s.Err == nil) != tt.want.Whole() {
				t.Errorf("got error %v with status %v", s.Err, s.Status)
			}
			if got := recfile.StatusOf(f.Format(), s.Err); got != s.Status {
				t.Errorf("StatusOf(%v) = %v, want the Summary's %v", s.Err, got, s.Status)
			}
			if s.Size != int64(len(tt.data)) || s.Format != f.Format() {
				t.Errorf("got size %d, format %v; want %d, %v", s.Size, s.Format, len(tt.data), f.Format())
			}
			if tt.totals != nil && totalsOf(s) != *tt.totals {
				t.Errorf("got totals %+v, want %+v", totalsOf(s), *tt.totals)
			}
			inc, ok := errors.AsType[*recfile.IncompleteError](s.Err)
			switch {
			case tt.lost < 0 && ok:
				t.Errorf("got %v, want no *IncompleteError", s.Err)
			case tt.lost >= 0 && !ok:
				t.Errorf("got error %v, want an *IncompleteError", s.Err)
			case ok && (inc.Lost != tt.lost || inc.Offset+inc.Lost != s.Size):
				t.Errorf("got %+v, want %d bytes lost at the end of %d", inc, tt.lost, s.Size)
			}
			if f.Format() == recfile.WSRec {
				if s.Header.Meta[format.MetaTarget] != "localhost:5900" || s.Chunks == 0 || s.Uncompressed == 0 {
					t.Errorf("got header %+v, %d chunks, %d bytes uncompressed", s.Header, s.Chunks, s.Uncompressed)
				}
			}
		})
	}
}

func TestSummarizeMarkers(t *testing.T) {
	t.Parallel()
	// Three frames stamped before the first: each is read after a marker.
	ws := []byte("var VNC_frame_data = [\n'{5{a',\n'}3}b',\n'{2{c',\n'}1}d',\n'EOF'];\n")
	var want []recfile.Marker
	recs, err := readAll(newFile(t, ws))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Kind == format.KindMarker {
			want = append(want, recfile.Marker{Time: r.Time, Label: r.Label})
		}
	}
	if len(want) != 3 {
		t.Fatalf("the recording has %d markers, want 3", len(want))
	}
	sealed := fixture(t, "sealed-small.wsrec") // one marker
	tests := []struct {
		name    string
		data    []byte
		opts    recfile.SummaryOptions
		want    []recfile.Marker
		omitted int
	}{
		{"All", ws, recfile.SummaryOptions{MaxMarkers: 100}, want, 0},
		{"First", ws, recfile.SummaryOptions{MaxMarkers: 2}, want[:2], 1},
		{"None", ws, recfile.SummaryOptions{}, nil, 3},
		{"Scan", sealed, recfile.SummaryOptions{Scan: true, MaxMarkers: 100}, []recfile.Marker{{Time: 46066236, Label: "marker ✓"}}, 0},
		{"Index", sealed, recfile.SummaryOptions{MaxMarkers: 100}, nil, 0}, // no record read
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := recfile.Summarize(t.Context(), newFile(t, tt.data), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Markers, tt.want) || s.MarkersOmitted != tt.omitted {
				t.Errorf("got markers %+v and %d omitted, want %+v and %d", s.Markers, s.MarkersOmitted, tt.want, tt.omitted)
			}
		})
	}
}

func TestSummarizeSigned(t *testing.T) {
	t.Parallel()
	s, err := recfile.Summarize(t.Context(), newFile(t, fixture(t, "sealed-signed.wsrec")), recfile.SummaryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != recfile.Sealed || len(s.PublicKey) != 32 {
		t.Errorf("got status %v, public key %x; want sealed, a key", s.Status, s.PublicKey)
	}
}

func TestSummarizeClamped(t *testing.T) {
	t.Parallel()
	const rec = "var VNC_frame_data = [\n'{5{a',\n'}3}b',\n'EOF'];\n"
	s, err := recfile.Summarize(t.Context(), newFile(t, []byte(rec)), recfile.SummaryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The frame stamped 3 ms is read at 5 ms, after a marker.
	if s.Clamped != 1 || s.Records != 3 || s.Duration != 5*time.Millisecond || s.MarkersOmitted != 1 {
		t.Errorf("got %+v, want 1 clamped, 3 records to 5ms, 1 marker", s)
	}
}

func TestSummarizeCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := recfile.Summarize(ctx, newFile(t, fixture(t, "websockify-vnc-session.txt")), recfile.SummaryOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestSummarizeClosed(t *testing.T) {
	t.Parallel()
	f := newFile(t, fixture(t, "sealed-small.wsrec"))
	f.Close()
	s, err := recfile.Summarize(t.Context(), f, recfile.SummaryOptions{})
	if err != nil || s.Status != recfile.Unreadable || !errors.Is(s.Err, recfile.ErrClosed) {
		t.Errorf("got %v, %v (%v); want unreadable, ErrClosed", err, s.Status, s.Err)
	}
}

// TestStatusOf checks the status of each error that opening or reading a
// recording gives.
func TestStatusOf(t *testing.T) {
	t.Parallel()
	sealed := fixture(t, "sealed-small.wsrec")
	openErr := func(b []byte) error {
		_, err := recfile.New(bytes.NewReader(b), int64(len(b)), recfile.Options{})
		if err == nil {
			t.Fatal("New: no error")
		}
		return err
	}
	// A header of format version 2, with a good checksum.
	version := bytes.Clone(sealed)
	version[12]++ // the version, after the frame header and the tag
	end := 8 + int(binary.LittleEndian.Uint32(version[4:]))
	binary.LittleEndian.PutUint32(version[end-4:], crc32.Checksum(version[8:end-4], crc32.MakeTable(crc32.Castagnoli)))
	damagedHeader := bytes.Clone(sealed)
	damagedHeader[12]++
	tests := []struct {
		name   string
		format recfile.Format
		err    error
		want   recfile.Status
	}{
		{"EOF", recfile.WSRec, io.EOF, recfile.Sealed},
		{"Nil", recfile.WSRec, nil, recfile.Sealed},
		{"EOFWebsockify", recfile.Websockify, io.EOF, recfile.Complete},
		{"ErrIncomplete", recfile.WSRec, &recfile.IncompleteError{Format: recfile.WSRec, Offset: 10}, recfile.Unsealed},
		{"ErrIncompleteWebsockify", recfile.Websockify, &recfile.IncompleteError{Format: recfile.Websockify, Offset: 10, Err: websockify.ErrTruncated}, recfile.Incomplete},
		{"ErrIncompleteLost", recfile.WSRec, &recfile.IncompleteError{Format: recfile.WSRec, Offset: 10, Lost: 1}, recfile.Truncated},
		{"ErrIncompleteWrapped", recfile.WSRec, fmt.Errorf("x: %w", &recfile.IncompleteError{Format: recfile.Websockify, Lost: 1}), recfile.Truncated},
		{"ErrTruncated", recfile.Unknown, openErr(sealed[:40]), recfile.Truncated},
		{"ErrTruncatedInMagic", recfile.Unknown, openErr(sealed[:6]), recfile.Truncated},
		{"ErrCorrupt", recfile.WSRec, &format.CorruptError{Chunk: 1, Err: errors.New("x")}, recfile.Damaged},
		{"ErrTooLarge", recfile.WSRec, fmt.Errorf("%w: record", format.ErrTooLarge), recfile.Damaged},
		{"ErrSyntax", recfile.Websockify, &websockify.SyntaxError{Line: 3, Msg: "x"}, recfile.Damaged},
		{"ErrLineTooLong", recfile.Websockify, websockify.ErrLineTooLong, recfile.Damaged},
		{"ErrVersion", recfile.Unknown, openErr(version), recfile.Unreadable},
		{"ErrCorruptHeader", recfile.Unknown, openErr(damagedHeader), recfile.Damaged},
		{"ErrUnknownFormat", recfile.Unknown, openErr([]byte("hello\n")), recfile.Unreadable},
		{"ErrNotExist", recfile.Unknown, os.ErrNotExist, recfile.Unreadable},
		{"ErrClosed", recfile.WSRec, recfile.ErrClosed, recfile.Unreadable},
		{"Canceled", recfile.WSRec, context.Canceled, recfile.Unreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := recfile.StatusOf(tt.format, tt.err); got != tt.want {
				t.Errorf("StatusOf(%v, %v) = %v, want %v", tt.format, tt.err, got, tt.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status       recfile.Status
		word         string
		whole, clean bool
	}{
		{recfile.Unreadable, "unreadable", false, false},
		{recfile.Sealed, "sealed", true, true},
		{recfile.Complete, "complete", true, true},
		{recfile.Unsealed, "unsealed", false, true},
		{recfile.Incomplete, "incomplete", false, true},
		{recfile.Truncated, "truncated", false, false},
		{recfile.Damaged, "damaged", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.status)
			if err != nil || string(b) != `"`+tt.word+`"` {
				t.Errorf("json.Marshal: got %s, %v; want %q", b, err, tt.word)
			}
			var back recfile.Status = -1
			if err := json.Unmarshal(b, &back); err != nil || back != tt.status {
				t.Errorf("json.Unmarshal: got %v, %v; want %v", back, err, tt.status)
			}
			if tt.status.String() != tt.word || tt.status.Whole() != tt.whole || tt.status.Clean() != tt.clean {
				t.Errorf("got %q, whole %v, clean %v; want %q, %v, %v", tt.status, tt.status.Whole(), tt.status.Clean(), tt.word, tt.whole, tt.clean)
			}
		})
	}
	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		if _, err := json.Marshal(recfile.Status(99)); err == nil {
			t.Error("json.Marshal(Status(99)): no error")
		}
		var s recfile.Status
		if err := json.Unmarshal([]byte(`"tampered"`), &s); err == nil {
			t.Error(`json.Unmarshal("tampered"): no error`)
		}
		if got := recfile.Status(99).String(); got != "Status(99)" {
			t.Errorf("got %q, want Status(99)", got)
		}
	})
}
