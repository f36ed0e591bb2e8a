//go:build unix

package record_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/record"
)

// logBuffer is a slog destination safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// assertEmpty fails unless dir holds nothing.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	if names := files(t, dir); len(names) != 0 {
		t.Errorf("written outside the recording directory: %v", names)
	}
}

// TestUnsafeSubdir: a directory of a recording's name that exists below
// Options.Dir as a symbolic link (out of the directory or within it) or
// as a special file is never followed or opened. Under the strict policy
// Start fails with ErrUnsafePath naming it; under best-effort the session
// goes on unrecorded and the log says why; nothing is written anywhere.
func TestUnsafeSubdir(t *testing.T) {
	t.Parallel()
	// header() has client 192.0.2.7.
	plant := map[string]func(t *testing.T, dir, outside string){
		"SymlinkOutside": func(t *testing.T, dir, outside string) {
			if err := os.Symlink(outside, filepath.Join(dir, "192.0.2.7")); err != nil {
				t.Fatal(err)
			}
		},
		"SymlinkRelativeOutside": func(t *testing.T, dir, outside string) {
			if err := os.Symlink(filepath.Join("..", filepath.Base(outside)), filepath.Join(dir, "192.0.2.7")); err != nil {
				t.Fatal(err)
			}
		},
		"SymlinkInside": func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(filepath.Join(dir, "other"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("other", filepath.Join(dir, "192.0.2.7")); err != nil {
				t.Fatal(err)
			}
		},
		"FIFO": func(t *testing.T, dir, _ string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "192.0.2.7"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	want := map[string]string{
		"SymlinkOutside":         "192.0.2.7 is a symbolic link, not a directory",
		"SymlinkRelativeOutside": "192.0.2.7 is a symbolic link, not a directory",
		"SymlinkInside":          "192.0.2.7 is a symbolic link, not a directory",
		"FIFO":                   "192.0.2.7 is a FIFO, not a directory",
	}
	for name, setup := range plant {
		for _, policy := range []record.Policy{record.Strict, record.BestEffort} {
			t.Run(name+"/"+string(policy), func(t *testing.T) {
				t.Parallel()
				tmp := t.TempDir()
				dir, outside := filepath.Join(tmp, "rec"), filepath.Join(tmp, "outside")
				for _, d := range []string{dir, outside} {
					if err := os.Mkdir(d, 0o700); err != nil {
						t.Fatal(err)
					}
				}
				setup(t, dir, outside)
				var log logBuffer
				rec := newRecorder(t, record.Options{
					Dir: dir, Name: "{client}/x.wsrec", Policy: policy, FlushInterval: 10 * time.Millisecond,
					Logger: slog.New(slog.NewTextHandler(&log, nil)),
				})
				s, err := rec.Start(header())
				switch policy {
				case record.Strict:
					if !errors.Is(err, record.ErrUnsafePath) {
						t.Fatalf("Start: %v, want ErrUnsafePath", err)
					}
					if msg := filepath.Join(dir, want[name]); !strings.Contains(err.Error(), msg) {
						t.Errorf("Start: %q, want it to say %q", err, msg)
					}
				case record.BestEffort:
					if err != nil {
						t.Fatalf("Start: %v, want the session to go on", err)
					}
					for i := range 3 {
						if err := s.Frame(format.TargetToClient, format.Binary, time.Duration(i)*20*time.Millisecond, []byte("secret")); err != nil {
							t.Fatalf("Frame: %v", err)
						}
						time.Sleep(20 * time.Millisecond) // past the flush interval: a retry
					}
					if err := s.Close(0, format.CloseInfo{}); err != nil {
						t.Errorf("Close: %v", err)
					}
					if !strings.Contains(log.String(), want[name]) {
						t.Errorf("log does not say %q:\n%s", want[name], log.String())
					}
				}
				assertEmpty(t, outside)
				got := files(t, dir)
				if name == "SymlinkInside" {
					assertEmpty(t, filepath.Join(dir, "other"))
				}
				for _, f := range got {
					if fi, err := os.Lstat(f); err != nil || fi.Mode().IsRegular() {
						t.Errorf("recording %s written (%v)", f, err)
					}
				}
			})
		}
	}
}

// TestNameTakenBySpecialFile: a name that exists as a FIFO, a symbolic
// link or a dangling one is skipped, like a file: the recording gets the
// next name and nothing is opened through what was there.
func TestNameTakenBySpecialFile(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dir, outside := filepath.Join(tmp, "rec"), filepath.Join(tmp, "outside")
	os.Mkdir(outside, 0o700)
	if err := os.MkdirAll(filepath.Join(dir, "192.0.2.7"), 0o700); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "192.0.2.7", "x")
	if err := syscall.Mkfifo(base+".wsrec", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "target"), base+"-1.wsrec"); err != nil { // dangling
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", base+"-2.wsrec"); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, record.Options{Dir: dir, Name: "{client}/x.wsrec"})
	done := make(chan error, 1)
	go func() {
		s, err := rec.Start(header())
		if err == nil {
			err = s.Close(0, format.CloseInfo{})
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start hangs: it opened the FIFO")
	}
	if _, recs, _ := readRecords(t, base+"-3.wsrec"); len(recs) != 2 {
		t.Errorf("%d records in x-3.wsrec, want open and close", len(recs))
	}
	assertEmpty(t, outside)
}

// TestSubdirReplacedBetweenSessions: the directories a recording was
// created in stay open for the next sessions, and each is checked again:
// one replaced by a symbolic link after a session is refused like one
// found at the first, and a recording directory removed between sessions
// is made again, the next recording written in it.
func TestSubdirReplacedBetweenSessions(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dir, outside := filepath.Join(tmp, "rec"), filepath.Join(tmp, "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, record.Options{Dir: dir, Name: "{client}/{session}.wsrec", Logger: slog.New(slog.DiscardHandler)})
	session := func() error {
		s, err := rec.Start(header())
		if err != nil {
			return err
		}
		return s.Close(0, format.CloseInfo{})
	}
	if err := session(); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "192.0.2.7")
	if err := os.Rename(sub, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, sub); err != nil {
		t.Fatal(err)
	}
	err := session()
	if !errors.Is(err, record.ErrUnsafePath) || !strings.Contains(err.Error(), sub+" is a symbolic link") {
		t.Fatalf("Start after the directory became a link: %v, want ErrUnsafePath naming %s", err, sub)
	}
	assertEmpty(t, outside)
	if got := files(t, filepath.Join(dir, "moved")); len(got) != 1 {
		t.Errorf("moved directory holds %v, want the first recording only", got)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := session(); err != nil {
		t.Fatalf("Start after the directory was removed: %v", err)
	}
	if got := files(t, sub); len(got) != 1 {
		t.Errorf("%s holds %v, want the new recording", sub, got)
	}
}
