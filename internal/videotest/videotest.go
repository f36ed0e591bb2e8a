package videotest

import (
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// Info is what ffprobe says of a video file.
type Info struct {
	// Width and Height are the first video stream's.
	Width, Height int
	// Packets counts the first video stream's packets: its frames.
	Packets int
	// Duration is the container's, in seconds.
	Duration float64
	// Types are the streams' codec types in order ("video", "subtitle").
	Types []string
	// Format is the container's format name ("mov,mp4,m4a,3gp,3g2,mj2",
	// "matroska,webm").
	Format string
}

// Require skips t under -short, and otherwise requires Debian's ffmpeg
// (ffmpeg and ffprobe) as vnctest.Require does.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	vnctest.Require(t, "ffmpeg", "ffmpeg")
	vnctest.Require(t, "ffprobe", "ffmpeg")
}

// Probe runs ffprobe on path.
func Probe(t testing.TB, path string) Info {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,width,height,nb_read_packets:format=duration,format_name",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p struct {
		Streams []struct {
			CodecType     string `json:"codec_type"`
			Width, Height int
			Packets       string `json:"nb_read_packets"`
		}
		Format struct {
			Duration string
			Name     string `json:"format_name"`
		}
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var in Info
	for _, s := range p.Streams {
		in.Types = append(in.Types, s.CodecType)
		if s.CodecType == "video" && in.Width == 0 {
			in.Width, in.Height = s.Width, s.Height
			in.Packets, _ = strconv.Atoi(s.Packets)
		}
	}
	in.Duration, _ = strconv.ParseFloat(p.Format.Duration, 64)
	in.Format = p.Format.Name
	return in
}

// Frame returns frame n (from 0) of the video in path, as ffmpeg decodes
// it.
func Frame(t testing.TB, path string, n int) *image.RGBA {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("frame%d.png", n))
	if b, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-vf", fmt.Sprintf(`select=eq(n\,%d)`, n),
		"-frames:v", "1", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: extract frame %d of %s: %v: %s", n, path, err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("ffmpeg extracted no frame %d of %s: %v", n, path, err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	rgba := image.NewRGBA(image.Rectangle{Max: img.Bounds().Size()})
	draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	return rgba
}

// PSNR returns the peak signal-to-noise ratio of got against want, in
// dB, over the red, green and blue channels of the pixels of want's
// size (got must be at least that large); 99 for identical pictures.
func PSNR(got, want *image.RGBA) float64 {
	var sum float64
	size := want.Rect.Size()
	for y := range size.Y {
		for x := range size.X {
			g := got.RGBAAt(got.Rect.Min.X+x, got.Rect.Min.Y+y)
			w := want.RGBAAt(want.Rect.Min.X+x, want.Rect.Min.Y+y)
			for _, d := range []float64{float64(g.R) - float64(w.R), float64(g.G) - float64(w.G), float64(g.B) - float64(w.B)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*size.X*size.Y)
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}
