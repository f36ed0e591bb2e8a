package ui_test

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	. "github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// probe is a pixel of the canvas and the colour it must show.
type probe struct {
	N   int    `json:"n"` // the update that paints it
	X   int    `json:"x"`
	Y   int    `json:"y"`
	RGB [3]int `json:"rgb"`
}

// cellProbes returns the centres of the cells that the updates first to
// last of s paint, each with the update's colour. s must give its sizes.
func cellProbes(s LongSession, first, last int) []probe {
	var ps []probe
	w, h := s.Width/s.Cols, s.Height/s.Rows
	for n := first; n <= last; n++ {
		i := (n - 1) % (s.Cols * s.Rows)
		c := CellColour(n)
		ps = append(ps, probe{N: n, X: i%s.Cols*w + w/2, Y: i/s.Cols*h + h/2, RGB: [3]int{int(c.R), int(c.G), int(c.B)}})
	}
	return ps
}

// watchJS is a script that polls the canvas of #screen every 4 ms and
// records in window.seen[n] the performance.now() at which the probe of
// update n first shows its colour, and in window.seenAt[n] the player's
// time display (body's data-time) then.
const watchJS = `(probes) => {
	window.seen = {}; window.seenAt = {};
	const timer = setInterval(() => {
		const c = document.querySelector('#screen canvas');
		if (!c || !c.width) return;
		const ctx = c.getContext('2d');
		const now = performance.now();
		for (const p of probes) {
			if (window.seen[p.n] !== undefined) continue;
			const d = ctx.getImageData(p.x, p.y, 1, 1).data;
			if (d[0] === p.rgb[0] && d[1] === p.rgb[1] && d[2] === p.rgb[2]) {
				window.seen[p.n] = now;
				window.seenAt[p.n] = Number(document.body.dataset.time || "NaN");
			}
		}
	}, 4);
}`

// speedSession changes one cell a second for a minute: update n paints
// cell n at n s.
var speedSession = LongSession{Width: 320, Height: 240, Cols: 10, Rows: 8, Duration: time.Minute, Interval: time.Second}

// TestBrowserSpeed proves that at 4×, set with the page's ] shortcut, a
// 20 s stretch of session plays in 5 s (±10 %) as the viewer sees it: the
// wall time between the canvas showing the update at n s and the one at
// n+20 s.
func TestBrowserSpeed(t *testing.T) {
	for name, dir := range noVNCDirs() {
		t.Run(name, func(t *testing.T) {
			vnctest.Require(t, filepath.Join(dir, "core", "rfb.js"), "novnc")
			testSpeed(t, dir)
		})
	}
}

func testSpeed(t *testing.T, novnc string) {
	recs := t.TempDir()
	speedSession.Write(t, filepath.Join(recs, "speed.wsrec"))
	base := startWsreplay(t, recs, novnc)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	p := b.OpenPage(t, base+"/ui/play.html?name=speed.wsrec")
	waitJS(t, p, "the replay to connect", `document.body.dataset.connected === "true"`)
	// Pause, then 1× -> 2× -> 4× with the ] shortcut.
	p.Do(t, "space", chromedp.KeyEvent(" "))
	waitJS(t, p, "paused", `document.body.dataset.paused === "true"`)
	p.Do(t, "]", chromedp.KeyEvent("]"))
	waitJS(t, p, "speed 2", `document.body.dataset.speed === "2"`)
	p.Do(t, "]", chromedp.KeyEvent("]"))
	waitJS(t, p, "speed 4", `document.body.dataset.speed === "4" && document.getElementById('speed').value === "4"`)
	probes, err := json.Marshal(cellProbes(speedSession, 1, 59))
	if err != nil {
		t.Fatal(err)
	}
	vnctest.Eval[chromedp.Void](t, p, `(`+watchJS+`)(`+string(probes)+`)`)
	paused := vnctest.Eval[float64](t, p, `Number(document.body.dataset.time)`)
	resumed := vnctest.Eval[float64](t, p, `performance.now()`)
	p.Do(t, "space", chromedp.KeyEvent(" "))
	// The stretch: from the first update played 1 s (of session) after
	// the resume, so that the start is not a frame drawn before it, to
	// the one 20 s later.
	from := int(math.Ceil(paused)) + 1
	to := from + 20
	var seen map[string]float64
	vnctest.Poll(t, fmt.Sprintf("the canvas to show the updates at %d s and %d s", from, to), func() (bool, string) {
		seen = vnctest.Eval[map[string]float64](t, p, `window.seen`)
		_, ok := seen[fmt.Sprint(to)]
		return ok, fmt.Sprintf("%d updates seen", len(seen))
	})
	a, ok := seen[fmt.Sprint(from)]
	if !ok || a < resumed {
		t.Fatalf("update at %d s seen at %v ms, before the resume at %v ms", from, a, resumed)
	}
	wall := time.Duration((seen[fmt.Sprint(to)] - a) * float64(time.Millisecond))
	shown := vnctest.Eval[map[string]float64](t, p, `window.seenAt`)
	t.Logf("at 4×, session %d s to %d s showed on the canvas in %v of wall time (want 5 s ±10 %%); the page's clock read %.3f s and %.3f s then",
		from, to, wall.Round(time.Millisecond), shown[fmt.Sprint(from)], shown[fmt.Sprint(to)])
	if wall < 4500*time.Millisecond || wall > 5500*time.Millisecond {
		t.Errorf("20 s of session at 4× took %v on the canvas, want 5 s ±10 %%", wall)
	}
	// Every update in between showed, in order.
	prev := a
	for n := from + 1; n <= to; n++ {
		at, ok := seen[fmt.Sprint(n)]
		if !ok || at < prev {
			t.Errorf("update at %d s: seen %v at %v ms, after %v ms", n, ok, at, prev)
		}
		prev = at
	}
}

// waitJS polls the JavaScript expression js in p until it is true.
func waitJS(t *testing.T, p *vnctest.NoVNC, what, js string) {
	t.Helper()
	vnctest.Poll(t, what, func() (bool, string) {
		v := vnctest.Eval[string](t, p, `(() => { try { return String(`+js+`); } catch (e) { return "error " + e; } })()`)
		return v == "true", v
	})
}
