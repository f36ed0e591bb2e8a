package ui_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// transfers sums what a tab fetched over the network, from Chromium's
// network events: the bytes on the wire (encodedDataLength: headers and
// body as sent, compressed where it was) of each finished request, by
// part. It is safe for concurrent use.
type transfers struct {
	mu      sync.Mutex
	urls    map[network.RequestID]string
	pending int
	last    time.Time
	bytes   map[string]float64
	reqs    map[string]int
	status  map[string]string // URL -> status and content-encoding, for the log
}

func newTransfers() *transfers {
	return &transfers{urls: make(map[network.RequestID]string), bytes: make(map[string]float64),
		reqs: make(map[string]int), status: make(map[string]string)}
}

// part names what a URL of the pages is.
func part(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "other"
	}
	switch {
	case strings.HasPrefix(p.Path, "/ui/novnc/"):
		return "noVNC"
	case strings.HasPrefix(p.Path, "/ui/api/thumb"):
		return "thumbnails"
	case strings.HasPrefix(p.Path, "/ui/api/"):
		return "JSON"
	case strings.HasPrefix(p.Path, "/ui/"):
		return "own"
	}
	return "other"
}

func (tr *transfers) listen(ev any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeWebSocket || strings.HasPrefix(ev.Request.URL, "ws") || strings.HasPrefix(ev.Request.URL, "data:") {
			return
		}
		// The player polls its replay's state every 500 ms for as long
		// as it is open: not the page's weight, and never quiet for the
		// 500 ms quiet waits for but by a timer's lateness.
		if u, err := url.Parse(ev.Request.URL); err == nil && strings.HasPrefix(u.Path, "/replays/") {
			return
		}
		if _, ok := tr.urls[ev.RequestID]; !ok {
			tr.pending++
		}
		tr.urls[ev.RequestID] = ev.Request.URL
		tr.last = time.Now()
	case *network.EventResponseReceived:
		if u, ok := tr.urls[ev.RequestID]; ok {
			tr.status[u] = fmt.Sprintf("%d %v", ev.Response.Status, ev.Response.Headers["Content-Encoding"])
		}
	case *network.EventLoadingFinished:
		if u, ok := tr.urls[ev.RequestID]; ok {
			tr.bytes[part(u)] += ev.EncodedDataLength
			tr.reqs[part(u)]++
			tr.pending--
			delete(tr.urls, ev.RequestID)
			tr.last = time.Now()
		}
	case *network.EventLoadingFailed:
		if _, ok := tr.urls[ev.RequestID]; ok {
			tr.pending--
			delete(tr.urls, ev.RequestID)
			tr.last = time.Now()
		}
	}
}

// forget drops the requests still pending, those of a page left behind:
// Chromium does not always report the end of a request that a navigation
// cut off, which left quiet waiting for it.
func (tr *transfers) forget() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.urls = make(map[network.RequestID]string)
	tr.pending = 0
}

// quiet reports whether no request is pending and none ended for 500 ms.
func (tr *transfers) quiet() (bool, string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.pending == 0 && time.Since(tr.last) > 500*time.Millisecond, fmt.Sprintf("%d requests pending", tr.pending)
}

// take returns the bytes and requests by part so far, and starts again.
func (tr *transfers) take() (map[string]float64, map[string]int, map[string]string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	b, n, s := tr.bytes, tr.reqs, tr.status
	tr.bytes, tr.reqs, tr.status = make(map[string]float64), make(map[string]int), make(map[string]string)
	return b, n, s
}

func (tr *transfers) report(t *testing.T, what string) (map[string]float64, map[string]int) {
	t.Helper()
	b, n, s := tr.take()
	var parts []string
	for p := range b {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	var line []string
	total := 0.0
	for _, p := range parts {
		line = append(line, fmt.Sprintf("%s %.1f KB in %d", p, b[p]/1000, n[p]))
		total += b[p]
	}
	t.Logf("%s: %.1f KB: %s", what, total/1000, strings.Join(line, ", "))
	if testing.Verbose() {
		var urls []string
		for u, st := range s {
			urls = append(urls, u+" "+st)
		}
		sort.Strings(urls)
		t.Logf("%s: responses:\n%s", what, strings.Join(urls, "\n"))
	}
	return b, n
}

// TestBrowserPageWeight measures in Chromium the bytes that the list page
// and the player page fetch on a first visit and on a visit again (the
// browser's cache revalidated), by part: the pages' own HTML, JS and
// CSS, their JSON, the thumbnails and noVNC's modules.
func TestBrowserPageWeight(t *testing.T) {
	for name, dir := range noVNCDirs() {
		t.Run(name, func(t *testing.T) {
			vnctest.Require(t, filepath.Join(dir, "core", "rfb.js"), "novnc")
			testPageWeight(t, dir)
		})
	}
}

// Bounds of the page weight of a first visit, in bytes.
const (
	maxOwn        = 100_000 // HTML, JS, CSS
	maxJSON       = 50_000
	maxThumbnails = 100_000
	maxNoVNC      = 1_000_000
)

func testPageWeight(t *testing.T, novnc string) {
	base := startWsreplay(t, fixtures(t), novnc)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	tr := newTransfers()
	p := b.OpenPage(t, "about:blank")
	p.Listen(t, tr.listen)
	open := func(what, u, ready string) (map[string]float64, map[string]int) {
		t.Helper()
		p.Do(t, "leave the page", chromedp.Navigate("about:blank"))
		tr.forget()
		tr.take()
		p.Do(t, "open "+u, chromedp.Navigate(u))
		waitJS(t, p, what, ready)
		vnctest.Poll(t, what+": network quiet", tr.quiet)
		return tr.report(t, what)
	}
	listReady := `document.body.dataset.loaded >= 1 && Array.from(document.images).every(i => i.complete)`
	playReady := `document.body.dataset.connected === "true"`
	check := func(what string, got map[string]float64) {
		t.Helper()
		for _, c := range []struct {
			part string
			max  float64
		}{{"own", maxOwn}, {"JSON", maxJSON}, {"thumbnails", maxThumbnails}, {"noVNC", maxNoVNC}} {
			if got[c.part] > c.max {
				t.Errorf("%s: %s %.0f bytes, want at most %.0f", what, c.part, got[c.part], c.max)
			}
		}
	}
	list, _ := open("list page", base+"/ui/", listReady)
	check("list page", list)
	play, _ := open("player page", base+"/ui/play.html?name=alice.wsrec", playReady)
	check("player page", play)
	// A visit again fetches only what changed: the JSON and the
	// revalidations of the files, 304s without bodies (whose headers,
	// with the Content-Security-Policy, are about 400 bytes).
	for _, v := range []struct{ what, u, ready string }{
		{"list page again", base + "/ui/", listReady},
		{"player page again", base + "/ui/play.html?name=alice.wsrec", playReady},
	} {
		got, n := open(v.what, v.u, v.ready)
		for _, part := range []string{"own", "noVNC"} {
			if got[part] > 600*float64(n[part]) {
				t.Errorf("%s: %s %.0f bytes in %d requests, want revalidations only (600 bytes each)", v.what, part, got[part], n[part])
			}
		}
	}
}
