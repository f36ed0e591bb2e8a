package video

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// TestExport exports a synthesized session through a stand-in for ffmpeg
// that copies the raw (yuv420p) frames to the output: the file holds every frame
// that Export counted, the first is the session's first screen, and
// Progress saw each.
func TestExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sess := rfbtest.LongSession{Width: 32, Height: 24, Cols: 2, Rows: 2, Interval: time.Second, Duration: 5 * time.Second}
	rec := filepath.Join(dir, "s.wsrec")
	sess.Write(t, rec)
	prog := filepath.Join(dir, "ffmpeg")
	os.WriteFile(prog, []byte("#!/bin/sh\nfor a; do out=$a; done\ncat > \"$out\"\n"), 0o755)
	open := func() (*recfile.File, *render.Player) {
		f, err := recfile.Open(rec, recfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, render.NewPlayer(t.Context(), f, nil, screen.Options{})
	}
	out := filepath.Join(dir, "v.mp4")
	f, p := open()
	progress := 0
	st, err := Export(t.Context(), p, f, ExportOptions{Frames: render.FrameOptions{FPS: 2}, Output: out, Format: "mp4", Program: prog,
		Progress: func(time.Duration) { progress++ }})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	frame := 32*24 + 2*16*12 // yuv420p: a luma plane, two quarter-size chroma planes
	if st.Frames < 10 || len(b) != st.Frames*frame || progress != st.Frames {
		t.Fatalf("%d frames, %d progress calls, %d bytes; want at least 10 frames of %d bytes", st.Frames, progress, len(b), frame)
	}
	want := make([]byte, frame)
	toYUV420(want, sess.Screen(0))
	if !bytes.Equal(b[:frame], want) {
		t.Error("frame 0 is not the first screen")
	}
	t.Run("ErrContainer", func(t *testing.T) {
		f, p := open()
		if _, err := Export(t.Context(), p, f, ExportOptions{Output: out, Format: "avi", Program: prog}); !errors.Is(err, ErrContainer) {
			t.Errorf("got %v, want ErrContainer", err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		f, p := open()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		gone := filepath.Join(dir, "gone.webm")
		if _, err := Export(ctx, p, f, ExportOptions{Output: gone, Format: "webm", Program: prog}); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("partial output left: %v", err)
		}
	})
}
