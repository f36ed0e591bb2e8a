package replay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
)

// fixtures is the module's directory of recordings.
const fixtures = "../testdata/recordings"

// recorded returns the target→client messages of a recording, as a reader
// that does not go through the proxy sees them, and the error that ends
// it.
func recorded(t testing.TB, path string) ([]string, error) {
	t.Helper()
	f, err := recfile.Open(path, recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	for {
		r, err := f.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return msgs, err
		}
		if r.Kind == format.KindMessage && r.Dir == format.TargetToClient {
			msgs = append(msgs, string(r.Payload))
		}
	}
}

// upgrade sends a WebSocket upgrade request for path and returns the
// response when it is not an upgrade, with its body.
func upgrade(t testing.TB, addr, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestSelect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec", nil, toClient(0, "from a"))
	writeRecording(t, dir, "day/b.wsrec", nil, toClient(0, "from b"))
	writeRecording(t, dir, ".hidden.wsrec", nil, toClient(0, "hidden"))
	writeRecording(t, dir, ".private/c.wsrec", nil, toClient(0, "hidden too"))
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a recording"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	file := writeRecording(t, other, "c.wsrec", nil, toClient(0, "from c"))
	shadow := writeRecording(t, other, "a.wsrec", nil, toClient(0, "shadowed a"))
	// Outside the directory, reached through a link in it.
	if err := os.Symlink(file, filepath.Join(dir, "link.wsrec")); err != nil {
		t.Fatal(err)
	}
	// Inside, through a relative link.
	if err := os.Symlink("../a.wsrec", filepath.Join(dir, "day", "alias.wsrec")); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, []string{dir, file, shadow}, replay.ServerOptions{Playback: replay.Options{Speed: replay.SpeedMax}})
	for _, tt := range []struct{ path, want string }{
		{"/?token=a.wsrec", "from a"},
		{"/websockify?token=a.wsrec", "from a"},
		{"/a.wsrec", "from a"}, // the directory comes first
		{"/day/b.wsrec", "from b"},
		{"/?token=day/b.wsrec&speed=2", "from b"},
		{"/c.wsrec", "from c"},
		{"/day%2Fb.wsrec", "from b"},
		{"/day/alias.wsrec", "from a"},
	} {
		t.Run("OK"+tt.path, func(t *testing.T) {
			c := dial(t, srv.addr, tt.path)
			c.Expect(t, tt.want)
			c.ExpectClose(t, ws.StatusNormalClosure)
		})
	}
	for _, tt := range []struct{ path, want string }{
		{"/", "no recording chosen: choose one with ?token=NAME or the URL path /NAME; GET /recordings lists them\n"},
		{"/websockify", `no recording named "websockify"`},
		{"/?token=nope.wsrec", `no recording named "nope.wsrec"`},
		{"/.hidden.wsrec", `no recording named ".hidden.wsrec"`},
		{"/.private/c.wsrec", `no recording named ".private/c.wsrec"`},
		{"/notes.txt", `no recording named "notes.txt"`},
		{"/?token=../" + filepath.Base(other) + "/c.wsrec", `no recording named "../`},
		{"/day/../a.wsrec", `no recording named`}, // cleaned by the client or refused
		{"/link.wsrec", `no recording named "link.wsrec"`},
		{"/day", `no recording named "day"`},
		{"/?token=" + file, `no recording named`},
	} {
		t.Run("NotFound"+tt.path, func(t *testing.T) {
			status, body := upgrade(t, srv.addr, tt.path)
			if status != http.StatusNotFound || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %q, want 404 with %q", status, body, tt.want)
			}
		})
	}
	for _, tt := range []struct{ path, want string }{
		{"/a.wsrec?speed=1000", `invalid option: speed "1000": want a speed from 0.1 to 100, or max`},
		{"/a.wsrec?start=-1s", `invalid option: start "-1s"`},
		{"/a.wsrec?pace=fast", `invalid option: pace "fast": want time or client`},
		{"/a.wsrec?end=never", `invalid option: end "never": want close or hold`},
		{"/a.wsrec?loop=maybe", `invalid option: loop "maybe"`},
		{"/a.wsrec?speed=2&speed=3", `invalid option: speed given 2 times`},
	} {
		t.Run("BadRequest"+tt.path, func(t *testing.T) {
			status, body := upgrade(t, srv.addr, tt.path)
			if status != http.StatusBadRequest || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %q, want 400 with %q", status, body, tt.want)
			}
		})
	}
	if !regexp.MustCompile(`msg="request rejected" session=[0-9a-f]{32} status=404 reason="no recording named \\"websockify\\"`).MatchString(srv.log.String()) {
		t.Errorf("the log does not say why a request was rejected:\n%s", srv.log)
	}
	recs, err := srv.Recordings()
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if want := []string{"a.wsrec", "c.wsrec", "day/alias.wsrec", "day/b.wsrec"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("got recordings %q, %v; want %q", names, err, want)
	}
}

