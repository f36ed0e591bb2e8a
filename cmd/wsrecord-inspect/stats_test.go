package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/schollz/progressbar/v3"
)

// TestStatsPNG draws the charts of the websockify fixture and compares the
// pixels with testdata/inspect/stats-websockify.png (rewritten by
// -update).
func TestStatsPNG(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "stats.png")
	runOK(t, "stats", "--png", out, filepath.Join(recordings, "websockify-vnc-session.txt"))
	got := decodePNG(t, out)
	golden := filepath.Join(goldenDir, "stats-websockify.png")
	if *update {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := decodePNG(t, golden)
	if got.Bounds() != want.Bounds() {
		t.Fatalf("got a %v image, want %v", got.Bounds(), want.Bounds())
	}
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if got.At(x, y) != want.At(x, y) {
				t.Fatalf("pixel (%d, %d): got %v, want %v (run with -update to accept the new image)", x, y, got.At(x, y), want.At(x, y))
			}
		}
	}
	// The target's 44 KiB framebuffer update is the tallest bar of its
	// panel: in the second slot, in the target's colour, right above the
	// axis.
	slotWidth := float64(plotWidth-plotLeft-plotRight) / 29 // 1.402 s in slots of 50 ms
	if c := got.At(plotLeft+int(1.5*slotWidth), 430); c != colorTarget {
		t.Errorf("got %v where the target's peak is drawn, want %v", c, colorTarget)
	}
}

func decodePNG(t *testing.T, name string) image.Image {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBarReader checks that the progress bar follows the furthest offset
// read once started, and not before (a sealed file's trailer is read first).
func TestBarReader(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	bar := progressbar.NewOptions64(10000, progressbar.OptionSetWriter(&out))
	br := &barReader{ra: bytes.NewReader(make([]byte, 10000))}
	p := make([]byte, barMinRead)
	br.ReadAt(p, 9000) // the trailer, at open
	br.start(bar)
	br.ReadAt(p[:12], 9988) // a verifier's look at the end
	br.ReadAt(p, 0)
	br.ReadAt(p, 3000)
	br.ReadAt(p, 1000) // backwards: no change
	if got := bar.State().CurrentNum; got != 3000+barMinRead {
		t.Errorf("got bar at %d, want %d", got, 3000+barMinRead)
	}
	if isTerminal(&out) {
		t.Errorf("isTerminal: a buffer is no terminal")
	}
}
