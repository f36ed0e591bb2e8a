package video

import (
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string // a part of the command line
		err  error
	}{
		{"MP4", Options{Output: "a.MP4", Size: image.Pt(320, 240), FPS: 10},
			"-f rawvideo -pix_fmt yuv420p -video_size 320x240 -framerate 10 -i pipe:0 -c:v libx264 -preset ultrafast -crf 20 -pix_fmt yuv420p -movflags +faststart -f mp4 a.MP4", nil},
		{"WebM", Options{Output: "a.webm", Size: image.Pt(2, 2), FPS: 2.5}, "-framerate 2.5 -i pipe:0 -c:v libvpx-vp9", nil},
		{"Format", Options{Output: "tmp", Format: "matroska", Size: image.Pt(2, 2), FPS: 1}, "-f matroska tmp", nil},
		{"ErrContainer", Options{Output: "a.avi", Size: image.Pt(2, 2), FPS: 1}, "", ErrContainer},
		{"ErrOddSize", Options{Output: "a.mp4", Size: image.Pt(3, 2), FPS: 1}, "", errAny},
		{"ErrFPS", Options{Output: "a.mp4", Size: image.Pt(2, 2)}, "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args, err := Args(tt.opts)
			switch {
			case tt.err == errAny && err == nil, tt.err != nil && tt.err != errAny && !errors.Is(err, tt.err):
				t.Fatalf("got %v, want %v", err, tt.err)
			case tt.err == nil && err != nil:
				t.Fatal(err)
			}
			if got := strings.Join(args, " "); !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
	if got := strings.Join(MuxArgs("v", "s.vtt", "webm", "o"), " "); !strings.Contains(got, "-f webvtt -i s.vtt -map 0:v -map 1:s -c:v copy -c:s webvtt") {
		t.Errorf("MuxArgs: got %q", got)
	}
}

var errAny = errors.New("any error")

// TestFFmpeg runs a stand-in for ffmpeg that copies its input to its
// output: the bytes are the frames in yuv420p, without the rows' padding.
func TestFFmpeg(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := filepath.Join(dir, "ffmpeg")
	os.WriteFile(prog, []byte("#!/bin/sh\nfor a; do out=$a; done\ncat > \"$out\"\n"), 0o755)
	out := filepath.Join(dir, "v.mp4")
	e, err := Start(t.Context(), Options{Output: out, Size: image.Pt(2, 2), FPS: 1, Program: prog})
	if err != nil {
		t.Fatal(err)
	}
	big := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range big.Pix {
		big.Pix[i] = 0xff // white, but for the red frame below
	}
	sub := big.SubImage(image.Rect(1, 0, 3, 2)).(*image.RGBA) // stride 12, rows of 8
	for y := range 2 {
		for x := 1; x < 3; x++ {
			copy(sub.Pix[sub.PixOffset(x, y):], []byte{255, 0, 0, 255})
		}
	}
	if err := e.WriteFrame(sub); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFrame(big); err == nil {
		t.Error("a frame of another size: got no error")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	got, _ := os.ReadFile(out)
	want := []byte{82, 82, 82, 82, 90, 240} // red: four Y, one U, one V
	if string(got) != string(want) {
		t.Errorf("got % x, want % x", got, want)
	}
	t.Run("ErrNoFFmpeg", func(t *testing.T) {
		_, err := Start(t.Context(), Options{Output: out, Size: image.Pt(2, 2), FPS: 1, Program: filepath.Join(dir, "none")})
		if !errors.Is(err, ErrNoFFmpeg) || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
			t.Errorf("got %v, want ErrNoFFmpeg", err)
		}
	})
	t.Run("ErrFailed", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		os.WriteFile(bad, []byte("#!/bin/sh\necho 'Unknown encoder libx264' >&2\nexit 1\n"), 0o755)
		e, err := Start(t.Context(), Options{Output: out, Size: image.Pt(2, 2), FPS: 1, Program: bad})
		if err != nil {
			t.Fatal(err)
		}
		e.WriteFrame(image.NewRGBA(image.Rect(0, 0, 2, 2))) // may or may not see the exit
		if err := e.Close(); err == nil || !strings.Contains(err.Error(), "Unknown encoder libx264") {
			t.Errorf("got %v, want ffmpeg's message", err)
		}
	})
}

