//go:build unix

package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/internal/videotest"
	"github.com/wsproxy/wsproxy/replay/ui"
)

// minVideoPSNR bounds how far a frame of the exported video may be from
// the library's snapshot at its time. The synthetic screens are solid
// colours, which H.264 (4:2:0) and VP9 reproduce to within a few levels
// (over 40 dB); the screen of the neighbouring ten seconds differs by
// 255 in at least one channel, under 5 dB, so 30 dB tells a right frame
// from a frame of another time by a wide margin both ways.
const minVideoPSNR = 30

// videoSession writes the synthetic session "alice.wsrec" into a new
// directory and returns the directory.
func videoSession(t *testing.T) string {
	dir := t.TempDir()
	writeSession(t, dir, session{name: "alice.wsrec", start: t0, typed: "hello world"})
	return dir
}

// snapshot is the library's screen of the recording at session time at,
// with the cursor, as the video's frames are composed.
func snapshot(t *testing.T, path string, at time.Duration) *image.RGBA {
	t.Helper()
	f, err := recfile.Open(path, recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := render.NewPlayer(t.Context(), f, nil, screen.Options{}).At(at)
	if err != nil {
		t.Fatalf("snapshot at %v: %v", at, err)
	}
	return s.Composite(nil, true)
}

// TestVideoExport asks the UI for videos of a synthetic session and
// checks them with Debian's ffmpeg: ffprobe must report their size,
// frames and duration, and frames that ffmpeg decodes must match the
// library's snapshots at their session times.
func TestVideoExport(t *testing.T) {
	videotest.Require(t)
	t.Parallel()
	dir := videoSession(t)
	hs, _ := startUI(t, dir, ui.Options{VideoDir: t.TempDir()})
	// Session 5 s to 35 s at twice the speed, 10 frames a second: a
	// video of 15 s, 150 frames; frame n shows session time 5 s + n/5 s.
	const from, to, speed, fps = 5 * time.Second, 35 * time.Second, 2.0, 10.0
	frames := int(float64(to-from) / speed / float64(time.Second) * fps)
	for _, format := range []string{"mp4", "webm"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			u := fmt.Sprintf("%s/ui/api/video?name=alice.wsrec&format=%s&from=%g&to=%g&speed=%g&fps=%g",
				hs.URL, format, from.Seconds(), to.Seconds(), speed, fps)
			start := time.Now()
			resp, body := get(t, u)
			t.Logf("%s: %d bytes in %v", format, len(body), time.Since(start).Round(time.Millisecond))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if cd, want := resp.Header.Get("Content-Disposition"), `attachment; filename="alice.`+format+`"`; cd != want {
				t.Errorf("Content-Disposition %q, want %q", cd, want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "video/"+format {
				t.Errorf("Content-Type %q", ct)
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q, body of %d bytes", cl, len(body))
			}
			path := filepath.Join(t.TempDir(), "v."+format)
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			in := videotest.Probe(t, path)
			// The containers time a constant-rate video by its frames,
			// frames/fps, with timestamps in milliseconds (WebM) or finer:
			// half a frame interval is room enough, and a frame more or
			// less is caught by the packet count.
			want := float64(frames) / fps
			if in.Width != fixW || in.Height != fixH || in.Packets != frames || math.Abs(in.Duration-want) > 0.5/fps {
				t.Errorf("ffprobe says %dx%d, %d frames, %.3f s; want %dx%d, %d frames, %.3f s",
					in.Width, in.Height, in.Packets, in.Duration, fixW, fixH, frames, want)
			}
			for _, n := range []int{0, 30, 80, 140} {
				at := from + time.Duration(float64(n)/fps*speed*float64(time.Second))
				got := videotest.Frame(t, path, n)
				psnr := videotest.PSNR(got, snapshot(t, filepath.Join(dir, "alice.wsrec"), at))
				other := videotest.PSNR(got, snapshot(t, filepath.Join(dir, "alice.wsrec"), at+10*time.Second))
				t.Logf("frame %d (session %v): PSNR %.1f dB, %.1f dB against 10 s later", n, at, psnr, other)
				if psnr < minVideoPSNR || other >= minVideoPSNR {
					t.Errorf("frame %d: PSNR %.1f dB against the snapshot at %v, %.1f dB 10 s later; want at least %d, and under it",
						n, psnr, at, other, minVideoPSNR)
				}
			}
			// The same video again comes from the cache, whole or in part.
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Range", "bytes=0-99")
			start = time.Now()
			part, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer part.Body.Close()
			b := make([]byte, 101)
			n, _ := readFull(part.Body, b)
			t.Logf("%s: range from the cache in %v", format, time.Since(start).Round(time.Millisecond))
			if part.StatusCode != http.StatusPartialContent || n != 100 || string(b[:n]) != string(body[:100]) {
				t.Errorf("range: status %d, %d bytes; want 206 and the first 100 bytes", part.StatusCode, n)
			}
			resp, b2 := get(t, strings.Replace(u, "/video?", "/videostatus?", 1))
			var st ui.VideoStatus
			if err := json.Unmarshal(b2, &st); err != nil || resp.StatusCode != 200 || st.State != "ready" {
				t.Errorf("videostatus: %d %s, want ready", resp.StatusCode, b2)
			}
		})
	}
}

// readFull reads into b until it is full or the reader ends.
func readFull(r interface{ Read([]byte) (int, error) }, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestVideoErrors checks the answers to videos that cannot be made.
func TestVideoErrors(t *testing.T) {
	t.Parallel()
	dir := videoSession(t)
	hs, _ := startUI(t, dir, ui.Options{VideoDir: t.TempDir()})
	noFFmpeg, _ := startUI(t, dir, ui.Options{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg"), VideoDir: t.TempDir()})
	disabled, _ := startUI(t, dir, ui.Options{VideoExports: -1})
	enc, err := os.ReadFile(filepath.Join("..", "..", "testdata", "recordings", "v2-encrypted-signed.wsrec"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "encrypted.wsrec"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	prog, _ := slowFFmpeg(t) // never started: the export fails first
	noIdentity, _ := startUI(t, dir, ui.Options{FFmpeg: prog, VideoDir: t.TempDir()})
	tests := []struct {
		name   string
		base   string
		query  string
		status int
		want   string // in the JSON error
	}{
		{"UnknownName", hs.URL, "name=nobody.wsrec", 404, `no such recording: \"nobody.wsrec\"`},
		{"NoName", hs.URL, "", 404, "give ?name="},
		{"Format", hs.URL, "name=alice.wsrec&format=avi", 400, "format: want mp4 or webm"},
		{"FromAfterEnd", hs.URL, "name=alice.wsrec&from=61", 400, "after the end of the recording"},
		{"ToBeforeFrom", hs.URL, "name=alice.wsrec&from=10&to=5", 400, "is not after from"},
		{"Speed", hs.URL, "name=alice.wsrec&speed=0", 400, "speed: want a number from 0.1 to 100"},
		{"FPS", hs.URL, "name=alice.wsrec&fps=NaN", 400, "fps: want a number from 1 to 60"},
		{"NoFFmpeg", noFFmpeg.URL, "name=alice.wsrec", 501, "install Debian's ffmpeg package (apt-get install ffmpeg)"},
		{"Disabled", disabled.URL, "name=alice.wsrec", 501, "video export is disabled"},
		{"Encrypted", noIdentity.URL, "name=encrypted.wsrec", 422, "an identity is needed to read it (give wsreplay --identity)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, tt.base+"/ui/api/video?"+tt.query)
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("status %d, %s; want %d and an error with %q", resp.StatusCode, body, tt.status, tt.want)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != "" {
				t.Errorf("an error as an attachment: %q", cd)
			}
		})
	}
}

// slowFFmpeg writes a stand-in for ffmpeg that appends its process id to
// a file and sleeps without reading its input, so that an export blocks
// until it is killed. It returns the program and the file.
func slowFFmpeg(t *testing.T) (prog, pidFile string) {
	t.Helper()
	d := t.TempDir()
	prog, pidFile = filepath.Join(d, "ffmpeg"), filepath.Join(d, "pids")
	script := fmt.Sprintf("#!/bin/sh\necho $$ >> %s\nexec sleep 600\n", pidFile)
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, pidFile
}

// waitPID waits for the n-th stand-in started to write its process id,
// and returns it.
func waitPID(t *testing.T, pidFile string, n int) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		if lines := strings.Split(string(b), "\n"); len(lines) > n { // the last is empty
			pid, err := strconv.Atoi(lines[n-1])
			if err != nil {
				t.Fatalf("pid file: %q", b)
			}
			return pid
		}
	}
	t.Fatalf("the export started no ffmpeg number %d in 10 s", n)
	return 0
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// startExport requests a video in the background; cancel ends the
// request as a client going away does.
func startExport(t *testing.T, u string) (cancel func(), done <-chan struct{}) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("export answered %d before it was cancelled", resp.StatusCode)
		}
	}()
	return cancel, ch
}

// TestVideoBusy fills the one export slot with an export that blocks:
// another video is answered 503 with Retry-After, the status of the first
// says it is being made, and it ending frees the slot.
func TestVideoBusy(t *testing.T) {
	t.Parallel()
	prog, pidFile := slowFFmpeg(t)
	hs, _ := startUI(t, videoSession(t), ui.Options{FFmpeg: prog, VideoExports: 1, VideoDir: t.TempDir()})
	first := hs.URL + "/ui/api/video?name=alice.wsrec"
	cancel, done := startExport(t, first)
	defer cancel()
	waitPID(t, pidFile, 1)

	resp, body := get(t, hs.URL+"/ui/api/video?name=alice.wsrec&format=webm")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != strconv.Itoa(ui.VideoRetryAfter) ||
		!strings.Contains(string(body), "every video export slot is taken") {
		t.Errorf("second export: status %d, Retry-After %q, %s; want 503, %d", resp.StatusCode,
			resp.Header.Get("Retry-After"), body, ui.VideoRetryAfter)
	}
	resp, body = get(t, strings.Replace(first, "/video?", "/videostatus?", 1))
	var st ui.VideoStatus
	if err := json.Unmarshal(body, &st); err != nil || st.State != "exporting" || st.Exports != 1 || st.MaxExports != 1 {
		t.Errorf("videostatus: %d %s; want exporting, 1 of 1", resp.StatusCode, body)
	}
	cancel()
	<-done
	// The slot is freed once the export has stopped; then the next
	// export starts (and is cancelled).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, body = get(t, strings.Replace(first, "/video?", "/videostatus?", 1))
		if err := json.Unmarshal(body, &st); err == nil && st.Exports == 0 && st.State == "none" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("videostatus 10 s after the client went away: %s", body)
		}
	}
	cancel2, done2 := startExport(t, hs.URL+"/ui/api/video?name=alice.wsrec&format=webm")
	waitPID(t, pidFile, 2)
	cancel2()
	<-done2
}

