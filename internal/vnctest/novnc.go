package vnctest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// NoVNCDir is where Debian's novnc package installs noVNC's web client.
const NoVNCDir = "/usr/share/novnc"

// canvasJS finds the canvas of noVNC's framebuffer in vnc_lite.html: the
// RFB object puts it in the element #screen; the cursor's canvas is elsewhere.
const canvasJS = `document.querySelector('#screen canvas')`

// NoVNCOptions are the query parameters of vnc_lite.html, which says where
// the WebSocket is. noVNC 1.3 (Debian 12) reads host, port, path, password,
// view_only and scale, and always connects; it uses wss when the page came
// over https, and ws otherwise.
type NoVNCOptions struct {
	// Host and Port are those of the WebSocket. Empty means the page's.
	Host, Port string
	// Path is the WebSocket's path, without the leading slash. Empty means
	// noVNC's default, "websockify".
	Path string
	// Password answers the VNC authentication. Empty means none: a server
	// that asks for a password then fails the connection, since the page's
	// prompt for one is answered with nothing.
	Password string
}

// NoVNC is a tab of a Browser that shows noVNC's vnc_lite.html. It is closed
// in t.Cleanup. Its methods must be called from the test's goroutine.
type NoVNC struct {
	// URL is the page's address with its query.
	URL string
	ctx context.Context
}