func TestToYUV420(t *testing.T) {
	t.Parallel()
	// Expected values: BT.601 limited range, as ffmpeg's
	// "-pix_fmt yuv420p" makes them from RGB, within 1 (ffmpeg 5.1 rounds
	// green's Y to 145).
	tests := []struct {
		name   string
		pixels [8][3]byte // a 4×2 frame, row after row
		want   []byte     // Y plane (8), U (2), V (2)
	}{
		{"Black", [8][3]byte{}, []byte{16, 16, 16, 16, 16, 16, 16, 16, 128, 128, 128, 128}},
		{"White", [8][3]byte{{255, 255, 255}, {255, 255, 255}, {255, 255, 255}, {255, 255, 255},
			{255, 255, 255}, {255, 255, 255}, {255, 255, 255}, {255, 255, 255}},
			[]byte{235, 235, 235, 235, 235, 235, 235, 235, 128, 128, 128, 128}},
		{"GreenBlue", [8][3]byte{{0, 255, 0}, {0, 255, 0}, {0, 0, 255}, {0, 0, 255},
			{0, 255, 0}, {0, 255, 0}, {0, 0, 255}, {0, 0, 255}},
			[]byte{144, 144, 41, 41, 144, 144, 41, 41, 54, 240, 34, 110}},
		{"ChromaMean", [8][3]byte{{255, 0, 0}, {0, 0, 0}, {255, 0, 0}, {255, 0, 0},
			{0, 0, 0}, {0, 0, 0}, {255, 0, 0}, {255, 0, 0}},
			[]byte{82, 16, 82, 82, 16, 16, 82, 82, 119, 90, 156, 240}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := image.NewRGBA(image.Rect(0, 0, 4, 2))
			for i, p := range tt.pixels {
				copy(img.Pix[4*i:], []byte{p[0], p[1], p[2], 255})
			}
			got := make([]byte, yuv420Size(img.Rect.Size()))
			toYUV420(got, img)
			if string(got) != string(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestToYUV420Random checks toYUV420 against the BT.601 formulas, pixel
// by pixel, on random frames with runs of equal blocks.
func TestToYUV420Random(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 5))
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for i := 0; i < len(img.Pix); i += 4 {
		if i%32 != 0 && rng.IntN(3) == 0 { // repeat the pixel 2 to the left
			copy(img.Pix[i:i+4], img.Pix[i-8:i-4])
			continue
		}
		copy(img.Pix[i:i+4], []byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), 255})
	}
	got := make([]byte, yuv420Size(img.Rect.Size()))
	toYUV420(got, img)
	w, h := 64, 32
	for y := range h {
		for x := range w {
			p := img.Pix[img.PixOffset(x, y):]
			r, g, b := int32(p[0]), int32(p[1]), int32(p[2])
			if want := byte((66*r+129*g+25*b+128)>>8 + 16); got[y*w+x] != want {
				t.Fatalf("Y at %d,%d: got %d, want %d", x, y, got[y*w+x], want)
			}
		}
	}
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			var r, g, b int32
			for _, p := range []image.Point{{x, y}, {x + 1, y}, {x, y + 1}, {x + 1, y + 1}} {
				q := img.Pix[img.PixOffset(p.X, p.Y):]
				r, g, b = r+int32(q[0]), g+int32(q[1]), b+int32(q[2])
			}
			i := (y/2)*(w/2) + x/2
			u, v := got[w*h+i], got[w*h+w*h/4+i]
			if wu, wv := byte((-38*r-74*g+112*b+512)>>10+128), byte((112*r-94*g-18*b+512)>>10+128); u != wu || v != wv {
				t.Fatalf("U, V of the block at %d,%d: got %d, %d, want %d, %d", x, y, u, v, wu, wv)
			}
		}
	}
}
