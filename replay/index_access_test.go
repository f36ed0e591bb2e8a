package replay_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/internal/storetest"
	"github.com/wsproxy/wsproxy/replay"
)

func TestSeekIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sess := rfbtest.LongSession{Duration: time.Minute}
	sess.Write(t, filepath.Join(dir, "long.wsrec"))
	b, err := os.ReadFile(filepath.Join("..", "testdata", "recordings", "websockify-vnc-session.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "legacy.txt"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, []string{dir}, replay.ServerOptions{})
	for _, tc := range []struct {
		name, rec string
		err       error
	}{
		{"Wsrec", "long.wsrec", nil},
		{"Websockify", "legacy.txt", replay.ErrNoIndex},
		{"Unknown", "nothing.wsrec", replay.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := srv.SeekIndex(tc.rec)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && len(x.Keyframes()) == 0 {
				t.Error("an index without keyframes")
			}
			if again, _ := srv.SeekIndex(tc.rec); again != x {
				t.Error("a second call built the index again")
			}
		})
	}
}

// TestSeekIndexOf checks that a recording in a Store is opened once by
// Open, that SeekIndexOf then gives the index of that very file without
// opening it again (SeekIndex opened it twice: a thumbnail of replay/ui
// cost two requests, and could pair the index of one version of an object
// with the bytes of another), and which files SeekIndexOf refuses.
func TestSeekIndexOf(t *testing.T) {
	t.Parallel()
	dir, other := t.TempDir(), t.TempDir()
	short := rfbtest.LongSession{Duration: time.Minute}
	short.Write(t, filepath.Join(dir, "long.wsrec"))
	long := rfbtest.LongSession{Duration: 5 * time.Minute}
	long.Write(t, filepath.Join(other, "long.wsrec"))
	b, err := os.ReadFile(filepath.Join("..", "testdata", "recordings", "websockify-vnc-session.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "legacy.txt"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The keyframes of each version, from Servers of their own.
	keyframes := func(dir string) []time.Duration {
		x, err := startServer(t, []string{dir}, replay.ServerOptions{}).SeekIndex("long.wsrec")
		if err != nil {
			t.Fatal(err)
		}
		return x.Keyframes()
	}
	shortKeys, longKeys := keyframes(dir), keyframes(other)
	if slices.Equal(shortKeys, longKeys) {
		t.Fatal("the two versions have the same keyframes")
	}
	st := storetest.New(dir)
	srv := startServer(t, nil, replay.ServerOptions{Stores: []replay.Store{st}})

	t.Run("OneOpen", func(t *testing.T) {
		st.Reset()
		f, osf, err := srv.Open("long.wsrec")
		if err != nil {
			t.Fatal(err)
		}
		defer osf.Close()
		defer f.Close()
		if n := st.Opens("long.wsrec"); n != 1 {
			t.Errorf("Open opened the recording %d times, want 1", n)
		}
		// A new version of the object lands while the file is open.
		if err := os.Link(filepath.Join(other, "long.wsrec"), filepath.Join(dir, "new.wsrec")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "new.wsrec"), filepath.Join(dir, "long.wsrec")); err != nil {
			t.Fatal(err)
		}
		x, err := srv.SeekIndexOf(osf)
		if err != nil {
			t.Fatal(err)
		}
		if n := st.Opens("long.wsrec"); n != 1 {
			t.Errorf("Open and SeekIndexOf opened the recording %d times, want 1", n)
		}
		if got := x.Keyframes(); !slices.Equal(got, shortKeys) {
			t.Errorf("SeekIndexOf gave keyframes %v, want those of the file opened %v", got, shortKeys)
		}
		st.Reset()
		x, err = srv.SeekIndex("long.wsrec")
		if err != nil {
			t.Fatal(err)
		}
		if n := st.Opens("long.wsrec"); n != 1 {
			t.Errorf("SeekIndex opened the recording %d times, want 1", n)
		}
		if got := x.Keyframes(); !slices.Equal(got, longKeys) {
			t.Errorf("SeekIndex of the new version gave keyframes %v, want %v", got, longKeys)
		}
	})
	for _, tc := range []struct {
		name string
		file func(t *testing.T) replay.StoreFile
		err  error
	}{
		{"Websockify", func(t *testing.T) replay.StoreFile {
			f, osf, err := srv.Open("legacy.txt")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close(); osf.Close() })
			return osf
		}, replay.ErrNoIndex},
		{"NotOpened", func(t *testing.T) replay.StoreFile {
			f, err := os.Open(filepath.Join(other, "long.wsrec"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}, replay.ErrNotOpened},
		{"OtherServer", func(t *testing.T) replay.StoreFile {
			f, osf, err := startServer(t, []string{other}, replay.ServerOptions{}).Open("long.wsrec")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close(); osf.Close() })
			return osf
		}, replay.ErrNotOpened},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := srv.SeekIndexOf(tc.file(t)); !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}
