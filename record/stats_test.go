package record_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/record"
)

// Stats count the bytes of every file written, in both formats, and the
// failures to write them.
func TestStats(t *testing.T) {
	t.Parallel()
	for _, f := range []record.Format{record.FormatWsrec, record.FormatWebsockify} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			rec := newRecorder(t, record.Options{Dir: dir, Format: f})
			if got := rec.Stats(); got != (record.Stats{}) {
				t.Fatalf("Stats() before any recording = %+v, want zero", got)
			}
			for i := range 2 {
				h := header()
				h.SessionID = format.NewSessionID()
				s, err := rec.Start(h)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range randomMessages(50, uint64(i)) {
					if err := s.Frame(m.dir, m.typ, m.at, m.data); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Close(0, format.CloseInfo{}); err != nil {
					t.Fatal(err)
				}
			}
			var size int64
			names := files(t, dir)
			for _, name := range names {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				size += fi.Size()
			}
			if len(names) != 2 || size == 0 {
				t.Fatalf("files %v of %d bytes, want 2 recordings", names, size)
			}
			if got, want := rec.Stats(), (record.Stats{BytesWritten: size}); got != want {
				t.Errorf("Stats() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestStatsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := newRecorder(t, record.Options{Dir: dir, FlushInterval: time.Millisecond})
	record.FailAfter(rec, 100, -1)
	s, err := rec.Start(header())
	if err == nil {
		err = s.Close(0, format.CloseInfo{})
	}
	if !errors.Is(err, record.ErrInjected) {
		t.Fatalf("got %v, want the injected error", err)
	}
	st := rec.Stats()
	if st.Errors == 0 || st.BytesWritten > 100 {
		t.Errorf("Stats() = %+v, want errors and at most the 100 bytes before the failure", st)
	}

	// A directory that cannot be created is an error too.
	blocked := t.TempDir() + "/file"
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rec = newRecorder(t, record.Options{Dir: blocked})
	if _, err := rec.Start(header()); err == nil {
		t.Fatal("Start in a directory that is a file: no error")
	}
	if got, want := rec.Stats(), (record.Stats{Errors: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}