// TestSingle checks that with a single file every connection gets it,
// whatever its path and token.
func TestSingle(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "only.wsrec", nil, toClient(0, "the one"))
	srv := startServer(t, []string{path}, replay.ServerOptions{})
	for _, p := range []string{"/", "/websockify", "/?token=other", "/other.wsrec?speed=max"} {
		c := dial(t, srv.addr, p)
		c.Expect(t, "the one")
		c.ExpectClose(t, ws.StatusNormalClosure)
	}
}

func TestNewServerErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notRec := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notRec, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeRecording(t, dir, "good.wsrec", nil)
	for _, tt := range []struct {
		name  string
		paths []string
		opts  replay.ServerOptions
		want  error
	}{
		{name: "ErrNoPath", want: nil},
		{name: "ErrNotExist", paths: []string{filepath.Join(dir, "missing.wsrec")}, want: os.ErrNotExist},
		{name: "ErrUnknownFormat", paths: []string{notRec}, want: recfile.ErrUnknownFormat},
		{name: "ErrOption", paths: []string{good}, opts: replay.ServerOptions{Playback: replay.Options{Speed: 500}}, want: replay.ErrOption},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := replay.NewServer(tt.paths, tt.opts)
			if err == nil {
				srv.Close()
				t.Fatal("got no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecordings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "2026-11-25/alice.wsrec", map[string]string{format.MetaUser: "alice", format.MetaTarget: "vnc:5900"},
		format.Record{Kind: format.KindOpen},
		toClient(0, "RFB 003.008\n"),
		fromClient(10*ms, "RFB 003.008\n"),
		marker(500*ms, "login"),
		toClient(time.Second, "update"),
		marker(2*time.Second, "logout"),
		closeRec(2500*ms),
	)
	for _, name := range []string{"tampered-chunk1.wsrec", "truncated-mid-chunk.wsrec", "unsealed-killed.wsrec", "websockify-vnc-session.txt"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a recording"), 0o644); err != nil {
		t.Fatal(err)
	}
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "web: "+r.URL.Path) })
	srv := startServer(t, []string{dir}, replay.ServerOptions{Proxy: proxy.ServerOptions{Handler: web}})

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + srv.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	resp, body := get("/recordings")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var list struct{ Recordings []replay.Recording }
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	var names []string
	for _, r := range list.Recordings {
		names = append(names, r.Name)
	}
	wantNames := []string{"2026-11-25/alice.wsrec", "tampered-chunk1.wsrec", "truncated-mid-chunk.wsrec", "unsealed-killed.wsrec", "websockify-vnc-session.txt"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("got recordings %q, want %q", names, wantNames)
	}

	alice := list.Recordings[0]
	if alice.Format != "wsrec" || alice.Status != "sealed" || alice.Error != "" || alice.Duration != 2500*ms ||
		alice.ClientMessages != 1 || alice.TargetMessages != 2 || alice.ClientBytes != 12 || alice.TargetBytes != 18 ||
		alice.Meta[format.MetaUser] != "alice" || alice.Start == nil || len(alice.SessionID) != 32 || alice.Size == 0 {
		t.Errorf("got %+v", alice)
	}
	wantMarkers := []replay.Marker{{Time: 500 * ms, Label: "login"}, {Time: 2 * time.Second, Label: "logout"}}
	if !slices.Equal(alice.Markers, wantMarkers) {
		t.Errorf("got markers %+v, want %+v", alice.Markers, wantMarkers)
	}
	// The JSON names, as a front end reads them.
	for _, key := range []string{`"name":"2026-11-25/alice.wsrec"`, `"duration_ns":2500000000`, `"markers":[{"time_ns":500000000,"label":"login"}`, `"meta":{"target":"vnc:5900","user":"alice"}`, `"status":"sealed"`} {
		if !bytes.Contains(body, []byte(key)) {
			t.Errorf("the JSON has no %s:\n%s", key, body)
		}
	}
	for i, want := range []struct{ format, status, err string }{
		{"wsrec", "damaged", "chunk 1 at offset 659"},
		{"wsrec", "truncated", "the 150 bytes at offset 2181 are not a complete chunk"},
		{"wsrec", "unsealed", "no trailer"},
		{"websockify", "complete", ""},
	} {
		r := list.Recordings[i+1]
		if r.Format != want.format || r.Status != want.status || !strings.Contains(r.Error, want.err) || (want.err == "") != (r.Error == "") {
			t.Errorf("%s: got format %s, status %s, error %q; want %s, %s, %q", r.Name, r.Format, r.Status, r.Error, want.format, want.status, want.err)
		}
	}
	if ws := list.Recordings[4]; ws.Duration != 1402*ms || ws.TargetMessages != 8 || ws.ClientMessages != 27 || ws.Meta != nil || ws.Start != nil {
		t.Errorf("websockify recording: got %+v", ws)
	}

	// A recording added later is listed, and one removed is not.
	writeRecording(t, dir, "later.wsrec", nil, toClient(0, "x"))
	if err := os.Remove(filepath.Join(dir, "unsealed-killed.wsrec")); err != nil {
		t.Fatal(err)
	}
	list.Recordings = nil
	_, body = get("/recordings")
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, r := range list.Recordings {
		names = append(names, r.Name)
	}
	wantNames = []string{"2026-11-25/alice.wsrec", "later.wsrec", "tampered-chunk1.wsrec", "truncated-mid-chunk.wsrec", "websockify-vnc-session.txt"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("got recordings %q, want %q", names, wantNames)
	}

	// Other paths go to the web handler.
	if _, body := get("/vnc.html"); string(body) != "web: /vnc.html" {
		t.Errorf("got %q from the web handler", body)
	}
}

