package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

const waitTimeout = 10 * time.Second

// webDir returns a --web directory that holds a vnc.html of
// "<title>noVNC</title>".
func webDir(t testing.TB) string {
	t.Helper()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "vnc.html"), []byte("<title>noVNC</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	return web
}

// writeRecording writes a sealed recording with two target→client
// messages, "hello" at 0 and "world" at 10 ms, and a client message.
func writeRecording(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Header{Meta: map[string]string{format.MetaTarget: "vnc:5900"}}, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteMessage(0, format.TargetToClient, format.Binary, []byte("hello"))
	w.WriteMessage(5*time.Millisecond, format.ClientToTarget, format.Binary, []byte("hi"))
	w.WriteMarker(8*time.Millisecond, "greeted")
	w.WriteMessage(10*time.Millisecond, format.TargetToClient, format.Binary, []byte("world"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// command is wsreplay running in-process.
type command struct {
	addr   string
	stderr *wstest.LogBuffer
	stop   context.CancelFunc // as SIGINT does
	done   chan error
}

// start runs wsreplay with args until the test ends, and waits until it
// listens.
func start(t *testing.T, args ...string) *command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &command{stderr: new(wstest.LogBuffer), stop: cancel, done: make(chan error, 1)}
	go func() { c.done <- run(ctx, args, io.Discard, c.stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := c.wait(t); err != nil {
			t.Errorf("wsreplay returned %v", err)
		}
		if t.Failed() {
			t.Logf("wsreplay stderr:\n%s", c.stderr)
		}
	})
	c.addr = c.stderr.Wait(t, listeningRE)[1]
	return c
}

// wait waits for run to return, and returns its error.
func (c *command) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("wsreplay did not return; stderr:\n%s", c.stderr)
		return nil
	}
}

// TestServe: wsreplay plays a recording to WebSocket clients, with the
// command line's options and with a query's, and serves /recordings and
// the --web files on the same port.
func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	web := webDir(t)
	logFile := filepath.Join(t.TempDir(), "wsreplay.log")
	cmd := start(t, "-v", "--log-file", logFile, "--web", web, "--speed", "max", "--end", "hold", "127.0.0.1:0", dir)

	// A replay at the defaults of the command line, then one with its own.
	c := wstest.Dial(t, "ws://"+cmd.addr+"/a.wsrec", wstest.DialOptions{})
	c.Expect(t, "hello")
	wsutil.WriteClientBinary(c, []byte("hi"))
	c.Expect(t, "world")
	c2 := wstest.Dial(t, "ws://"+cmd.addr+"/?token=a.wsrec&end=close", wstest.DialOptions{})
	c2.Expect(t, "hello")
	c2.Expect(t, "world")
	c2.ExpectClose(t, ws.StatusNormalClosure)
	if status, body := get(t, http.DefaultClient, "http://"+cmd.addr+"/nope.wsrec", true); status != http.StatusNotFound || !strings.Contains(body, `no recording named "nope.wsrec"`) {
		t.Errorf("unknown recording: got %d %q, want 404", status, body)
	}

	// The listing and the web files share the port.
	_, body := get(t, http.DefaultClient, "http://"+cmd.addr+"/recordings", false)
	var list struct {
		Recordings []struct {
			Name     string
			Duration int64 `json:"duration_ns"`
			Markers  []struct{ Label string }
		}
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Recordings) != 1 || list.Recordings[0].Name != "a.wsrec" ||
		list.Recordings[0].Duration != int64(10*time.Millisecond) || len(list.Recordings[0].Markers) != 1 || list.Recordings[0].Markers[0].Label != "greeted" {
		t.Errorf("got /recordings %s (%v)", body, err)
	}
	if _, body := get(t, http.DefaultClient, "http://"+cmd.addr+"/vnc.html", false); body != "<title>noVNC</title>" {
		t.Errorf("got /vnc.html %q", body)
	}

	// A signal closes the replay that holds with 1001, once the other one
	// has ended on the server's side too (its close handshake may still be
	// under way after the client has seen the close frame).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(logFile); strings.Contains(string(b), `reason="Target closed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the end=close replay did not end within 10 s")
		}
	}
	cmd.stop()
	c.ExpectClose(t, ws.StatusGoingAway)
	if err := cmd.wait(t); err != nil {
		t.Fatalf("wsreplay returned %v", err)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"msg=listening", `msg="replay start"`, "recording=a.wsrec", "speed=max", "end=hold", "end=close", `msg=marker`, `label=greeted`,
		`level=DEBUG msg="client message discarded"`, "bytes=2", "holding the connection open", `msg="shutting down on signal" replays=1`, "code=1001"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the log file does not contain %s:\n%s", want, b)
		}
	}
	// The same lines; concurrent sessions' lines may reach the two in a
	// different order (each line goes to stderr, then to the file).
	sorted := func(s string) []string {
		lines := strings.Split(s, "\n")
		slices.Sort(lines)
		return lines
	}
	if got := cmd.stderr.String(); !slices.Equal(sorted(got), sorted(string(b))) {
		t.Errorf("stderr and the log file differ:\n%s\n---\n%s", got, b)
	}
}

