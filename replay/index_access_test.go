package replay_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/rfbtest"
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