func TestNoWebHandler(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "a.wsrec", nil)
	srv := startServer(t, []string{path}, replay.ServerOptions{})
	resp, err := http.Get("http://" + srv.addr + "/vnc.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("got %d, want 404", resp.StatusCode)
	}
	resp, err = http.Get("http://" + srv.addr + "/recordings")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Recordings []replay.Recording }
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || len(list.Recordings) != 1 || list.Recordings[0].Name != "a.wsrec" {
		t.Errorf("got %+v, %v; want a.wsrec", list, err)
	}
}

// TestFixtures plays the module's recordings, whole or damaged, in both
// formats: each plays up to its end or its damage, then closes with 1000
// or 1011, with the damage in the log.
func TestFixtures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		code ws.StatusCode
		log  string
	}{
		{"sealed-small.wsrec", ws.StatusNormalClosure, ""},
		{"sealed-empty.wsrec", ws.StatusNormalClosure, ""},
		{"websockify-vnc-session.txt", ws.StatusNormalClosure, ""},
		{"unsealed-killed.wsrec", ws.StatusNormalClosure, "recording ends without its trailer"},
		{"tampered-chunk1.wsrec", ws.StatusInternalServerError, `err="read from target: recording tampered-chunk1.wsrec: format: corrupt recording: chunk 1 at offset 659: decompress: frame size exceeded"`},
		{"truncated-mid-chunk.wsrec", ws.StatusInternalServerError, `err="read from target: recording truncated-mid-chunk.wsrec: recfile: unsealed recording: the 150 bytes at offset 2181 are not a complete chunk"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(fixtures, tt.name)
			want, _ := recorded(t, path)
			// Byte-faithful: a VNC session would otherwise be rendered.
			srv := startServer(t, []string{path}, replay.ServerOptions{Playback: replay.Options{Speed: replay.SpeedMax, Mode: replay.ModeBytes}})
			c := dial(t, srv.addr, "/")
			for _, m := range want {
				c.Expect(t, m)
			}
			c.ExpectClose(t, tt.code)
			srv.waitIdle(t)
			if tt.log != "" && !strings.Contains(srv.log.String(), tt.log) {
				t.Errorf("the log does not say %s:\n%s", tt.log, srv.log)
			}
		})
	}
}

// TestWebsockifyTiming checks a websockify recording's times: its frames'
// milliseconds.
func TestWebsockifyTiming(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "rec.1", "var VNC_frame_data = [\n'{0{RFB 003.008\\n',\n'}12}RFB 003.008\\n',\n'{20{\\x01\\x01',\n'{1500{update',\n'EOF'];\n")
	clk := newFakeClock()
	srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
	c := dial(t, srv.addr, "/")
	play(t, clk, c, []string{"RFB 003.008\n"}, []step{{20 * ms, "\x01\x01"}, {1500 * ms, "update"}})
	c.ExpectClose(t, ws.StatusNormalClosure)
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
