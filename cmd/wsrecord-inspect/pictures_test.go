package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// decodeAt decodes the wsrec recording path from its start with the
// screen package alone, up to and including time t.
func decodeAt(t testing.TB, path string, at time.Duration, cursor bool) *image.RGBA {
	t.Helper()
	r, err := format.Open(path, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := screen.New(screen.Options{})
	for {
		rec, err := r.Next()
		if err == io.EOF || err == nil && rec.Time > at {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Feed(rec); err != nil {
			t.Fatal(err)
		}
	}
	return s.Snapshot(cursor)
}

// readPNG reads a PNG file as RGBA.
func readPNG(t testing.TB, path string) *image.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if rgba, ok := img.(*image.RGBA); ok {
		return rgba
	}
	b := img.Bounds()
	rgba := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return rgba
}

// assertSameImage fails unless a and b have the same size and pixels.
func assertSameImage(t testing.TB, what string, got, want *image.RGBA) {
	t.Helper()
	if got.Rect.Size() != want.Rect.Size() {
		t.Fatalf("%s: got size %v, want %v", what, got.Rect.Size(), want.Rect.Size())
	}
	for y := range want.Rect.Dy() {
		g := got.Pix[y*got.Stride : y*got.Stride+4*want.Rect.Dx()]
		w := want.Pix[y*want.Stride : y*want.Stride+4*want.Rect.Dx()]
		if !bytes.Equal(g, w) {
			t.Fatalf("%s: row %d differs", what, y)
		}
	}
}

// runCmd runs wsrecord-inspect with args and returns its exit code and
// output.
func runCmd(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var so, se bytes.Buffer
	err := run(t.Context(), args, &so, &se)
	return cli.ExitCode(err), so.String(), se.String()
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	rec := filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec")
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := filepath.Join(dir, "shot.png")
		code, so, se := runCmd(t, "snapshot", rec, "--at", "2.5s", "-o", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		clitest.AssertContains(t, "stdout", so, []string{out + "  2.5s 05:08:41Z  320x240\n"})
		assertSameImage(t, "snapshot", readPNG(t, out), decodeAt(t, rec, 2500*time.Millisecond, true))
	})
	t.Run("Several", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := filepath.Join(dir, "shot.png")
		// Out of order, and a wall-clock time (the session starts at
		// 05:08:38.749 UTC): files are numbered in the order given.
		code, so, se := runCmd(t, "snapshot", rec, "--at", "3s", "--at", "2026-11-25T05:08:39.749453325Z", "--at", "05:08:40.249453325",
			"--no-cursor", "--json", "-o", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		var lines []snapshotLine
		for l := range strings.Lines(so) {
			var sl snapshotLine
			if err := json.Unmarshal([]byte(l), &sl); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, sl)
		}
		if len(lines) != 3 {
			t.Fatalf("got %d lines, want 3:\n%s", len(lines), so)
		}
		for i, want := range []time.Duration{3 * time.Second, time.Second, 1500 * time.Millisecond} {
			name := numbered(out, i+1, 3)
			// Printed in the order decoded: by time.
			var got *snapshotLine
			for j := range lines {
				if lines[j].File == name {
					got = &lines[j]
				}
			}
			if got == nil || got.Time != want {
				t.Fatalf("%s: got %+v, want time %v", name, got, want)
			}
			assertSameImage(t, name, readPNG(t, name), decodeAt(t, rec, want, false))
		}
	})
	t.Run("Every", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		code, so, se := runCmd(t, "snapshot", rec, "--every", "1s", "-o", filepath.Join(dir, "s.png"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		// 0s shows no screen yet: noted and skipped; 1s, 2s, 3s written.
		clitest.AssertContains(t, "stderr", se, []string{"no screen yet at 0s"})
		if got := strings.Count(so, "\n"); got != 3 {
			t.Errorf("got %d pictures, want 3:\n%s", got, so)
		}
		assertSameImage(t, "s-004", readPNG(t, filepath.Join(dir, "s-004.png")), decodeAt(t, rec, 3*time.Second, true))
	})
	t.Run("Websockify", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := filepath.Join(dir, "ws.png")
		code, so, se := runCmd(t, "snapshot", filepath.Join(recordings, "websockify-vnc-session.txt"), "--at", "1s", "-o", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		clitest.AssertContains(t, "stdout", so, []string{"ws.png  1.0s  "})
		if img := readPNG(t, out); img.Rect.Dx() == 0 {
			t.Error("empty picture")
		}
	})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stderr   string
	}{
		{"ErrNoTime", []string{"snapshot", rec, "-o", "x.png"}, cli.ExitUsage, "give --at TIME or --every INTERVAL"},
		{"ErrBothTimes", []string{"snapshot", rec, "--at", "1s", "--every", "1s", "-o", "x.png"}, cli.ExitUsage, "not both"},
		{"ErrExtension", []string{"snapshot", rec, "--at", "1s", "-o", "x.gif"}, cli.ExitUsage, ".png, .jpg or .jpeg"},
		{"ErrAfterEnd", []string{"snapshot", rec, "--at", "1h", "-o", "x.png"}, 1, "after the end of the recording, at 3.725"},
		{"ErrBeforeStart", []string{"snapshot", rec, "--at", "2026-11-25T05:00:00Z", "-o", "x.png"}, 1, "before the session's start"},
		{"ErrBadTime", []string{"snapshot", rec, "--at", "noon", "-o", "x.png"}, cli.ExitUsage, "not an offset"},
		{"ErrNoScreen", []string{"snapshot", rec, "--at", "0s", "-o", "x.png"}, 1, "no screen yet"},
		{"ErrWallClockWebsockify", []string{"snapshot", filepath.Join(recordings, "websockify-vnc-session.txt"), "--at", "12:00:00", "-o", "x.png"},
			1, "has no start time"},
		{"ErrNotRecording", []string{"snapshot", filepath.Join(recordings, "websockify-vnc-session.client.json"), "--at", "1s", "-o", "x.png"},
			exitUnreadable, "not a recording"},
		{"ErrNotRFB", []string{"snapshot", filepath.Join(recordings, "sealed-small.wsrec"), "--at", "10ms", "-o", "x.png"}, 1, "screen: record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if a == "x.png" || a == "x.gif" {
					args[i] = filepath.Join(dir, a)
				}
			}
			code, _, se := runCmd(t, args...)
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d; stderr: %s", code, tt.wantCode, se)
			}
			clitest.AssertContains(t, "stderr", se, []string{tt.stderr})
			if _, err := os.Stat(filepath.Join(dir, "x.png")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a picture was written: %v", err)
			}
		})
	}
}

