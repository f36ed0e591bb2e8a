package main

import (
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// maxDiff is the fraction of pixels by which a replayed screen may differ
// from the live one (the acceptance: fewer than 0.5 %).
const maxDiff = 0.005

// TestNoVNC is the real-client acceptance test. A live session of
// noVNC (Debian's novnc, in headless Chromium) with Xvnc is recorded twice:
// through wsproxy --record-dir and through Debian's websockify --record.
// In each, a window with text opens on the screen and keys are typed, and
// the canvas is saved at the end. Then wsreplay --web serves the two
// recordings to new noVNC tabs: at the end of each replay the canvas must
// match the live one, from the beginning and with ?start= half way.
func TestNoVNC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Xvnc, Chromium, wsproxy and websockify")
	}
	vnctest.Require(t, "websockify", "websockify")
	vnctest.Require(t, "vncconfig", "tigervnc-tools")
	wsproxy := buildWSProxy(t)
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{})
	term := x.StartTerminal(t)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	dir := t.TempDir()

	// A live session through a recording proxy: a window with text opens
	// on the screen, keys are typed, a second window opens a moment later;
	// the server then ends the session.
	typed := ""
	live := func(name string, command func(addr string) *exec.Cmd, windows [2]image.Point, text string) *image.RGBA {
		t.Helper()
		addr := vnctest.StartServer(t, name, command, nil)
		v := b.OpenNoVNC(t, "http://"+addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
		v.WaitConnected(t, x.Width, x.Height)
		v.WaitPixel(t, x.Width-1, x.Height-1, vnctest.RootColor)
		for i, w := range windows {
			if i > 0 {
				time.Sleep(time.Second) // for timing to show in the replay
			}
			x.Start(t, "xterm", "-geometry", fmt.Sprintf("30x3+%d+%d", w.X, w.Y), "-e", "sh", "-c", fmt.Sprintf("echo recorded by %s, %d; exec sleep 600", name, i+1))
			v.Type(t, text)
			typed += text
			term.WaitTyped(t, typed)
			waitSettled(t, x, v, w)
		}
		canvas := v.Canvas(t)
		x.Run(t, "vncconfig", "-disconnect") // the target closes: the recording ends
		v.WaitDisconnected(t)
		return canvas
	}
	liveWSProxy := live("wsproxy", func(addr string) *exec.Cmd {
		return exec.Command(wsproxy, "--web", vnctest.NoVNCDir, "--record-dir", filepath.Join(dir, "wsproxy"), "--record-flush", "100ms", addr, x.RFBAddr)
	}, [2]image.Point{{360, 300}, {360, 380}}, "Replay me 42")
	if err := os.MkdirAll(filepath.Join(dir, "websockify"), 0o755); err != nil {
		t.Fatal(err)
	}
	liveWebsockify := live("websockify", func(addr string) *exec.Cmd {
		return exec.Command("websockify", "--web", vnctest.NoVNCDir, "--record", filepath.Join(dir, "websockify", "session"), addr, x.RFBAddr)
	}, [2]image.Point{{20, 300}, {20, 380}}, " and me 7")

	cmd := start(t, "--web", vnctest.NoVNCDir, "--end", "hold", "127.0.0.1:0", dir)
	recs := listRecordings(t, cmd.addr)
	names := make([]string, len(recs))
	for i, r := range recs {
		names[i] = r.Name
	}
	wsproxyName := slices.IndexFunc(recs, func(r recordingJSON) bool { return strings.HasPrefix(r.Name, "wsproxy/") })
	websockifyName := slices.IndexFunc(recs, func(r recordingJSON) bool { return strings.HasPrefix(r.Name, "websockify/session.") })
	if len(recs) != 2 || wsproxyName < 0 || websockifyName < 0 {
		t.Fatalf("got recordings %q, want one by wsproxy and one by websockify", names)
	}
	replays := 0
	for _, tc := range []struct {
		rec  recordingJSON
		live *image.RGBA
	}{
		{recs[wsproxyName], liveWSProxy},
		{recs[websockifyName], liveWebsockify},
	} {
		if tc.rec.Status != "sealed" && tc.rec.Status != "complete" {
			t.Errorf("%s: status %s (%s), want a whole recording", tc.rec.Name, tc.rec.Status, tc.rec.Error)
		}
		duration := time.Duration(tc.rec.Duration)
		for _, query := range []string{"", fmt.Sprintf("?start=%v", duration/2)} {
			t.Run(tc.rec.Format+query, func(t *testing.T) {
				began := time.Now()
				v := b.OpenNoVNC(t, "http://"+cmd.addr+"/vnc_lite.html", vnctest.NoVNCOptions{Path: tc.rec.Name + query})
				v.WaitConnected(t, x.Width, x.Height)
				// At the end of the replay, which holds the connection...
				replays++
				cmd.stderr.WaitForN(t, "replay over: holding the connection open", replays, duration+vnctest.Timeout)
				played := time.Since(began)
				// ...once noVNC has drawn what it got, the canvas is the
				// live one's.
				diff := waitSimilar(t, v, tc.live, 5*time.Second)
				t.Logf("%s%s: %v long, replayed in %v; %.3f %% of the pixels differ from the live canvas",
					tc.rec.Name, query, duration.Round(time.Millisecond), played.Round(time.Millisecond), 100*diff)
				if query == "" && played < duration {
					t.Errorf("replayed in %v, faster than the recording's %v", played, duration)
				}
			})
		}
	}
}