// TestVideoClientGone proves that a client going away in the middle of
// an export kills its ffmpeg and removes the partial file.
func TestVideoClientGone(t *testing.T) {
	t.Parallel()
	prog, pidFile := slowFFmpeg(t)
	videoDir := t.TempDir()
	hs, _ := startUI(t, videoSession(t), ui.Options{FFmpeg: prog, VideoDir: videoDir})
	cancel, done := startExport(t, hs.URL+"/ui/api/video?name=alice.wsrec&format=mp4&fps=60")
	pid := waitPID(t, pidFile, 1)
	if !alive(pid) {
		t.Fatalf("ffmpeg %d is not running", pid)
	}
	cancel()
	<-done
	start := time.Now()
	for alive(pid) {
		if time.Since(start) > 10*time.Second {
			syscall.Kill(pid, syscall.SIGKILL) // lets the server close
			t.Fatalf("ffmpeg %d still runs 10 s after its client went away", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("ffmpeg %d gone %v after the client", pid, time.Since(start).Round(time.Millisecond))
	// Nothing is left of the export.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(videoDir, "*", "*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files left: %v", left)
		}
	}
}

// TestVideoSameWaits proves that a request for a video being made waits
// for it rather than taking a slot (with one slot, it is not answered
// 503), and makes it itself when the first client goes away.
func TestVideoSameWaits(t *testing.T) {
	t.Parallel()
	prog, pidFile := slowFFmpeg(t)
	hs, _ := startUI(t, videoSession(t), ui.Options{FFmpeg: prog, VideoExports: 1, VideoDir: t.TempDir()})
	u := hs.URL + "/ui/api/video?name=alice.wsrec&speed=4"
	cancel1, done1 := startExport(t, u)
	defer cancel1()
	first := waitPID(t, pidFile, 1)
	cancel2, done2 := startExport(t, u)
	defer cancel2()
	time.Sleep(200 * time.Millisecond) // the second request reaches the server and waits
	_, body := get(t, strings.Replace(u, "/video?", "/videostatus?", 1))
	var st ui.VideoStatus
	if err := json.Unmarshal(body, &st); err != nil || st.State != "exporting" || st.Exports != 1 {
		t.Errorf("videostatus: %s; want one export", body)
	}
	cancel1()
	<-done1
	second := waitPID(t, pidFile, 2)
	if second == first || !alive(second) {
		t.Errorf("the waiting request did not start its own export: pids %d, %d", first, second)
	}
	cancel2()
	<-done2
}

// TestVideoCaptions asks for a video with the typed text as subtitles:
// ffprobe must see a subtitle stream, and ffmpeg read the typed line
// from it.
func TestVideoCaptions(t *testing.T) {
	videotest.Require(t)
	t.Parallel()
	hs, _ := startUI(t, videoSession(t), ui.Options{VideoDir: t.TempDir()})
	resp, body := get(t, hs.URL+"/ui/api/video?name=alice.wsrec&captions=1&speed=10&fps=2")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	path := filepath.Join(t.TempDir(), "v.mp4")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if types := videotest.Probe(t, path).Types; strings.Join(types, ",") != "video,subtitle" {
		t.Errorf("streams %v, want video and subtitle", types)
	}
	vtt, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:s", "-f", "webvtt", "-").Output()
	if err != nil || !strings.Contains(string(vtt), "hello world") {
		t.Errorf("subtitles %q, %v; want the typed line", vtt, err)
	}
}
