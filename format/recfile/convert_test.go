package recfile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// importBytes imports the recording in src into a sealed wsrec recording.
func importBytes(t testing.TB, src []byte) ([]byte, recfile.ImportStats) {
	t.Helper()
	var out bytes.Buffer
	w, err := format.NewWriter(&out, format.Header{Meta: map[string]string{format.MetaSource: "test"}}, format.WriterOptions{FlushInterval: -1, ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	st, err := recfile.Import(t.Context(), w, newFile(t, src))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), st
}

// exportBytes exports the recording in src as a websockify recording.
func exportBytes(t testing.TB, src []byte) ([]byte, recfile.ExportStats) {
	t.Helper()
	var out bytes.Buffer
	w := websockify.NewWriter(&out)
	st, err := recfile.Export(t.Context(), w, newFile(t, src))
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), st
}

// TestRoundTrip imports websockify recordings and exports them again: the
// result must be the original, byte for byte, and the import a valid
// sealed recording.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    []byte
		frames  int
		clamped int
	}{
		{"Fixture", fixture(t, "websockify-vnc-session.txt"), 35, 0},
		{"Clamped", []byte(strings.Replace(clampedRecording, "'}2{b'", "'}2}b'", 1)), 5, 3},
		{"Empty", []byte("var VNC_frame_data = [\n'EOF'];\n"), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wsrec, ist := importBytes(t, tt.data)
			if ist.Clamped != tt.clamped || ist.Records != tt.frames+tt.clamped || ist.Incomplete != nil {
				t.Errorf("got import stats %+v, want %d frames, %d clamped", ist, tt.frames, tt.clamped)
			}
			f := newFile(t, wsrec)
			v, err := f.Reader().Verify(format.VerifyOptions{})
			if err != nil || v.Status != format.Valid {
				t.Fatalf("import: Verify %+v, %v; want valid", v, err)
			}
			back, est := exportBytes(t, wsrec)
			if est.Frames != tt.frames || est.Skipped != 0 || est.Incomplete != nil {
				t.Errorf("got export stats %+v, want %d frames", est, tt.frames)
			}
			if !bytes.Equal(back, tt.data) {
				t.Errorf("round trip differs: got %d bytes, want %d\n%.300q", len(back), len(tt.data), back)
			}
		})
	}
}

func TestImportIncomplete(t *testing.T) {
	t.Parallel()
	src := "var VNC_frame_data = [\n'{1{a',\n'}7}bc"
	wsrec, st := importBytes(t, []byte(src))
	if st.Incomplete == nil || st.Incomplete.Lost != 6 || st.Records != 2 {
		t.Fatalf("got stats %+v, want the incomplete source noted", st)
	}
	recs, err := readAll(newFile(t, wsrec))
	if err != nil {
		t.Fatal(err)
	}
	want := "import: the source recording ends early: recfile: websockify recording cut off: the 6 bytes at offset 31 are not a complete frame"
	if len(recs) != 2 || recs[1].Kind != format.KindMarker || recs[1].Time != time.Millisecond || recs[1].Label != want {
		t.Fatalf("got records %+v, want a message and the marker %q", recs, want)
	}
	// Export stops at the incomplete end too, and says so.
	var out bytes.Buffer
	est, err := recfile.Export(t.Context(), websockify.NewWriter(&out), newFile(t, []byte(src)))
	if err != nil || est.Incomplete == nil || est.Frames != 1 {
		t.Fatalf("Export: %+v, %v", est, err)
	}
}