// waitSettled waits until the window at w is on the screen, and noVNC's
// canvas equals the screen twice in a row, 300 ms apart, and returns the
// canvas.
func waitSettled(t testing.TB, x *vnctest.Xvnc, v *vnctest.NoVNC, w image.Point) *image.RGBA {
	t.Helper()
	deadline := time.Now().Add(vnctest.Timeout)
	var last *image.RGBA
	for {
		shot, canvas := x.Screenshot(t), v.Canvas(t)
		same := canvas.Bounds() == shot.Bounds() && difference(canvas, shot) == 0 && shot.RGBAAt(w.X+2, w.Y+2) != vnctest.RootColor
		if same && last != nil && difference(canvas, last) == 0 {
			return canvas
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen did not settle with the window at %v within %v", w, vnctest.Timeout)
		}
		last = nil
		if same {
			last = canvas
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// recordingJSON is what the test reads of GET /recordings.
type recordingJSON struct {
	Name     string
	Format   string
	Duration int64 `json:"duration_ns"`
	Status   string
	Error    string
}

func listRecordings(t testing.TB, addr string) []recordingJSON {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/recordings")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Recordings []recordingJSON }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.Recordings
}

// waitSimilar waits up to timeout until noVNC's canvas differs from want in
// fewer than maxDiff of its pixels, and returns the fraction that differs.
func waitSimilar(t testing.TB, v *vnctest.NoVNC, want *image.RGBA, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := v.Canvas(t)
		diff := 1.0
		if got.Bounds() == want.Bounds() {
			diff = difference(got, want)
		}
		if diff < maxDiff {
			return diff
		}
		if time.Now().After(deadline) {
			t.Fatalf("%.2f %% of the pixels differ from the live canvas (canvas %v, live %v), want less than %.1f %%",
				100*diff, got.Bounds(), want.Bounds(), 100*maxDiff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// difference returns the fraction of the pixels of two images of the same
// size that differ.
func difference(a, b *image.RGBA) float64 {
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				n++
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy())
}

// buildWSProxy builds the wsproxy command for the test.
func buildWSProxy(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsproxy")
	out, err := exec.Command("go", "build", "-o", bin, "../wsproxy").CombinedOutput()
	if err != nil {
		t.Fatalf("go build wsproxy: %v\n%s", err, out)
	}
	return bin
}
