package screen

import (
	"errors"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

const fixtureDir = "../../../testdata/rfb"

// captures are the real sessions of testdata/rfb (see its README.md).
var captures = []string{"xvnc-none-noVNC-like.wsrec", "xvnc-vncauth-ok.wsrec", "xvnc-vncauth-wrong-password.wsrec",
	"xvnc-rfb33.wsrec"}

// websockifyRecords reads the websockify recording of testdata/recordings:
// 8-bit colour-map Raw, then ZRLE.
func websockifyRecords(t testing.TB) []format.Record {
	t.Helper()
	f, err := os.Open("../../../testdata/recordings/websockify-vnc-session.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := websockify.NewReader(f, websockify.ReaderOptions{})
	var recs []format.Record
	for {
		fr, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		dir := format.TargetToClient
		if fr.FromClient {
			dir = format.ClientToTarget
		}
		recs = append(recs, format.Record{Kind: format.KindMessage, Time: fr.Time, Dir: dir, Payload: slices.Clone(fr.Data)})
	}
}

func TestCaptures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		size    image.Point
		updates int64
	}{
		{captures[0], image.Pt(400, 300), 62}, // resized by SetDesktopSize
		{captures[1], image.Pt(320, 240), 3},
		{captures[2], image.Point{}, 0}, // authentication refused
		{captures[3], image.Pt(320, 240), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{})
			for _, rec := range rfbtest.Records(t, filepath.Join(fixtureDir, tt.name)) {
				if err := s.Feed(rec); err != nil {
					t.Fatal(err)
				}
			}
			if s.Size() != tt.size || s.Updates() != tt.updates {
				t.Errorf("size %v, %d updates, want %v, %d", s.Size(), s.Updates(), tt.size, tt.updates)
			}
			// Xvnc's root window is black; only the first capture has an
			// xterm on it.
			if tt.name == captures[0] && !nonBlack(s.Image()) {
				t.Error("the screen is all black")
			}
		})
	}
	t.Run("websockify", func(t *testing.T) {
		t.Parallel()
		s := New(Options{})
		for _, rec := range websockifyRecords(t) {
			if err := s.Feed(rec); err != nil {
				t.Fatal(err)
			}
		}
		if s.Size() != image.Pt(320, 240) || s.Name() != "root@vm" || !nonBlack(s.Image()) {
			t.Errorf("size %v name %q", s.Size(), s.Name())
		}
	})
}

// nonBlack reports whether img has a pixel that is not black.
func nonBlack(img *image.RGBA) bool {
	for i, b := range img.Pix {
		if i%4 != 3 && b != 0 {
			return true
		}
	}
	return false
}
