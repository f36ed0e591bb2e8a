package ui_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// firstPictureJS, run in the page before its own scripts, records in
// window.firstPicture the performance.now() (ms from the navigation's
// start) at which the canvas of #screen first shows every probe's colour.
const firstPictureJS = `((probes) => {
	const timer = setInterval(() => {
		const c = document.querySelector('#screen canvas');
		if (!c || !c.width) return;
		const ctx = c.getContext('2d');
		for (const p of probes) {
			const d = ctx.getImageData(p.x, p.y, 1, 1).data;
			if (d[0] !== p.rgb[0] || d[1] !== p.rgb[1] || d[2] !== p.rgb[2]) return;
		}
		window.firstPicture = performance.now();
		clearInterval(timer);
	}, 4);
})`

// maxFirstPicture bounds the time to the first picture of a one-hour
// recording opened at its middle: 5 s, three times that under the race
// detector, which slows the server's decoding 5 to 10 times (measured:
// 4.5 to 6.5 s with it on a loaded machine, 0.9 to 2.6 s without).
func maxFirstPicture() time.Duration {
	if raceEnabled {
		return 15 * time.Second
	}
	return 5 * time.Second
}

// TestBrowserFirstPicture measures the time from navigating to
// play.html?name=long.wsrec#t=30m, an hour-long recording at its middle,
// to the canvas showing the screen at 30 min, without a sidecar seek
// index (the replay builds the index on this first render replay, and
// the seek waits for it) and with one (wsrecord-inspect index).
func TestBrowserFirstPicture(t *testing.T) {
	for name, dir := range noVNCDirs() {
		t.Run(name, func(t *testing.T) {
			vnctest.Require(t, filepath.Join(dir, "core", "rfb.js"), "novnc")
			b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
			for _, sidecar := range []bool{false, true} {
				t.Run(map[bool]string{false: "NoSidecar", true: "Sidecar"}[sidecar], func(t *testing.T) {
					testFirstPicture(t, b, dir, sidecar)
				})
			}
		})
	}
}

func testFirstPicture(t *testing.T, b *vnctest.Browser, novnc string, sidecar bool) {
	recs := t.TempDir()
	path := writeLong(t, recs, longSession)
	if sidecar {
		if _, err := render.RefreshIndex(path, screen.IndexPath(path), screen.IndexOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	base := startWsreplay(t, recs, novnc) // a new Server: no index in memory
	// The screen at 30 min: the last 80 updates, one per cell, the last
	// at 30 min exactly (the next is at 30 min 2 s).
	last := int(30 * time.Minute / longSession.Interval)
	probes, err := json.Marshal(cellProbes(longSession, last-longSession.Cols*longSession.Rows+1, last))
	if err != nil {
		t.Fatal(err)
	}
	p := b.OpenPage(t, "about:blank")
	p.Do(t, "open the recording at 30 min",
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tgt, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: firstPictureJS + "(" + string(probes) + ")",
			})
			return err
		}),
		chromedp.Navigate(base+"/ui/play.html?name=long.wsrec#t=30m"))
	var ms float64
	vnctest.Poll(t, "the picture at 30 min", func() (bool, string) {
		s := vnctest.Eval[string](t, p, `String(window.firstPicture ?? "")`)
		ms, _ = strconv.ParseFloat(s, 64)
		return s != "", "not yet"
	})
	took := time.Duration(ms * float64(time.Millisecond))
	t.Logf("one-hour recording opened at 30 min (sidecar index %v): first picture %v after the navigation's start", sidecar, took.Round(time.Millisecond))
	if took > maxFirstPicture() {
		t.Errorf("first picture after %v, want under %v (race detector %v)", took, maxFirstPicture(), raceEnabled)
	}
	// The whole canvas is the snapshot's, once paused.
	p.Do(t, "space", chromedp.KeyEvent(" "))
	waitJS(t, p, "paused", `document.body.dataset.paused === "true"`)
	vnctest.Poll(t, "canvas matches the snapshot", func() (bool, string) {
		at, _ := strconv.ParseFloat(vnctest.Eval[string](t, p, `document.body.dataset.time || ""`), 64)
		tm := time.Duration(at * float64(time.Second))
		if tm < 30*time.Minute || tm > 30*time.Minute+10*time.Second {
			t.Fatalf("paused at %v, want just after 30 min; page %s; replays %s", tm,
				vnctest.Eval[string](t, p, `JSON.stringify(document.body.dataset)`),
				func() []byte { _, b := get(t, base+"/replays"); return b }())
		}
		n := differing(p.Canvas(t), screenAt(t, path, tm))
		return n == 0, strconv.Itoa(n) + " pixels differ"
	})
	if shots := os.Getenv("WSPROXY_SCREENSHOTS"); shots != "" {
		p.Screenshot(t, filepath.Join(shots, strings.ReplaceAll(t.Name(), "/", "-")+".png"))
	}
}