func TestImportWSRec(t *testing.T) {
	t.Parallel()
	b := fixture(t, "sealed-small.wsrec")
	want, err := readAll(newFile(t, b))
	if err != nil {
		t.Fatal(err)
	}
	wsrec, st := importBytes(t, b)
	if st.Records != len(want) || st.Clamped != 0 || st.Incomplete != nil {
		t.Errorf("got stats %+v", st)
	}
	got, err := readAll(newFile(t, wsrec))
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %d records, %v; want %d", len(got), err, len(want))
	}
	for i := range want {
		assertRecord(t, i, got[i], want[i])
	}
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	newWriter := func(t *testing.T) *format.Writer {
		w, err := format.NewWriter(new(bytes.Buffer), format.Header{}, format.WriterOptions{FlushInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	t.Run("Corrupt", func(t *testing.T) {
		t.Parallel()
		st, err := recfile.Import(t.Context(), newWriter(t), newFile(t, fixture(t, "tampered-chunk1.wsrec")))
		if _, ok := errors.AsType[*format.CorruptError](err); !ok || st.Records == 0 {
			t.Fatalf("got %+v, %v; want the records of chunk 0, then a *format.CorruptError", st, err)
		}
	})
	t.Run("Syntax", func(t *testing.T) {
		t.Parallel()
		_, err := recfile.Import(t.Context(), newWriter(t), newFile(t, []byte(clampedRecording)))
		if _, ok := errors.AsType[*websockify.SyntaxError](err); !ok {
			t.Fatalf("got %v, want a *websockify.SyntaxError", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := recfile.Import(ctx, newWriter(t), newFile(t, fixture(t, "sealed-small.wsrec"))); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		var out bytes.Buffer
		if _, err := recfile.Export(ctx, websockify.NewWriter(&out), newFile(t, fixture(t, "sealed-small.wsrec"))); !errors.Is(err, context.Canceled) {
			t.Fatalf("Export: got %v, want context.Canceled", err)
		}
	})
}

// TestExportWSRec exports a recording with every kind of record: only the
// messages become frames, in whole milliseconds.
func TestExportWSRec(t *testing.T) {
	t.Parallel()
	var in bytes.Buffer
	w, err := format.NewWriter(&in, format.Header{}, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := []format.Record{
		{Kind: format.KindOpen},
		{Kind: format.KindMessage, Time: 1500 * time.Microsecond, Dir: format.TargetToClient, Payload: []byte("RFB 003.008\n")},
		{Kind: format.KindMarker, Time: 2 * time.Millisecond, Label: "a note"},
		{Kind: format.KindMessage, Time: 3 * time.Millisecond, Dir: format.ClientToTarget, Type: format.Text, Payload: []byte("it's")},
		{Kind: format.KindGap, Time: 4 * time.Millisecond, Gap: format.GapInfo{Records: 1, Bytes: 2, Reason: "full"}},
		{Kind: format.KindClose, Time: 5 * time.Millisecond, Close: format.CloseInfo{By: format.ClosedByClient, Code: 1000}},
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, st := exportBytes(t, in.Bytes())
	want := "var VNC_frame_data = [\n'{1{RFB 003.008\\n',\n'}3}it\\'s',\n'EOF'];\n"
	if string(got) != want || st.Frames != 2 || st.Skipped != 4 {
		t.Fatalf("got %q, %+v; want %q, 2 frames, 4 skipped", got, st, want)
	}
}

// FuzzImport imports arbitrary files: neither Import nor Export may panic,
// and an import must read back as the records it was given.
func FuzzImport(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixtures, "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Add([]byte(clampedRecording))
	f.Add([]byte(strings.Replace(clampedRecording, "'}2{b'", "'}2}b'", 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts := recfile.Options{
			Format:     format.ReaderOptions{MaxRecordSize: 1 << 16, MaxChunkSize: 1 << 20},
			Websockify: websockify.ReaderOptions{MaxLineSize: 1 << 18},
		}
		src, err := recfile.New(bytes.NewReader(b), int64(len(b)), opts)
		if err != nil {
			return
		}
		defer src.Close()
		var out bytes.Buffer
		w, err := format.NewWriter(&out, src.Header(), format.WriterOptions{FlushInterval: -1})
		if err != nil {
			t.Fatalf("header read but not writable: %v", err)
		}
		st, err := recfile.Import(t.Context(), w, src)
		if cerr := w.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		imported, rerr := recfile.New(bytes.NewReader(out.Bytes()), int64(out.Len()), recfile.Options{})
		if rerr != nil {
			t.Fatalf("import unreadable: %v", rerr)
		}
		defer imported.Close()
		got, rerr := readAll(imported)
		if rerr != nil || len(got) != st.Records {
			t.Fatalf("import of %d records (import error %v) reads back as %d, %v", st.Records, err, len(got), rerr)
		}
		var ws bytes.Buffer
		if err := src.Seek(0); err != nil {
			return
		}
		if _, err := recfile.Export(t.Context(), websockify.NewWriter(&ws), src); err != nil {
			return
		}
	})
}
