package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
)

const waitTimeout = 10 * time.Second

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

// syncBuffer is stderr for a command running in another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// wait waits until the buffer matches re and returns the submatches.
func (b *syncBuffer) wait(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not match %s:\n%s", re, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitN waits up to timeout until the buffer contains s n times.
func (b *syncBuffer) waitN(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(b.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not contain %q %d times within %v:\n%s", s, n, timeout, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// command is wsreplay running in-process.
type command struct {
	addr   string
	stderr *syncBuffer
	stop   context.CancelFunc // as SIGINT does
	done   chan error
}

// start runs wsreplay with args until the test ends, and waits until it
// listens.
func start(t *testing.T, args ...string) *command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &command{stderr: new(syncBuffer), stop: cancel, done: make(chan error, 1)}
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
	c.addr = c.stderr.wait(t, listeningRE)[1]
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

// client is a WebSocket connection to wsreplay.
type client struct {
	net.Conn
	r io.Reader
}

func dial(t testing.TB, d ws.Dialer, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{Conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c
}

// read returns the next frame.
func (c *client) read(t testing.TB) ws.Frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	f, err := readFrame(c.r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) expect(t testing.TB, want string) {
	t.Helper()
	if f := c.read(t); f.Header.OpCode != ws.OpBinary || string(f.Payload) != want {
		t.Fatalf("got %v %q, want binary %q", f.Header.OpCode, f.Payload, want)
	}
}

func (c *client) expectClose(t testing.TB, want ws.StatusCode) {
	t.Helper()
	f := c.read(t)
	if f.Header.OpCode != ws.OpClose {
		t.Fatalf("got %v %q, want close %d", f.Header.OpCode, f.Payload, want)
	}
	if code, reason := ws.ParseCloseFrameData(f.Payload); code != want {
		t.Fatalf("got close %d %q, want %d", code, reason, want)
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(f.Payload)))
	c.Close()
}

func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "vnc.html"), []byte("<title>noVNC</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "wsreplay.log")
	cmd := start(t, "-v", "--log-file", logFile, "--web", web, "--speed", "max", "--end", "hold", "127.0.0.1:0", dir)

	// A replay at the defaults of the command line, then one with its own.
	c := dial(t, ws.Dialer{}, "ws://"+cmd.addr+"/a.wsrec")
	c.expect(t, "hello")
	wsutil.WriteClientBinary(c, []byte("hi"))
	c.expect(t, "world")
	c2 := dial(t, ws.Dialer{}, "ws://"+cmd.addr+"/?token=a.wsrec&end=close")
	c2.expect(t, "hello")
	c2.expect(t, "world")
	c2.expectClose(t, ws.StatusNormalClosure)
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
	c.expectClose(t, ws.StatusGoingAway)
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
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	rec := writeRecording(t, t.TempDir(), "a.wsrec")
	certFile, keyFile, pool := newCert(t)
	cmd := start(t, "--cert", certFile, "--key", keyFile, "--ssl-only", "--speed", "max", "127.0.0.1:0", rec)
	c := dial(t, ws.Dialer{TLSConfig: &tls.Config{RootCAs: pool}}, "wss://"+cmd.addr+"/")
	c.expect(t, "hello")
	c.expect(t, "world")
	c.expectClose(t, ws.StatusNormalClosure)
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
	d := ws.Dialer{NetDial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "unix", sock)
	}}
	c := dial(t, d, "ws://replay/")
	c.expect(t, "hello")
	c.expect(t, "world")
	c.expectClose(t, ws.StatusNormalClosure)
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

// newCert writes a self-signed certificate for 127.0.0.1 and its key, and
// returns their files and a pool that trusts it.
func newCert(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsreplay test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// maxFrame bounds the frames the test clients read.
const maxFrame = 64 << 20

// readFrame reads one frame from the server: ws.ReadFrame with a bound on
// the length the peer declares.
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxFrame {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(f.Payload, h.Mask, 0)
	}
	return f, nil
}
