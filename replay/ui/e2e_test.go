package ui_test

import (
	"context"
	"fmt"
	"image"

	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/internal/vnctest"
	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
	"github.com/wsproxy/wsproxy/replay/ui"
)

// noVNCDirs are the noVNC versions the player is proved with: Debian's
// 1.3 and npm's 1.7 ($NOVNC_NPM_DIR, or ~/.cache/wsproxy-novnc).
func noVNCDirs() map[string]string {
	npm := os.Getenv("NOVNC_NPM_DIR")
	if npm == "" {
		home, _ := os.UserHomeDir()
		npm = filepath.Join(home, ".cache", "wsproxy-novnc")
	}
	return map[string]string{
		"noVNC1.3": vnctest.NoVNCDir,
		"noVNC1.7": filepath.Join(npm, "node_modules", "@novnc", "novnc"),
	}
}

// lazy is the replay.Server's HTTP handler, set once the ui.Handler,
// which needs the Server, exists.
type lazy struct{ h atomic.Pointer[ui.Handler] }

func (l *lazy) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.Load().ServeHTTP(w, r) }

// startWsreplay serves the recordings of dir as wsreplay --ui does, and
// returns its base URL.
func startWsreplay(t *testing.T, dir, novnc string) string {
	t.Helper()
	l := new(lazy)
	srv, err := replay.NewServer([]string{dir}, replay.ServerOptions{Proxy: proxy.ServerOptions{Handler: l}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ui.New(srv, ui.Options{NoVNCDir: novnc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	l.h.Store(h)
	return "http://" + wstest.Start(t, srv, proxy.ErrServerClosed)
}

// screenAt is the screen of the recording at t, as wsrecord-inspect
// snapshot --at draws it (without the cursor: noVNC draws its own).
func screenAt(t *testing.T, path string, at time.Duration) *image.RGBA {
	t.Helper()
	f, err := recfile.Open(path, recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := render.NewPlayer(t.Context(), f, nil, screen.Options{}).At(at)
	if s == nil || s.Image() == nil {
		t.Fatalf("screen at %v: %v", at, err)
	}
	return s.Snapshot(false)
}

// differing reports how many pixels of a and b differ (-1 for other sizes).
func differing(a, b *image.RGBA) int {
	if a.Rect.Size() != b.Rect.Size() {
		return -1
	}
	n := 0
	for y := range a.Rect.Dy() {
		for x := range a.Rect.Dx() {
			p, q := a.RGBAAt(a.Rect.Min.X+x, a.Rect.Min.Y+y), b.RGBAAt(b.Rect.Min.X+x, b.Rect.Min.Y+y)
			if p.R != q.R || p.G != q.G || p.B != q.B {
				n++
			}
		}
	}
	return n
}

func TestBrowserE2E(t *testing.T) {
	for name, dir := range noVNCDirs() {
		t.Run(name, func(t *testing.T) {
			vnctest.Require(t, filepath.Join(dir, "core", "rfb.js"), "novnc")
			testBrowser(t, dir)
		})
	}
}

func testBrowser(t *testing.T, novnc string) {
	start := time.Now()
	recs := fixtures(t)
	base := startWsreplay(t, recs, novnc)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	shots := os.Getenv("WSPROXY_SCREENSHOTS") // a directory to keep them in
	shot := func(p *vnctest.NoVNC, name string) {
		if shots != "" {
			p.Screenshot(t, filepath.Join(shots, filepath.Base(t.Name())+"-"+name+".png"))
		}
	}
	waitJS := func(p *vnctest.NoVNC, what, js string) {
		t.Helper()
		vnctest.Poll(t, what, func() (bool, string) {
			v := vnctest.Eval[string](t, p, `(() => { try { return String(`+js+`); } catch (e) { return "error " + e; } })()`)
			return v == "true", v
		})
	}
	rows := func(p *vnctest.NoVNC) []string {
		return vnctest.Eval[[]string](t, p, `Array.from(document.querySelectorAll('#recordings tbody tr'), r => r.dataset.name + '|' + r.cells[2].textContent + '|' + r.cells[8].textContent)`)
	}

	// The browser page: every recording, newest first, with durations and
	// integrity badges.
	list := b.OpenPage(t, base+"/ui/")
	waitJS(list, "the list", `document.body.dataset.loaded >= 1`)
	want := []string{"sealed-signed.wsrec|0:00|signed", "tampered-chunk1.wsrec|0:00|tampered", "unsealed-killed.wsrec|0:00|unsealed",
		"sub/carol.wsrec|1:00|sealed", "bob.wsrec|1:00|sealed", "alice.wsrec|1:00|sealed"}
	if got := rows(list); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("list: got %q, want %q", got, want)
	}
	// The thumbnails (lazy images) load, 120 pixels wide for the VNC
	// sessions (the integrity fixtures have no screen: no thumbnail).
	waitJS(list, "the thumbnails", `Array.from(document.querySelectorAll('#recordings tbody tr')).every(r =>
		r.querySelector('img').complete && (!r.dataset.name.match(/alice|bob|carol/) || r.querySelector('img').naturalWidth === 120))`)
	shot(list, "list")
	// Filters: by user, then by typed text.
	for _, f := range []struct{ input, value, want string }{
		{"#f-user", "bob", "bob.wsrec"},
		{"#f-q", "ls -l", "sub/carol.wsrec"},
	} {
		loaded := vnctest.Eval[string](t, list, `document.body.dataset.loaded`)
		list.Do(t, "filter "+f.input, chromedp.Click(`#f-clear`), chromedp.SendKeys(f.input, f.value), chromedp.Click(`#f-apply`))
		waitJS(list, "filtered list", `document.body.dataset.loaded > `+loaded+` + 1 && document.querySelectorAll('#recordings tbody tr').length === 1`)
		if got := rows(list); len(got) != 1 || got[0][:len(f.want)] != f.want {
			t.Errorf("filter %s=%s: got %q, want %s", f.input, f.value, got, f.want)
		}
		shot(list, "filter-"+f.input[3:])
	}
	// Open the filtered recording from the list, with a deep link.
	var href string
	list.Do(t, "read the link", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		var err error
		href, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#recordings tbody tr a').href`))
		return err
	}))
	p := b.OpenPage(t, href+"#t=15s")
	waitJS(p, "the replay to connect", `document.body.dataset.connected === "true"`)
	path := filepath.Join(recs, "sub", "carol.wsrec")
	// Pause with the keyboard shortcut: space.
	p.Do(t, "space", chromedp.KeyEvent(" "))
	waitJS(p, "paused", `document.body.dataset.paused === "true"`)
	checkAt := func(what string, from, to time.Duration) {
		t.Helper()
		var at float64
		vnctest.Poll(t, what+": canvas matches the snapshot", func() (bool, string) {
			at, _ = strconv.ParseFloat(vnctest.Eval[string](t, p, `document.body.dataset.time || ""`), 64)
			tm := time.Duration(at * float64(time.Second))
			if tm < from || tm > to {
				return false, fmt.Sprintf("player time %v, want %v to %v", tm, from, to)
			}
			n := differing(p.Canvas(t), screenAt(t, path, tm))
			return n == 0, fmt.Sprintf("%d pixels differ at %v", n, tm)
		})
	}
	checkAt("deep link #t=15s", 15*time.Second, 17*time.Second)
	shot(p, "player-deeplink")

	// Seek by clicking the timeline at three points.
	rect := vnctest.Eval[[]float64](t, p, `(() => { const r = document.getElementById('timeline').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	for _, frac := range []float64{0.55, 0.1, 0.85} {
		x, y := rect[0]+frac*rect[2], rect[1]+rect[3]/2
		p.Do(t, "click the timeline", chromedp.MouseClickXY(x, y))
		tm := time.Duration(frac * float64(fixDuration))
		checkAt(fmt.Sprintf("timeline at %.0f%%", frac*100), tm-time.Second, tm+time.Second)
	}
	// Drag on the timeline: press at 20%, release at 45%.
	p.Do(t, "drag the timeline",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, rect[0]+0.2*rect[2], rect[1]+5, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, rect[0]+0.3*rect[2], rect[1]+5, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, rect[0]+0.45*rect[2], rect[1]+5, chromedp.ButtonLeft))
	checkAt("timeline drag to 45%", 26*time.Second, 28*time.Second)
	shot(p, "player-timeline")

	// Seek by clicking the typed line (25 s): it becomes the current one.
	p.Do(t, "click the typed line", chromedp.Click(`#events li.typed`))
	checkAt("typed line", 25*time.Second, 25500*time.Millisecond)
	waitJS(p, "the typed line highlighted", `document.querySelector('#events li.current')?.textContent.endsWith('ls -l')`)
	// Keyboard: ArrowRight skips 5 s, ] doubles the speed.
	p.Do(t, "ArrowRight", chromedp.KeyEvent(kb.ArrowRight))
	checkAt("ArrowRight", 30*time.Second, 30500*time.Millisecond)
	p.Do(t, "]", chromedp.KeyEvent("]"))
	waitJS(p, "speed 2", `document.body.dataset.speed === "2"`)
	// Hovering the timeline previews the picture there.
	p.Do(t, "hover", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, rect[0]+0.05*rect[2], rect[1]+5))
	waitJS(p, "the preview", `(() => { const i = document.getElementById('preview'); return !document.getElementById('hover').hidden && i.complete && i.naturalWidth === 160; })()`)
	shot(p, "player-hover")
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("took %v, want under 60 s", d)
	}

}
