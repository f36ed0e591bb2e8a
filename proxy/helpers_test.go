package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"

	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey is RFC 6455's example key; testAccept is its accept value.
const (
	testKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	testAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// logWriter sends log lines to the test's log, shown when it fails.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// startServer serves opts on 127.0.0.1:0; the server is closed when the
// test ends, and Serve must then have returned ErrServerClosed. Unless opts
// has a Logger, the server logs to the test's log.
func startServer(t testing.TB, opts proxy.ServerOptions) (*proxy.Server, string) {
	t.Helper()
	if opts.Logger == nil {
		if _, ok := t.(*testing.B); !ok {
			opts.Logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	srv, err := proxy.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return srv, wstest.Start(t, srv, proxy.ErrServerClosed)
}

// targetServer is a TCP target whose connections the test drives.
type targetServer struct {
	proxy.Target
	conns chan net.Conn
}

// startTarget listens on 127.0.0.1:0; accepted connections arrive on conns.
// Everything is closed when the test ends.
func startTarget(t testing.TB) *targetServer {
	t.Helper()
	ts := &targetServer{conns: make(chan net.Conn, 100)}
	ts.Address = wstest.Serve(t, wstest.Listen(t, "tcp"), func(c net.Conn) { ts.conns <- c })
	return ts
}

// accept returns the next connection made to the target.
func (ts *targetServer) accept(t testing.TB) net.Conn {
	t.Helper()
	select {
	case c := <-ts.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection to the target")
		return nil
	}
}

// startEcho is a target that echoes everything.
func startEcho(t testing.TB) proxy.Target {
	t.Helper()
	return proxy.Target{Address: wstest.Echo(t)}
}

// request returns an upgrade request with the given extra header lines.
// Lines starting with "-" remove the default header of that name.
func request(lines ...string) string {
	hdr := []string{
		"Host: example.com",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + testKey,
		"Sec-WebSocket-Version: 13",
	}
	for _, l := range lines {
		if name, ok := strings.CutPrefix(l, "-"); ok {
			hdr = slices.DeleteFunc(hdr, func(h string) bool { return strings.HasPrefix(h, name+":") })
			continue
		}
		name, _, _ := strings.Cut(l, ":")
		hdr = slices.DeleteFunc(hdr, func(h string) bool { return strings.HasPrefix(h, name+":") })
		hdr = append(hdr, l)
	}
	return "GET /websockify?token=secret HTTP/1.1\r\n" + strings.Join(hdr, "\r\n") + "\r\n\r\n"
}

// client is a raw WebSocket client.
type client struct {
	t         testing.TB
	conn      net.Conn
	br        *bufio.Reader
	resp      *http.Response
	closeSent bool
}

// dial connects to addr and sends raw.
func dial(t testing.TB, addr, raw string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, conn, raw)
}

// newClient is a client on conn (closed when the test ends) that has sent
// raw.
func newClient(t testing.TB, conn net.Conn, raw string) *client {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if raw != "" {
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
	}
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// upgradeConn opens a WebSocket session on conn.
func upgradeConn(t testing.TB, conn net.Conn, lines ...string) *client {
	t.Helper()
	c := newClient(t, conn, request(lines...))
	if resp := c.readResponse(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	return c
}

// readResponse reads the HTTP response.
func (c *client) readResponse() *http.Response {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c.resp = resp
	return resp
}

// upgrade opens a WebSocket session through the proxy at addr.
func upgrade(t testing.TB, addr string, lines ...string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return upgradeConn(t, conn, lines...)
}

// echo sends msg and checks that it comes back (from an echo target).
func (c *client) echo(msg string) {
	c.t.Helper()
	c.send(ws.OpBinary, true, []byte(msg))
	if got := string(c.readN(len(msg))); got != msg {
		c.t.Errorf("echo %q, want %q", got, msg)
	}
}

// frame returns a client frame, masked unless unmasked is set.
func frame(op ws.OpCode, fin bool, payload []byte, unmasked bool) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: !unmasked}
	p := bytes.Clone(payload)
	if h.Masked {
		h.Mask = [4]byte{0x12, 0x34, 0x56, 0x78}
		ws.Cipher(p, h.Mask, 0)
	}
	var b bytes.Buffer
	ws.WriteHeader(&b, h)
	b.Write(p)
	return b.Bytes()
}

// send writes one masked frame.
func (c *client) send(op ws.OpCode, fin bool, payload []byte) {
	c.t.Helper()
	c.write(frame(op, fin, payload, false))
	if op == ws.OpClose {
		c.closeSent = true
	}
}

func (c *client) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next frame from the server, which must not be masked.
func (c *client) read() (ws.Header, []byte) {
	c.t.Helper()
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		c.t.Fatalf("reading frame header: %v", err)
	}
	if h.Masked {
		c.t.Fatalf("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("reading frame payload: %v", err)
	}
	return h, p
}

// readMessage reads the next data frame and checks its opcode.
func (c *client) readMessage(op ws.OpCode) []byte {
	c.t.Helper()
	h, p := c.read()
	if h.OpCode != op || !h.Fin {
		c.t.Fatalf("got frame %v fin=%v (%q), want final %v", h.OpCode, h.Fin, p, op)
	}
	return p
}

// readN reads binary messages until n payload bytes have arrived.
func (c *client) readN(n int) []byte {
	c.t.Helper()
	var got []byte
	for len(got) < n {
		got = append(got, c.readMessage(ws.OpBinary)...)
	}
	return got
}

// expectClose reads frames until a close frame and checks its code and
// reason, answers it as a browser does if the server started the closing
// handshake, then checks that the server closes the connection.
func (c *client) expectClose(code proxy.CloseCode, reason string) {
	c.t.Helper()
	var p []byte
	for {
		var h ws.Header
		h, p = c.read()
		if h.OpCode != ws.OpClose {
			continue
		}
		var gotCode proxy.CloseCode
		var gotReason string
		if len(p) >= 2 {
			gotCode, gotReason = proxy.CloseCode(binary.BigEndian.Uint16(p)), string(p[2:])
		}
		if gotCode != code || (reason != "" && gotReason != reason) {
			c.t.Fatalf("close %d %q, want %d %q", gotCode, gotReason, code, reason)
		}
		break
	}
	if !c.closeSent {
		c.conn.Write(frame(ws.OpClose, true, p, false))
		c.closeSent = true
	}
	c.expectEOF()
	c.conn.Close()
}

// expectEOF checks that the server closes the connection without sending
// anything more.
func (c *client) expectEOF() {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if len(b) > 0 {
		c.t.Fatalf("got %d more bytes (%q), want EOF", len(b), b)
	}
	if err != nil && !isReset(err) {
		c.t.Fatalf("got %v, want EOF", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// readAll reads from a target connection until EOF.
func readAll(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading target: %v", err)
	}
	return b
}

// readFull reads n bytes from a target connection.
func readFull(t testing.TB, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes from target: %v", n, err)
	}
	return b
}

// tapRecord is one Frame call.
type tapRecord struct {
	dir     proxy.Direction
	typ     proxy.MessageType
	at      time.Duration
	payload []byte
}

// recordingTap keeps what it sees; failAfter > 0 makes the Frame call with
// that number fail.
type recordingTap struct {
	mu        sync.Mutex
	info      *proxy.SessionInfo
	frames    []tapRecord
	closes    []proxy.CloseInfo
	failAfter int
	closed    chan struct{}
}

func newRecordingTap() *recordingTap { return &recordingTap{closed: make(chan struct{})} }

func (r *recordingTap) newTap(_ context.Context, info *proxy.SessionInfo) (proxy.Tap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.info = info
	return r, nil
}

var errTapFull = errors.New("disk full")

func (r *recordingTap) Frame(dir proxy.Direction, typ proxy.MessageType, at time.Duration, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.closes) > 0 {
		return fmt.Errorf("Frame after Close")
	}
	r.frames = append(r.frames, tapRecord{dir, typ, at, bytes.Clone(payload)})
	if r.failAfter > 0 && len(r.frames) >= r.failAfter {
		return errTapFull
	}
	return nil
}

func (r *recordingTap) Close(ci proxy.CloseInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closes = append(r.closes, ci)
	if len(r.closes) == 1 {
		close(r.closed)
	}
	return nil
}

// waitClosed waits for the session's Close and returns its CloseInfo and
// the frames seen.
func (r *recordingTap) waitClosed(t testing.TB) (proxy.CloseInfo, []tapRecord) {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("tap not closed")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.closes) != 1 {
		t.Fatalf("Close called %d times, want 1", len(r.closes))
	}
	return r.closes[0], r.frames
}

// syncBuffer is a log destination that tests may read while it is written.
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
