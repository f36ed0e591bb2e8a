package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// statusJS is the HTTP status of the page's own response, as Chromium
// received it.
const statusJS = `performance.getEntriesByType('navigation')[0].responseStatus`

// xhrJS returns the status of a GET of path from the page, sent as the
// page sends its own requests (with what the browser holds for the origin).
func xhrJS(path string) string {
	return `(() => { const x = new XMLHttpRequest(); x.open('GET', '` + path + `', false); x.send(); return x.status; })()`
}

// TestUIAuthChromium: with --ui --auth-plugin BasicHTTPAuth, Chromium
// gets 401 for the pages without credentials or with wrong ones; with the
// right ones (in the URL, as a user typing them in the browser's prompt
// gives them, or as an Authorization header), the list loads, and the
// player's noVNC (Debian's 1.3, npm's 1.7) and control WebSockets, to the
// same origin, are accepted with them: the canvas shows the recording.
func TestUIAuthChromium(t *testing.T) {
	sess := rfbtest.LongSession{Duration: 2 * time.Minute}
	recs := t.TempDir()
	sess.Write(t, filepath.Join(recs, "long.wsrec"))
	for _, novnc := range []struct{ name, dir string }{
		{"noVNC-1.3", vnctest.NoVNCDir},
		{"noVNC-1.7", vnctest.NoVNCNpmDir()},
	} {
		t.Run(novnc.name, func(t *testing.T) {
			vnctest.Require(t, filepath.Join(novnc.dir, "core", "rfb.js"), "novnc")
			// A wsreplay for each subtest, whose log shows its browser's
			// sessions alone.
			serve := func(t *testing.T) (*command, string) {
				cmd := start(t, "--ui", "--novnc-dir", novnc.dir, "--auth-plugin", "BasicHTTPAuth", "--auth-source", "alice:s3cret", "127.0.0.1:0", recs)
				return cmd, "http://" + cmd.addr
			}
			t.Run("Prompt", func(t *testing.T) {
				cmd, base := serve(t)
				b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
				p := b.OpenPage(t, "about:blank")
				p.Do(t, "log in as at the browser's prompt", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
					return logIn(t, ctx, tgt, base+"/ui/")
				}))
				checkList(t, p)
				shot(t, p, "list")
				// Another tab: the browser sends the credentials it holds
				// for the origin, on the pages, the JSON and the WebSockets.
				player := b.OpenPage(t, base+"/ui/play.html?name=long.wsrec#t=61s")
				checkPlayer(t, player, sess, cmd)
				shot(t, player, "player")
			})
			t.Run("HeaderCredentials", func(t *testing.T) {
				cmd, base := serve(t)
				b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
				p := b.OpenPage(t, "about:blank")
				p.Do(t, "set the Authorization header", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
					if _, err := cdp.Call(ctx, tgt, network.Enable, network.EnableParams{}); err != nil {
						return err
					}
					_, err := cdp.Call(ctx, tgt, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
						Headers: network.Headers{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))},
					})
					return err
				}))
				p.Do(t, "open the list", chromedp.Navigate(base+"/ui/"))
				checkList(t, p)
				p.Do(t, "open the player", chromedp.Navigate(base+"/ui/play.html?name=long.wsrec#t=61s"))
				checkPlayer(t, p, sess, cmd)
			})
		})
	}
}

