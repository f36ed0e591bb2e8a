package vnctest

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// OpenPage opens, in a new tab, pageURL, a page of the program under test
// that shows a noVNC RFB object in its element #screen (such as wsreplay's
// player), and waits until it has loaded. The NoVNC methods that read the
// canvas work on it; Status and the waits on vnc_lite.html's status line
// do not.
func (b *Browser) OpenPage(t testing.TB, pageURL string) *NoVNC {
	t.Helper()
	v := &NoVNC{URL: pageURL}
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	v.ctx = ctx
	if err := chromedp.Listen(ctx, b.log.listen(v.URL)); err != nil {
		t.Fatalf("page: %v", err)
	}
	v.do(t, "open "+v.URL, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(v.URL))
	return v
}

// Do runs chromedp actions in the tab, up to Timeout, and fails the test
// with what if they fail.
func (v *NoVNC) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	v.do(t, what, actions...)
}

// Eval evaluates the JavaScript expression js in the tab of v, up to
// Timeout, and returns its value.
func Eval[T any](t testing.TB, v *NoVNC, js string) T {
	t.Helper()
	return eval[T](t, v, js)
}

// Poll calls check every 50 ms until it reports done, and fails the test
// after Timeout with what and the last state that check described.
func Poll(t testing.TB, what string, check func() (done bool, state string)) {
	t.Helper()
	poll(t, what, check)
}

// Screenshot saves a PNG of the whole tab to path, for a person to look
// at.
func (v *NoVNC) Screenshot(t testing.TB, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(v.ctx, Timeout)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Listen calls fn with each DevTools event of the tab (network, page,
// runtime...) from now until the tab closes. fn follows chromedp.Listen's
// rules: it must not block nor run commands.
func (v *NoVNC) Listen(t testing.TB, fn func(ev any)) {
	t.Helper()
	if err := chromedp.Listen(v.ctx, fn); err != nil {
		t.Fatalf("listen: %v", err)
	}
}
