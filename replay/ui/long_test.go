package ui_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/render"
	. "github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/replay"
	"github.com/wsproxy/wsproxy/replay/ui"
)

// longSession is the one-hour recording of the timing proofs: a 320×240
// screen of 10×8 cells, one of which changes colour every 2 s.
var longSession = LongSession{Width: 320, Height: 240, Cols: 10, Rows: 8, Duration: time.Hour, Interval: 2 * time.Second}

// busySession is an hour of a busier screen, whose decoding from the
// start is what a thumbnail without the seek index pays: a cell changes
// every 500 ms (28 MB of screen updates in the hour).
var busySession = LongSession{Width: 320, Height: 240, Cols: 10, Rows: 8, Duration: time.Hour, Interval: 500 * time.Millisecond}

// writeLong writes s as dir/long.wsrec and returns its path.
func writeLong(t testing.TB, dir string, s LongSession) string {
	t.Helper()
	path := filepath.Join(dir, "long.wsrec")
	start := time.Now()
	s.Write(t, path)
	if fi, err := os.Stat(path); err == nil {
		t.Logf("wrote %s: %d bytes in %v", path, fi.Size(), time.Since(start))
	}
	return path
}

// plainSource hides the seek indexes of a replay.Server: a ui.Source
// without them, as the thumbnails were made before they used them.
type plainSource struct{ ui.Source }

// TestThumbSeekIndex proves that a thumbnail deep in an hour-long
// recording comes from the seek index: the same picture as decoding from
// the start, and much faster once the index is built.
func TestThumbSeekIndex(t *testing.T) {
	dir := t.TempDir()
	writeLong(t, dir, busySession)
	srv, err := replay.NewServer([]string{dir}, replay.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	thumb := func(t *testing.T, src ui.Source, at time.Duration) time.Duration {
		t.Helper()
		h, err := ui.New(src, ui.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		hs := httptest.NewServer(h)
		defer hs.Close()
		start := time.Now()
		resp, b := get(t, fmt.Sprintf("%s/ui/api/thumb?name=long.wsrec&w=160&at=%d", hs.URL, int(at.Seconds())))
		took := time.Since(start)
		if resp.StatusCode != 200 {
			t.Fatalf("thumbnail at %v: status %d: %s", at, resp.StatusCode, b)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		rgba := image.NewRGBA(img.Bounds())
		for y := range img.Bounds().Dy() {
			for x := range img.Bounds().Dx() {
				rgba.Set(x, y, img.At(x, y))
			}
		}
		if n := differing(rgba, render.Thumbnail(busySession.Screen(at), 160)); n != 0 {
			t.Errorf("thumbnail at %v: %d pixels differ from the session's screen", at, n)
		}
		return took
	}
	fromStart := thumb(t, plainSource{srv}, 55*time.Minute)
	cold := thumb(t, srv, 55*time.Minute) // builds the index
	warm := thumb(t, srv, 54*time.Minute)
	t.Logf("thumbnail at 55 min of a one-hour recording: decoded from the start %v; with the seek index %v (building it), then %v at 54 min",
		fromStart, cold, warm)
	if warm > fromStart/2 {
		t.Errorf("with the seek index %v, from the start %v: want under half", warm, fromStart)
	}
}