// ServeNoVNC serves noVNC's files from NoVNCDir on a free port of
// 127.0.0.1, over https with cert if it is not nil, and returns the base
// URL, "http://127.0.0.1:PORT" or "https://...". It is for proxies that do
// not serve the files themselves. The server is closed in t.Cleanup.
func ServeNoVNC(t testing.TB, cert *Cert) string {
	t.Helper()
	Require(t, NoVNCDir+"/vnc_lite.html", "novnc")
	srv := httptest.NewUnstartedServer(http.FileServer(http.Dir(NoVNCDir)))
	if cert != nil {
		srv.TLS = cert.ServerConfig()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.URL
}

// OpenNoVNC opens, in a new tab, pageURL, the address of a vnc_lite.html
// such as "http://127.0.0.1:6080/vnc_lite.html", with the query of opts. It
// waits until the page has loaded, not until it has connected: see
// WaitConnected. It skips the test (fails it when CI is set) if NoVNCDir is
// missing, as a sign that the proxy under test has no noVNC to serve either.
func (b *Browser) OpenNoVNC(t testing.TB, pageURL string, opts NoVNCOptions) *NoVNC {
	t.Helper()
	Require(t, NoVNCDir+"/vnc_lite.html", "novnc")
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatalf("noVNC page: %v", err)
	}
	q := u.Query()
	for k, v := range map[string]string{"host": opts.Host, "port": opts.Port, "path": opts.Path, "password": opts.Password} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	v := &NoVNC{URL: u.String()}
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	v.ctx = ctx
	if err := chromedp.Listen(ctx, b.log.listen(v.URL)); err != nil {
		t.Fatalf("noVNC page: %v", err)
	}
	v.do(t, "open "+v.URL,
		// vnc_lite.html asks for a missing password with prompt(), which
		// would block the page until someone answers.
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tgt, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.prompt = (m) => { console.warn('vnctest: prompt answered with nothing: ' + m); return null; };`,
			})
			return err
		}),
		chromedp.Navigate(v.URL))
	return v
}

// do runs the actions in the tab, up to Timeout, and fails the test with
// what if they fail.
func (v *NoVNC) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("noVNC: %s: %v", what, err)
	}
}

// eval evaluates the JavaScript expression js in the tab, up to Timeout, and
// returns its value.
func eval[T any](t testing.TB, v *NoVNC, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, Timeout)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("noVNC: evaluate %s: %v", js, err)
	}
	return r
}

// poll calls check every 50 ms until it reports done, and fails the test
// after Timeout with what and the last state that check described.
func poll(t testing.TB, what string, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("noVNC: %s: not within %v; last %s", what, Timeout, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Status returns the page's status line, such as "Connecting", "Connected to
// vnctest" or "Something went wrong, connection is closed".
func (v *NoVNC) Status(t testing.TB) string {
	t.Helper()
	return eval[string](t, v, `document.getElementById('status').textContent`)
}

// canvasState is what the tab shows: its status and the framebuffer's size.
type canvasState struct {
	Status        string
	Width, Height int
}

func (s canvasState) String() string {
	return fmt.Sprintf("status %q, canvas %dx%d", s.Status, s.Width, s.Height)
}

// WaitConnected waits until noVNC says it is connected and its canvas has
// the size width x height. It fails the test at once when noVNC says that
// the connection ended.
func (v *NoVNC) WaitConnected(t testing.TB, width, height int) {
	t.Helper()
	poll(t, "connect", func() (bool, string) {
		s := eval[canvasState](t, v, `(() => {
			const c = `+canvasJS+`;
			return {Status: document.getElementById('status').textContent,
				Width: c ? c.width : 0, Height: c ? c.height : 0};
		})()`)
		if ended(s.Status) {
			t.Fatalf("noVNC: connect: %s", s)
		}
		return strings.HasPrefix(s.Status, "Connected") && s.Width == width && s.Height == height, s.String()
	})
}

// WaitDisconnected waits until noVNC says that the connection ended, cleanly
// or not, and returns the status line.
func (v *NoVNC) WaitDisconnected(t testing.TB) string {
	t.Helper()
	var status string
	poll(t, "disconnect", func() (bool, string) {
		status = v.Status(t)
		return ended(status), fmt.Sprintf("status %q", status)
	})
	return status
}

// ended reports whether the status line of vnc_lite.html says that the
// connection ended: "Disconnected" after a clean close, "Something went
// wrong, connection is closed" otherwise.
func ended(status string) bool {
	return strings.HasPrefix(status, "Disconnected") || strings.HasPrefix(status, "Something went wrong")
}

// Pixel returns the colour of the pixel at x, y of noVNC's canvas, read with
// getImageData.
func (v *NoVNC) Pixel(t testing.TB, x, y int) color.RGBA {
	t.Helper()
	if x < 0 || y < 0 {
		t.Fatalf("noVNC: pixel %d,%d: outside the canvas", x, y)
	}
	rgba := eval[[]int](t, v, fmt.Sprintf(`(() => {
		const c = `+canvasJS+`;
		if (!c || %d >= c.width || %d >= c.height) return [];
		return Array.from(c.getContext('2d').getImageData(%d, %d, 1, 1).data);
	})()`, x, y, x, y))
	if len(rgba) != 4 {
		t.Fatalf("noVNC: pixel %d,%d: outside the canvas", x, y)
	}
	return color.RGBA{R: uint8(rgba[0]), G: uint8(rgba[1]), B: uint8(rgba[2]), A: uint8(rgba[3])}
}

// WaitPixel waits until the pixel at x, y of noVNC's canvas has the colour
// want.
func (v *NoVNC) WaitPixel(t testing.TB, x, y int, want color.RGBA) {
	t.Helper()
	poll(t, fmt.Sprintf("pixel %d,%d to be %v", x, y, want), func() (bool, string) {
		got := v.Pixel(t, x, y)
		return got == want, fmt.Sprintf("colour %v", got)
	})
}

// Canvas returns a copy of noVNC's canvas, read as a PNG with toDataURL.
func (v *NoVNC) Canvas(t testing.TB) *image.RGBA {
	t.Helper()
	uri := eval[string](t, v, canvasJS+`.toDataURL('image/png')`)
	b64, ok := strings.CutPrefix(uri, "data:image/png;base64,")
	if !ok {
		t.Fatalf("noVNC: canvas: got a data URL %.40q..., want a PNG", uri)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("noVNC: canvas: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("noVNC: canvas: %v", err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	return rgba
}

// WaitCanvas waits until noVNC's canvas equals want, pixel for pixel, such
// as the Screenshot of the Xvnc behind it. It fails the test with how many
// pixels differ and where the first is.
//
// The canvas can show a mouse pointer that the screenshot lacks: TigerVNC
// draws the pointer into the framebuffer while the client has not moved it,
// and noVNC only moves it on mouse events. The pointer stays in the middle of
// the screen, where it is invisible over the root window; keep the windows
// of X clients away from there, or compare regions.
func (v *NoVNC) WaitCanvas(t testing.TB, want *image.RGBA) {
	t.Helper()
	poll(t, "canvas to equal the image", func() (bool, string) {
		got := v.Canvas(t)
		if got.Bounds() != want.Bounds() {
			return false, fmt.Sprintf("canvas %v, want %v", got.Bounds(), want.Bounds())
		}
		n, first := 0, image.Point{}
		for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
			for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
				if got.RGBAAt(x, y) != want.RGBAAt(x, y) {
					if n == 0 {
						first = image.Pt(x, y)
					}
					n++
				}
			}
		}
		return n == 0, fmt.Sprintf("%d pixels differ, the first at %v: got %v, want %v",
			n, first, got.RGBAAt(first.X, first.Y), want.RGBAAt(first.X, first.Y))
	})
}

// Type focuses noVNC's canvas, where noVNC listens for keys, and types text
// with a key-down and a key-up event for each character, as a keyboard would.
// noVNC sends them to the server as RFB KeyEvents (RFC 6143, section 7.5.4).
func (v *NoVNC) Type(t testing.TB, text string) {
	t.Helper()
	if !eval[bool](t, v, `(() => {
		const c = `+canvasJS+`;
		if (!c) return false;
		c.focus();
		return document.activeElement === c;
	})()`) {
		t.Fatal("noVNC: type: cannot focus the canvas")
	}
	v.do(t, fmt.Sprintf("type %q", text), chromedp.KeyEvent(text))
}
