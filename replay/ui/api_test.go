package ui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/storetest"
	"github.com/wsproxy/wsproxy/replay"
	"github.com/wsproxy/wsproxy/replay/ui"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// fixtures writes the synthetic sessions and copies of the integrity
// fixtures into a directory and returns it.
func fixtures(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for i, s := range []session{
		{name: "alice.wsrec", typed: "hello world", meta: map[string]string{"user": "alice", "client": "10.0.0.1:5000", "target": "desk1:5901", "token": "t-alice"}},
		{name: "bob.wsrec", typed: "sudo reboot", meta: map[string]string{"user": "bob", "client": "10.0.0.2:5000", "real_client": "192.0.2.7", "target": "desk2:5901", "token": "t-bob"}},
		{name: "sub/carol.wsrec", typed: "ls -l", meta: map[string]string{"user": "carol", "client": "10.0.0.3:5000", "target": "desk1:5901", "token": "t-carol"}},
	} {
		s.start = t0.Add(time.Duration(i) * 24 * time.Hour) // alice oldest
		writeSession(t, dir, s)
	}
	for _, name := range []string{"tampered-chunk1.wsrec", "unsealed-killed.wsrec", "sealed-signed.wsrec"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "recordings", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startUI serves the pages of the recordings in dir over httptest.
func startUI(t testing.TB, dir string, opts ui.Options) (*httptest.Server, *replay.Server) {
	t.Helper()
	srv, err := replay.NewServer([]string{dir}, replay.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h, err := ui.New(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs, srv
}

// get GETs u and returns the response and its body, decompressed by the
// Transport if it came gzipped.
func get(t testing.TB, u string) (*http.Response, []byte) {
	t.Helper()
	return fetch(t, u, nil)
}

func getPage(t testing.TB, base, query string) ui.Page {
	t.Helper()
	resp, b := get(t, base+"/ui/api/recordings?"+query)
	if resp.StatusCode != 200 {
		t.Fatalf("recordings?%s: status %d: %s", query, resp.StatusCode, b)
	}
	var p ui.Page
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(p ui.Page) []string {
	var n []string
	for _, r := range p.Recordings {
		n = append(n, r.Name)
	}
	return n
}

func TestListPaged(t *testing.T) {
	t.Parallel()
	hs, _ := startUI(t, fixtures(t), ui.Options{})
	all := names(getPage(t, hs.URL, ""))
	// Newest first: carol, bob, alice (2026-11-01..03) after the fixtures
	// of 2026-11-25.
	want := []string{"sealed-signed.wsrec", "tampered-chunk1.wsrec", "unsealed-killed.wsrec", "sub/carol.wsrec", "bob.wsrec", "alice.wsrec"}
	if !slices.Equal(all, want) {
		t.Fatalf("list: got %q, want %q", all, want)
	}
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := "limit=4"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		p := getPage(t, hs.URL, q)
		if p.Total != len(want) {
			t.Errorf("total: got %d, want %d", p.Total, len(want))
		}
		paged = append(paged, names(p)...)
		if cursor = p.Next; cursor == "" {
			if pages != 1 {
				t.Errorf("pages: got %d, want 2", pages+1)
			}
			break
		}
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged: got %q, want %q", paged, want)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	hs, _ := startUI(t, fixtures(t), ui.Options{})
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"User", "user=ALICE", []string{"alice.wsrec"}},
		{"Client", "client=10.0.0.2", []string{"bob.wsrec"}},
		{"RealClient", "client=192.0.2.7", []string{"bob.wsrec"}},
		{"Target", "target=desk1", []string{"sub/carol.wsrec", "alice.wsrec"}},
		{"Token", "token=t-bob", []string{"bob.wsrec"}},
		{"From", "from=2026-11-02", []string{"sealed-signed.wsrec", "tampered-chunk1.wsrec", "unsealed-killed.wsrec", "sub/carol.wsrec", "bob.wsrec"}},
		{"Range", "from=2026-11-02T00:00&to=2026-11-03", []string{"bob.wsrec"}},
		{"TypedText", "q=REBOOT", []string{"bob.wsrec"}},
		{"TypedTextAndUser", "q=l&user=carol", []string{"sub/carol.wsrec"}},
		{"NoMatch", "q=nowhere", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(getPage(t, hs.URL, tc.query)); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestIntegrity(t *testing.T) {
	t.Parallel()
	hs, _ := startUI(t, fixtures(t), ui.Options{})
	got := map[string]string{}
	for _, r := range getPage(t, hs.URL, "").Recordings {
		got[r.Name] = r.Integrity
	}
	for name, want := range map[string]string{
		"alice.wsrec": "sealed", "tampered-chunk1.wsrec": "tampered",
		"unsealed-killed.wsrec": "unsealed", "sealed-signed.wsrec": "signed",
	} {
		if got[name] != want {
			t.Errorf("%s: integrity %q, want %q", name, got[name], want)
		}
	}
}

func TestRecordingDetails(t *testing.T) {
	t.Parallel()
	hs, _ := startUI(t, fixtures(t), ui.Options{})
	resp, b := get(t, hs.URL+"/ui/api/recording?name=sub/carol.wsrec")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var d struct {
		Name      string `json:"name"`
		Duration  int64  `json:"duration_ns"`
		RFB       bool   `json:"rfb"`
		Integrity string `json:"integrity"`
		Typed     []struct {
			Time int64  `json:"time"`
			Text string `json:"text"`
		} `json:"typed"`
		Clicks []struct {
			Time    int64 `json:"time"`
			X, Y    int
			Buttons string `json:"buttons"`
		} `json:"clicks"`
		Clipboard []struct {
			Time int64  `json:"time"`
			From string `json:"from"`
			Text string `json:"text"`
		} `json:"clipboard"`
		Activity []uint64 `json:"activity"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "sub/carol.wsrec" || !d.RFB || d.Integrity != "sealed" || time.Duration(d.Duration) != fixDuration {
		t.Errorf("got name %q rfb %v integrity %q duration %v", d.Name, d.RFB, d.Integrity, time.Duration(d.Duration))
	}
	if len(d.Typed) != 1 || d.Typed[0].Text != "ls -l" || time.Duration(d.Typed[0].Time) != 25*time.Second {
		t.Errorf("typed: got %+v, want ls -l at 25s", d.Typed)
	}
	if len(d.Clicks) != 1 || d.Clicks[0].X != 10 || d.Clicks[0].Y != 20 || time.Duration(d.Clicks[0].Time) != 35*time.Second {
		t.Errorf("clicks: got %+v, want (10, 20) at 35s", d.Clicks)
	}
	if len(d.Clipboard) != 1 || d.Clipboard[0].Text != "copied text" || d.Clipboard[0].From != "client" {
		t.Errorf("clipboard: got %+v", d.Clipboard)
	}
	if len(d.Activity) != 61 || d.Activity[10] < fixW*fixH*4 || d.Activity[15] != 0 {
		t.Errorf("activity: %d seconds, [10] %d, [15] %d", len(d.Activity), d.Activity[10], d.Activity[15])
	}
}

func TestThumb(t *testing.T) {
	t.Parallel()
	hs, _ := startUI(t, fixtures(t), ui.Options{})
	for _, tc := range []struct {
		name, query string
		at          time.Duration
		width       int
	}{
		{"Default", "", fixDuration, ui.DefaultThumbWidth},
		{"At15s", "&at=15&w=32", 15 * time.Second, 32},
		{"At25s", "&at=25.5&w=100", 25 * time.Second, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := get(t, hs.URL+"/ui/api/thumb?name=alice.wsrec"+tc.query)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if w := img.Bounds().Dx(); w != tc.width {
				t.Errorf("width %d, want %d", w, tc.width)
			}
			r, g, bl, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
			want := colourAt(tc.at)
			if uint8(r>>8) != want.R || uint8(g>>8) != want.G || uint8(bl>>8) != want.B {
				t.Errorf("colour %d,%d,%d, want %v", r>>8, g>>8, bl>>8, want)
			}
		})
	}
}

// TestThumbOpensOnce proves that a thumbnail opens its recording once,
// counted as the requests of an object store: with the seek index (a
// time given) and without (a Source that has none). It was opened twice
// with the index, once by replay.Server.SeekIndex and once to decode.
func TestThumbOpensOnce(t *testing.T) {
	t.Parallel()
	st := storetest.New(fixtures(t))
	srv, err := replay.NewServer(nil, replay.ServerOptions{Stores: []replay.Store{st}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.Recordings(); err != nil { // summaries read once, then cached
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  ui.Source
	}{
		{"SeekIndex", srv},
		{"NoSeekIndex", plainSource{srv}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ui.New(tc.src, ui.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			hs := httptest.NewServer(h)
			defer hs.Close()
			for _, at := range []int{15, 25} { // two thumbnails, none cached
				st.Reset()
				resp, b := get(t, fmt.Sprintf("%s/ui/api/thumb?name=alice.wsrec&at=%d&w=32", hs.URL, at))
				if resp.StatusCode != 200 {
					t.Fatalf("at %d s: status %d: %s", at, resp.StatusCode, b)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				r, g, bl, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
				if want := colourAt(time.Duration(at) * time.Second); uint8(r>>8) != want.R || uint8(g>>8) != want.G || uint8(bl>>8) != want.B {
					t.Errorf("at %d s: colour %d,%d,%d, want %v", at, r>>8, g>>8, bl>>8, want)
				}
				if n := st.Opens("alice.wsrec"); n != 1 {
					t.Errorf("at %d s: the recording was opened %d times, want 1", at, n)
				}
			}
		})
	}
}

func TestDownload(t *testing.T) {
	t.Parallel()
	dir := fixtures(t)
	hs, _ := startUI(t, dir, ui.Options{})
	resp, b := get(t, hs.URL+"/ui/api/download?name="+url.QueryEscape("sub/carol.wsrec"))
	want, err := os.ReadFile(filepath.Join(dir, "sub", "carol.wsrec"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(b, want) {
		t.Errorf("status %d, %d bytes, want the file's %d", resp.StatusCode, len(b), len(want))
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="carol.wsrec"` {
		t.Errorf("Content-Disposition %q", cd)
	}
}

func TestSecurity(t *testing.T) {
	t.Parallel()
	dir := fixtures(t)
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.wsrec"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	hs, _ := startUI(t, dir, ui.Options{NoVNCDir: "/usr/share/novnc"})
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"Index", "GET", "/ui/", 200},
		{"Script", "GET", "/ui/player.js", 200},
		{"API", "GET", "/ui/api/recordings", 200},
		{"Post", "POST", "/ui/api/recordings", 405},
		{"Delete", "DELETE", "/ui/api/download?name=alice.wsrec", 405},
		{"DotDotName", "GET", "/ui/api/download?name=../secret.wsrec", 404},
		{"AbsoluteName", "GET", "/ui/api/download?name=" + url.QueryEscape(filepath.Join(dir, "alice.wsrec")), 404},
		{"DotDotStatic", "GET", "/ui/../ui/api/recordings", 404},
		{"EncodedDotDot", "GET", "/ui/%2e%2e/secret.wsrec", 404},
		{"NoVNCDotDot", "GET", "/ui/novnc/%2e%2e/%2e%2e/etc/passwd", 404},
		{"NoVNC", "GET", "/ui/novnc/core/rfb.js", 200},
		{"UnknownAPI", "GET", "/ui/api/exec", 404},
		{"UnknownName", "GET", "/ui/api/recording?name=nope", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "NoVNC" {
				if _, err := os.Stat("/usr/share/novnc/core/rfb.js"); err != nil {
					t.Skip("no noVNC")
				}
			}
			req, err := http.NewRequest(tc.method, hs.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: status %d, want %d: %.200s", tc.method, tc.path, resp.StatusCode, tc.status, b)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); csp != ui.CSP {
				t.Errorf("Content-Security-Policy %q, want %q", csp, ui.CSP)
			}
			if string(b) == "x" {
				t.Errorf("served the file outside the recordings")
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	hs, _ := startUI(t, fixtures(t), ui.Options{})
	for _, tc := range []struct{ name, path, want string }{
		{"LimitZero", "recordings?limit=0", "limit: want 1 to 500"},
		{"LimitBig", "recordings?limit=501", "limit: want 1 to 500"},
		{"Cursor", "recordings?cursor=@@@", "malformed cursor"},
		{"From", "recordings?from=yesterday", "is not a time"},
		{"ThumbAt", "thumb?name=alice.wsrec&at=-1", "at: want seconds"},
		{"ThumbWidth", "thumb?name=alice.wsrec&w=5000", "w: want 16 to 640 pixels"},
		{"NoName", "recording", "no such recording: give ?name="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := get(t, hs.URL+"/ui/api/"+tc.path)
			if resp.StatusCode/100 != 4 || !strings.Contains(string(b), tc.want) {
				t.Errorf("status %d, body %s, want 4xx with %q", resp.StatusCode, b, tc.want)
			}
		})
	}
}