// shot saves a screenshot of p as NAME.png in $WSPROXY_SCREENSHOTS, if set,
// for a person to look at.
func shot(t *testing.T, p *vnctest.NoVNC, name string) {
	t.Helper()
	if dir := os.Getenv("WSPROXY_SCREENSHOTS"); dir != "" {
		p.Screenshot(t, filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-")+"-"+name+".png"))
	}
}

// answer is how logIn answers the browser's authentication prompts.
type answer int

const (
	cancel  answer = iota // as a user who closes the prompt
	wrong                 // alice with a wrong password
	provide               // alice's password
)

// logIn opens page in the tab of ctx and tgt three times, answering the
// browser's prompt for credentials as a user would (through the DevTools
// protocol's Fetch domain, which headless Chromium asks instead of a
// dialog): cancelled, then wrong, then right. It checks that the page
// challenges for Basic credentials, that it answers 401 until the right
// ones are given, and returns with the page loaded with them; the browser
// then holds them for the origin.
func logIn(t *testing.T, ctx context.Context, tgt *chromedp.Target, page string) error {
	var mode atomic.Int32
	var challenges atomic.Int32
	events := make(chan any, 100)
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev.(type) {
		case *fetch.EventRequestPaused, *fetch.EventAuthRequired:
			events <- ev
		}
	}); err != nil {
		return err
	}
	go func() {
		for {
			var ev any
			select {
			case ev = <-events:
			case <-ctx.Done():
				return
			}
			switch ev := ev.(type) {
			case *fetch.EventRequestPaused:
				cdp.Call(ctx, tgt, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			case *fetch.EventAuthRequired:
				challenges.Add(1)
				c := ev.AuthChallenge
				if c == nil || c.Source != fetch.AuthChallengeSourceServer || c.Scheme != "basic" || c.Realm != "Websockify" {
					t.Errorf("%s: got challenge %+v, want the server's basic one", ev.Request.URL, c)
				}
				r := &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}
				switch answer(mode.Load()) {
				case wrong:
					r = &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: "alice", Password: "guess"}
					mode.Store(int32(cancel)) // the prompt comes again: close it
				case provide:
					r = &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: "alice", Password: "s3cret"}
				}
				cdp.Call(ctx, tgt, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID, AuthChallengeResponse: r})
			}
		}
	}()
	handle := true
	if _, err := cdp.Call(ctx, tgt, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handle}); err != nil {
		return err
	}
	for _, a := range []answer{cancel, wrong, provide} {
		mode.Store(int32(a))
		before := challenges.Load()
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			return fmt.Errorf("answer %d: %w", a, err)
		}
		status, err := chromedp.Run(ctx, chromedp.Evaluate[float64](statusJS))
		if err != nil {
			return err
		}
		want := map[answer]float64{cancel: 401, wrong: 401, provide: 200}[a]
		wantChallenges := map[answer]int32{cancel: 1, wrong: 2, provide: 1}[a]
		if got := challenges.Load() - before; status != want || got != wantChallenges {
			t.Errorf("answer %d: got status %v after %d challenges, want %v after %d", a, status, got, want, wantChallenges)
		}
		if a != provide {
			body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.textContent`))
			if err != nil {
				return err
			}
			if !strings.Contains(body, "authentication required") {
				t.Errorf("answer %d: got page %q, want the refusal", a, body)
			}
		}
	}
	_, err := cdp.Call(ctx, tgt, fetch.Disable, cdp.Empty{})
	return err
}

// checkList checks that the page is the recordings list, served with 200,
// and that it loaded the list from its JSON.
func checkList(t *testing.T, p *vnctest.NoVNC) {
	t.Helper()
	if status := vnctest.Eval[float64](t, p, statusJS); status != 200 {
		t.Errorf("list: got status %v, want 200", status)
	}
	vnctest.Poll(t, "the list", func() (bool, string) {
		names := vnctest.Eval[[]string](t, p, `Array.from(document.querySelectorAll('#recordings tbody tr'), r => r.dataset.name)`)
		return len(names) == 1 && names[0] == "long.wsrec", fmt.Sprintf("rows %q", names)
	})
	for _, path := range []string{"/ui/api/recordings", "/recordings", "/replays"} {
		if status := vnctest.Eval[float64](t, p, xhrJS(path)); status != 200 {
			t.Errorf("GET %s from the page: got %v, want 200", path, status)
		}
	}
}

// checkPlayer checks that the player connects to the replay with the
// credentials the browser holds: paused, its canvas shows the screen of
// the recording at the player's time, and wsreplay logged both
// WebSockets as alice's.
func checkPlayer(t *testing.T, p *vnctest.NoVNC, sess rfbtest.LongSession, cmd *command) {
	t.Helper()
	vnctest.Poll(t, "the player to connect", func() (bool, string) {
		v := vnctest.Eval[string](t, p, `String(document.body.dataset.connected)`)
		return v == "true", "connected=" + v
	})
	p.Do(t, "pause", chromedp.KeyEvent(" "))
	vnctest.Poll(t, "the canvas to show the recording", func() (bool, string) {
		if vnctest.Eval[string](t, p, `String(document.body.dataset.paused)`) != "true" {
			return false, "not paused"
		}
		at, _ := strconv.ParseFloat(vnctest.Eval[string](t, p, `document.body.dataset.time || ""`), 64)
		tm := time.Duration(at * float64(time.Second))
		if tm < 60*time.Second {
			return false, fmt.Sprintf("player time %v, want the deep link's 61 s or later", tm)
		}
		got, want := p.Canvas(t), sess.Screen(tm)
		if got.Rect.Size() != want.Rect.Size() {
			return false, fmt.Sprintf("canvas %v, want %v", got.Rect.Size(), want.Rect.Size())
		}
		d := difference(got, want)
		return d == 0, fmt.Sprintf("%.1f%% of the pixels differ at %v", 100*d, tm)
	})
	cmd.stderr.Wait(t, regexp.MustCompile(`msg="session open" session=\S+ client=\S+ target="control \S+" path=/replays/\S+/control tls=false subprotocol=binary user=alice`))
	cmd.stderr.Wait(t, regexp.MustCompile(`msg="session open" session=\S+ client=\S+ target=long.wsrec path=/\S* tls=false subprotocol=binary user=alice`))
}
