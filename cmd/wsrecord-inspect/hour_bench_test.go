package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// hourSession is the one-hour session of BenchmarkHourSnapshot: a
// 1280x800 screen of 80 cells, one of which is repainted (Raw, 128x100)
// every second, so that the server sends 3600 updates and 176 MiB.
var hourSession = rfbtest.LongSession{Width: 1280, Height: 800, Interval: time.Second, Duration: time.Hour}

// hourRecording returns the one-hour recording, writing it first to the
// system's temporary directory (it is kept between runs: writing it
// takes seconds).
func hourRecording(b *testing.B) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), "wsproxy-bench-hour-1280x800.wsrec")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	hourSession.Write(b, tmp)
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkHourSnapshot takes snapshots at times spread over a one-hour
// recording with wsrecord-inspect snapshot, with the seek index and
// without it: the bound is 300 ms a snapshot with the index. Each
// snapshot's picture must be the session's screen at its time.
func BenchmarkHourSnapshot(b *testing.B) {
	path := hourRecording(b)
	ats := []time.Duration{7*time.Minute + 13*time.Second, 23 * time.Minute, 31*time.Minute + 7*time.Second, 48 * time.Minute, 59*time.Minute + 59*time.Second}
	for _, mode := range []string{"index", "no-index"} {
		b.Run(mode, func(b *testing.B) {
			os.Remove(screen.IndexPath(path))
			if mode == "index" {
				if code, _, se := runCmd(b, "index", path); code != 0 {
					b.Fatal(se)
				}
				b.Cleanup(func() { os.Remove(screen.IndexPath(path)) })
			}
			out := filepath.Join(b.TempDir(), "s.png")
			snapshot := func(at time.Duration) {
				if code, _, se := runCmd(b, "snapshot", path, "--at", at.String(), "--no-cursor", "--force", "-o", out); code != 0 {
					b.Fatal(se)
				}
			}
			for _, at := range ats {
				snapshot(at)
				if n := pngDiffers(b, out, hourSession.Screen(at)); n != 0 {
					b.Fatalf("snapshot at %v: %d pixels unlike the session's screen", at, n)
				}
			}
			n := 0
			for b.Loop() {
				snapshot(ats[n%len(ats)])
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/snapshot")
		})
	}
}

// pngDiffers returns how many pixels of the PNG file at path differ from
// want (all of them when the sizes differ).
func pngDiffers(b *testing.B, path string, want *image.RGBA) int {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		b.Fatal(err)
	}
	if img.Bounds() != want.Bounds() {
		return want.Bounds().Dx() * want.Bounds().Dy()
	}
	n := 0
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
			}
		}
	}
	return n
}
