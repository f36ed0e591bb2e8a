package main

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/videotest"
)

// minVideoPSNR bounds how far a frame of the video may be from the
// snapshot at its time: H.264 at CRF 20 with 4:2:0 chroma subsampling
// blurs the colour of one-pixel text strokes, which costs a few dB on a
// terminal's screen; 28 dB (a root-mean-square error of 10 of 255) is far
// above what a frame of another time, a shifted frame or one of wrong
// colours scores: a line of text more or less, on this session, alone
// brings it under 20 dB.
const minVideoPSNR = 28

// TestVideoFFmpeg makes videos of a real Xvnc session with Debian's
// ffmpeg: ffprobe must report their size and duration, and a frame that
// ffmpeg extracts must match snapshot at its time.
func TestVideoFFmpeg(t *testing.T) {
	videotest.Require(t)
	t.Parallel()
	rec := filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec")
	dir := t.TempDir()
	for _, ext := range []string{".mp4", ".webm"} {
		out := filepath.Join(dir, "v"+ext)
		code, so, se := runCmd(t, "video", rec, "--from", "1s", "--to", "3s", "--fps", "10", "--json", "-o", out)
		if code != 0 {
			t.Fatalf("video %s: exit %d: %s", ext, code, se)
		}
		var j videoJSON
		if err := json.Unmarshal([]byte(so), &j); err != nil {
			t.Fatal(err)
		}
		in := videotest.Probe(t, out)
		w, h, d := in.Width, in.Height, in.Duration
		if w != 320 || h != 240 || j.Frames != 20 || math.Abs(d-2) > 0.15 {
			t.Errorf("%s: ffprobe says %dx%d, %.3f s; %d frames; want 320x240, 2 s, 20 frames", ext, w, h, d, j.Frames)
		}
	}
	// Frame 10 of the MP4 shows session time 1s + 10/10 s.
	shot := filepath.Join(dir, "shot.png")
	if code, _, se := runCmd(t, "snapshot", rec, "--at", (2 * time.Second).String(), "-o", shot); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, se)
	}
	got, want := videotest.Frame(t, filepath.Join(dir, "v.mp4"), 10), readPNG(t, shot)
	if got.Rect.Size() != want.Rect.Size() {
		t.Fatalf("frame of %v, snapshot of %v", got.Rect.Size(), want.Rect.Size())
	}
	psnr := videotest.PSNR(got, want)
	t.Logf("frame 10 against snapshot --at 2s: PSNR %.1f dB", psnr)
	if psnr < minVideoPSNR {
		t.Errorf("frame 10: PSNR %.1f dB against snapshot --at 2s, want at least %d", psnr, minVideoPSNR)
	}
	// Captions: a subtitle stream with the typed line.
	out := filepath.Join(dir, "captions.mp4")
	if code, _, se := runCmd(t, "video", filepath.Join(recordings, noVNCFixture), "--captions", "-o", out); code != 0 {
		t.Fatalf("video --captions: exit %d: %s", code, se)
	}
	if types := videotest.Probe(t, out).Types; strings.Join(types, ",") != "video,subtitle" {
		t.Errorf("streams %v, want video and subtitle", types)
	}
	vtt, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-map", "0:s", "-f", "webvtt", "-").Output()
	if err != nil || !strings.Contains(string(vtt), "audit trail 42") {
		t.Errorf("subtitles %q, %v; want the typed line", vtt, err)
	}
}