func TestContactSheet(t *testing.T) {
	t.Parallel()
	rec := filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec")
	for _, tt := range []struct {
		name       string
		args       []string
		wantThumbs int
	}{
		{"Count", []string{"-n", "8", "--columns", "3"}, 8},
		{"Every", []string{"--every", "1s", "--from", "500ms"}, 4},
		{"Changes", []string{"--changes", "--settle", "100ms"}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "sheet.png")
			code, so, se := runCmd(t, append([]string{"contact-sheet", rec, "-o", out, "--json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, se)
			}
			var got sheetJSON
			if err := json.Unmarshal([]byte(so), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Thumbs) != tt.wantThumbs {
				t.Errorf("got %d thumbnails, want %d", len(got.Thumbs), tt.wantThumbs)
			}
			img := readPNG(t, out)
			if img.Rect.Dx() != got.Width || img.Rect.Dy() != got.Height {
				t.Errorf("got a %v sheet, JSON says %dx%d", img.Rect.Size(), got.Width, got.Height)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := copyFile(t, filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec"), dir)
	ws := copyFile(t, filepath.Join(recordings, "websockify-vnc-session.txt"), dir)
	idx := screen.IndexPath(rec)
	action := func(args ...string) []indexLine {
		t.Helper()
		code, so, se := runCmd(t, append([]string{"index", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		var ls []indexLine
		for l := range strings.Lines(so) {
			var il indexLine
			if err := json.Unmarshal([]byte(l), &il); err != nil {
				t.Fatal(err)
			}
			ls = append(ls, il)
		}
		return ls
	}
	if got := action(dir); len(got) != 1 || got[0].Action != "built" || got[0].File != rec {
		t.Fatalf("first run: got %+v, want one built (the directory's websockify file is left out)", got)
	}
	if got := action(rec); got[0].Action != "up-to-date" {
		t.Fatalf("second run: got %+v, want up-to-date", got)
	}
	if got := action(ws); got[0].Action != "skipped" {
		t.Fatalf("websockify: got %+v, want skipped", got)
	}
	// Damaged: rebuilt, and snapshot notes that it does not use it.
	b, _ := os.ReadFile(idx)
	b[len(b)-1] ^= 0xff
	b[70] ^= 0xff
	os.WriteFile(idx, b, 0o644)
	code, _, se := runCmd(t, "snapshot", rec, "--at", "1s", "-o", filepath.Join(dir, "a.png"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, se)
	}
	clitest.AssertContains(t, "stderr", se, []string{"index damaged", "decoding from the start"})
	if got := action(rec); got[0].Action != "rebuilt" || !strings.Contains(got[0].Reason, "damaged") {
		t.Fatalf("damaged: got %+v, want rebuilt", got)
	}
	// Stale: the recording changed.
	f, _ := os.OpenFile(rec, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	if got := action(rec); got[0].Action != "rebuilt" || !strings.Contains(got[0].Reason, "does not match") {
		t.Fatalf("stale: got %+v, want rebuilt", got)
	}
	// Human output, and a failure.
	code, so, _ := runCmd(t, "index", rec)
	clitest.AssertContains(t, "stdout", so, []string{rec + "  up-to-date  " + idx + ": "})
	if code != 0 {
		t.Errorf("got exit %d, want 0", code)
	}
	code, so, _ = runCmd(t, "index", filepath.Join(dir, "missing.wsrec"))
	if code != 1 || !strings.Contains(so, "failed") {
		t.Errorf("missing: got exit %d and %q, want 1 and failed", code, so)
	}
}

// TestSnapshotIndex checks that a snapshot taken through the index is the
// one decoded from the start, with an index of a keyframe every 200 ms.
func TestSnapshotIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := copyFile(t, filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec"), dir)
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	x, err := screen.BuildIndex(f, fi.Size(), screen.IndexOptions{Interval: 200 * time.Millisecond})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Keyframes()) < 5 {
		t.Fatalf("got %d keyframes, want several", len(x.Keyframes()))
	}
	w, _ := os.Create(screen.IndexPath(rec))
	x.WriteTo(w)
	w.Close()
	args := []string{"snapshot", rec, "-o", filepath.Join(dir, "i.png")}
	var times []time.Duration
	for t := 300 * time.Millisecond; t < 3700*time.Millisecond; t += 170 * time.Millisecond {
		args = append(args, "--at", t.String())
		times = append(times, t)
	}
	code, _, se := runCmd(t, args...)
	if code != 0 || se != "" {
		t.Fatalf("exit %d: %s", code, se)
	}
	for i, at := range times {
		name := numbered(filepath.Join(dir, "i.png"), i+1, len(times))
		assertSameImage(t, name, readPNG(t, name), decodeAt(t, rec, at, true))
	}
}

// fakeFFmpeg writes a stand-in for ffmpeg into dir that logs its
// arguments to dir/log and writes to its output (its last argument) the
// number of bytes of raw video it read, or, to mux, the subtitle file it
// was given.
func fakeFFmpeg(t testing.TB, dir string) (prog, log string) {
	t.Helper()
	log = filepath.Join(dir, "log")
	prog = filepath.Join(dir, "ffmpeg")
	script := `#!/bin/sh
echo "$@" >> '` + log + `'
for a; do out=$a; done
case "$*" in
*pipe:0*) wc -c > "$out" ;;
*) prev=; for a; do [ "$prev" = -i ] && in=$a; prev=$a; done; cat "$in" > "$out" ;;
esac
`
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, log
}

func TestVideo(t *testing.T) {
	t.Parallel()
	rec := filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec")
	for _, tt := range []struct {
		name       string
		args       []string
		wantFrames int
		wantArgs   []string
	}{
		{"Range", []string{"--from", "1s", "--to", "3s"}, 20, []string{"-f rawvideo -pix_fmt yuv420p -video_size 320x240 -framerate 10 -i pipe:0", "-c:v libx264", "-f mp4"}},
		{"Speed", []string{"--from", "1s", "--to", "3s", "--speed", "2", "--fps", "25"}, 25, []string{"-framerate 25 "}},
		{"IdleLimit", []string{"--from", "1s", "--to", "3s", "--idle-limit", "100ms"}, 0, []string{"pipe:0"}},
		{"WebM", []string{"--from", "1s", "--to", "2s", "-o", "v.webm"}, 10, []string{"-c:v libvpx-vp9", "-f webm"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			prog, log := fakeFFmpeg(t, dir)
			out := filepath.Join(dir, "v.mp4")
			args := append([]string{"video", rec, "--json", "--ffmpeg", prog, "-o", out}, tt.args...)
			for i, a := range args {
				if a == "v.webm" {
					out = filepath.Join(dir, a)
					args[i] = out
				}
			}
			code, so, se := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, se)
			}
			var got videoJSON
			if err := json.Unmarshal([]byte(so), &got); err != nil {
				t.Fatal(err)
			}
			if tt.wantFrames > 0 && got.Frames != tt.wantFrames {
				t.Errorf("got %d frames, want %d", got.Frames, tt.wantFrames)
			}
			if tt.name == "IdleLimit" && (got.Frames == 0 || got.Frames >= 20) {
				t.Errorf("got %d frames, want fewer than 20 with idle gaps cut", got.Frames)
			}
			b, _ := os.ReadFile(out)
			// ffmpeg reads yuv420p: 1.5 bytes a pixel.
			if want := got.Frames * got.Width * got.Height * 3 / 2; strings.TrimSpace(string(b)) != strconv.Itoa(want) {
				t.Errorf("ffmpeg read %s bytes, want %d", b, want)
			}
			l, _ := os.ReadFile(log)
			clitest.AssertContains(t, "ffmpeg's arguments", string(l), tt.wantArgs)
		})
	}
	t.Run("Captions", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		prog, log := fakeFFmpeg(t, dir)
		out := filepath.Join(dir, "v.mp4")
		code, so, se := runCmd(t, "video", filepath.Join(recordings, noVNCFixture), "--captions", "--ffmpeg", prog, "-o", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		clitest.AssertContains(t, "stdout", so, []string{"1 captions"})
		b, _ := os.ReadFile(out) // the fake mux copied the subtitles
		if !strings.HasPrefix(string(b), "WEBVTT\n") || !strings.Contains(string(b), "audit trail 42") {
			t.Errorf("got subtitles %q", b)
		}
		l, _ := os.ReadFile(log)
		clitest.AssertContains(t, "ffmpeg's arguments", string(l), []string{"-map 1:s -c:v copy -c:s mov_text"})
	})
	t.Run("ErrNoFFmpeg", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "v.mp4")
		code, _, se := runCmd(t, "video", rec, "--ffmpeg", "/nonexistent/ffmpeg", "-o", out)
		if code != 1 {
			t.Errorf("got exit %d, want 1", code)
		}
		clitest.AssertContains(t, "stderr", se, []string{"install Debian's ffmpeg package"})
		if _, err := os.Stat(out); err == nil {
			t.Error("a video was written")
		}
	})
	t.Run("ErrContainer", func(t *testing.T) {
		t.Parallel()
		code, _, se := runCmd(t, "video", rec, "-o", "v.avi")
		if code != cli.ExitUsage {
			t.Errorf("got exit %d, want %d", code, cli.ExitUsage)
		}
		clitest.AssertContains(t, "stderr", se, []string{".mp4, .webm or .mkv"})
	})
}

// TestIndexEncrypted indexes an encrypted copy of a capture: not without
// its identity; with it, a sealed index that snapshot uses (no note) and
// whose pictures are those of the capture in the clear.
func TestIndexEncrypted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clear := filepath.Join(rfbFixtures, "xvnc-none-noVNC-like.wsrec")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "id.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := format.Open(clear, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{}, format.WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "enc.wsrec")
	if err := os.WriteFile(rec, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	code, so, _ := runCmd(t, "index", "--json", rec)
	if code != 1 || !strings.Contains(so, `"action":"failed"`) || !strings.Contains(so, "identity") {
		t.Fatalf("without identity: exit %d, %s; want 1 and a failure naming the identity", code, so)
	}
	code, so, se := runCmd(t, "index", "--json", "--identity", idFile, rec)
	if code != 0 || !strings.Contains(so, `"action":"built"`) {
		t.Fatalf("with identity: exit %d, %s %s", code, so, se)
	}
	idx, err := os.ReadFile(screen.IndexPath(rec))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) < 12 || idx[10] != 1 {
		t.Fatalf("index flags %v, want sealed (1)", idx[10:12])
	}
	for _, at := range []string{"1s", "2500ms", "3600ms"} {
		got, want := filepath.Join(dir, "enc-"+at+".png"), filepath.Join(dir, "clear-"+at+".png")
		code, _, se := runCmd(t, "snapshot", "--identity", idFile, rec, "--at", at, "-o", got)
		if code != 0 || se != "" {
			t.Fatalf("snapshot through the sealed index: exit %d: %s", code, se)
		}
		if code, _, se := runCmd(t, "snapshot", clear, "--no-index", "--at", at, "-o", want); code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		assertSameImage(t, got, readPNG(t, got), readPNG(t, want))
	}
}