// get requests url, as a WebSocket upgrade if upgrade, and returns the
// status and body.
func get(t testing.TB, hc *http.Client, url string, upgrade bool) (int, string) {
	t.Helper()
	status, body, _ := request(t, hc, url, "", "", upgrade)
	return status, body
}

// request requests url with the basic credentials user:password (none if
// user is ""), as a WebSocket upgrade if upgrade, and returns the
// response's status, body (none for an upgrade) and header.
func request(t testing.TB, hc *http.Client, url, user, password string, upgrade bool) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, "", resp.Header // its body is the WebSocket: not read
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	rec := writeRecording(t, t.TempDir(), "a.wsrec")
	cert := wstest.NewCert(t)
	cmd := start(t, "--cert", cert.CertFile, "--key", cert.KeyFile, "--ssl-only", "--speed", "max", "127.0.0.1:0", rec)
	c := wstest.Dial(t, "wss://"+cmd.addr+"/", wstest.DialOptions{TLS: cert.ClientConfig()})
	c.Expect(t, "hello")
	c.Expect(t, "world")
	c.ExpectClose(t, ws.StatusNormalClosure)
	// --ssl-only: a plain connection is dropped.
	conn, err := net.Dial("tcp", cmd.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitTimeout))
	io.WriteString(conn, "GET /recordings HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		t.Errorf("got %s over plain HTTP with --ssl-only, want the connection dropped", resp.Status)
	}
}

func TestServeUnix(t *testing.T) {
	t.Parallel()
	rec := writeRecording(t, t.TempDir(), "a.wsrec")
	sock := filepath.Join(t.TempDir(), "replay.sock")
	cmd := start(t, "--unix-listen", sock, "--unix-listen-mode", "0640", "--speed", "max", rec)
	if cmd.addr != sock {
		t.Errorf("listening on %s, want %s", cmd.addr, sock)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o640 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v, %v: want a socket with mode 0640", fi, err)
	}
	c := wstest.Dial(t, "ws://replay/", wstest.DialOptions{NetDial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "unix", sock)
	}})
	c.Expect(t, "hello")
	c.Expect(t, "world")
	c.ExpectClose(t, ws.StatusNormalClosure)
	cmd.stop()
	if err := cmd.wait(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is left after exit: %v", err)
	}
}

// --unix-listen refuses a path that holds a regular file, and leaves the
// file as it was (websockify would unlink it); a stale socket is replaced.
func TestServeUnixExisting(t *testing.T) {
	t.Parallel()
	rec := writeRecording(t, t.TempDir(), "a.wsrec")
	t.Run("ErrRegularFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "x.txt")
		if err := os.WriteFile(path, []byte("DATA\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		err := run(t.Context(), []string{"--unix-listen", path, rec}, io.Discard, &stderr)
		if err == nil {
			t.Fatal("wsreplay started on a regular file")
		}
		if want := path + ": listen: not a socket: a regular file is there; it is left untouched"; !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q, want %q", stderr.String(), want)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != "DATA\n" {
			t.Errorf("%s holds %q (%v), want \"DATA\\n\"", path, got, err)
		}
	})
	t.Run("StaleSocket", func(t *testing.T) {
		t.Parallel()
		sock := filepath.Join(t.TempDir(), "replay.sock")
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
		cmd := start(t, "--unix-listen", sock, rec)
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("dial the replaced socket: %v", err)
		}
		c.Close()
		cmd.stop()
		if err := cmd.wait(t); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("the socket is left after exit: %v", err)
		}
	})
}

// TestServeCertReload: wsreplay reloads --cert when the file changes, as
// wsproxy does (servetls), without a restart.
func TestServeCertReload(t *testing.T) {
	t.Parallel()
	rec := writeRecording(t, t.TempDir(), "a.wsrec")
	ca := wstest.NewCert(t)
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	install := func(serial int64) {
		t.Helper()
		b, err := os.ReadFile(ca.Issue(t, serial, false).PEMFile)
		if err != nil {
			t.Fatal(err)
		}
		// Renamed into place, as certbot does.
		if err := os.WriteFile(certFile+".tmp", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(certFile+".tmp", certFile); err != nil {
			t.Fatal(err)
		}
	}
	var cmd *command
	served := func() int64 {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitTimeout}, "tcp", cmd.addr, ca.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	install(20)
	cmd = start(t, "--cert", certFile, "--cert-reload", "50ms", "127.0.0.1:0", rec)
	if got := served(); got != 20 {
		t.Fatalf("got serial %d, want 20", got)
	}
	install(21)
	cmd.stderr.Wait(t, regexp.MustCompile(`msg="certificate reloaded" why="files changed" .* serial=21`))
	if got := served(); got != 21 {
		t.Errorf("got serial %d after the reload, want 21", got)
	}
}
