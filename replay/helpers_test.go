package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of a test on real time.
const waitTimeout = 10 * time.Second

// fakeClock is a replay.Clock that moves only when the test says so. Every
// timer it makes is also sent on created, so that a test can wait until
// the replay waits.
type fakeClock struct {
	base    time.Time // the time it starts at
	created chan *fakeTimer

	mu      sync.Mutex
	now     time.Time
	pending []*fakeTimer
}

func newFakeClock() *fakeClock {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &fakeClock{base: base, now: base, created: make(chan *fakeTimer, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) replay.Timer {
	c.mu.Lock()
	t := &fakeTimer{clk: c, when: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.pending = append(c.pending, t)
	}
	c.mu.Unlock()
	c.created <- t
	return t
}

// set moves the clock to base+at and fires the timers that are due.
func (c *fakeClock) set(at time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.base.Add(at)
	kept := c.pending[:0]
	for _, t := range c.pending {
		if t.when.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
	}
	c.pending = kept
}

// next returns the next timer made, failing the test if none is made.
func (c *fakeClock) next(t testing.TB) *fakeTimer {
	t.Helper()
	select {
	case tm := <-c.created:
		return tm
	case <-time.After(waitTimeout):
		t.Fatalf("no timer within %v", waitTimeout)
		return nil
	}
}

// advance waits for the next timer, checks that it is due at want after
// the clock's base, and moves the clock there.
func (c *fakeClock) advance(t testing.TB, want time.Duration) {
	t.Helper()
	tm := c.next(t)
	if got := tm.when.Sub(c.base); got != want {
		t.Fatalf("got a timer at %v, want %v", got, want)
	}
	c.set(want)
}

// noTimer checks that no timer was made.
func (c *fakeClock) noTimer(t testing.TB) {
	t.Helper()
	select {
	case tm := <-c.created:
		t.Fatalf("got a timer at %v, want none", tm.when.Sub(c.base))
	default:
	}
}

type fakeTimer struct {
	clk  *fakeClock
	when time.Time
	c    chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	for i, p := range t.clk.pending {
		if p == t {
			t.clk.pending = append(t.clk.pending[:i], t.clk.pending[i+1:]...)
			return true
		}
	}
	return false
}

// rec returns a message record.
func msg(at time.Duration, dir format.Direction, payload string) format.Record {
	return format.Record{Kind: format.KindMessage, Time: at, Dir: dir, Payload: []byte(payload)}
}

func toClient(at time.Duration, payload string) format.Record {
	return msg(at, format.TargetToClient, payload)
}

func fromClient(at time.Duration, payload string) format.Record {
	return msg(at, format.ClientToTarget, payload)
}

func marker(at time.Duration, label string) format.Record {
	return format.Record{Kind: format.KindMarker, Time: at, Label: label}
}

func closeRec(at time.Duration) format.Record {
	return format.Record{Kind: format.KindClose, Time: at, Close: format.CloseInfo{By: format.ClosedByClient, Code: 1000}}
}

// writeRecording writes a sealed wsrec recording of recs to dir/name and
// returns its path.
func writeRecording(t testing.TB, dir, name string, meta map[string]string, recs ...format.Record) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Header{Meta: meta}, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a log destination that tests read while servers write.
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

// waitFor waits until the log contains s.
func (b *syncBuffer) waitFor(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log does not contain %q:\n%s", s, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForN waits until the log contains s n times.
func (b *syncBuffer) waitForN(t testing.TB, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for strings.Count(b.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log does not contain %q %d times:\n%s", s, n, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server is a replay.Server on 127.0.0.1:0 for one test.
type server struct {
	*replay.Server
	addr string
	log  *syncBuffer
}

// startServer serves paths; the server is closed when the test ends, and
// Serve must then have returned proxy.ErrServerClosed. Its log is in
// server.log, and in the test's log if the test fails.
func startServer(t testing.TB, paths []string, opts replay.ServerOptions) *server {
	t.Helper()
	logs := new(syncBuffer)
	if opts.Proxy.Logger == nil {
		opts.Proxy.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := replay.NewServer(paths, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &server{Server: srv, addr: ln.Addr().String(), log: logs}
}

// waitIdle waits until the server has no session.
func (s *server) waitIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for s.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after %v", s.Active(), waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// client is a WebSocket client of a test server.
type client struct {
	net.Conn
	r        io.Reader // the connection, after what the dialer buffered
	protocol string
}

// dial opens a WebSocket to the server at path (with its query), offering
// protocols. It is closed when the test ends.
func dial(t testing.TB, addr, path string, protocols ...string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	d := ws.Dialer{Protocols: protocols}
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{Conn: conn, r: conn, protocol: hs.Protocol}
	if br != nil {
		// The first message came with the handshake's response.
		c.r = io.MultiReader(br, conn)
	}
	return c
}

// frame is what a client read: a data message or a close.
type frame struct {
	op      ws.OpCode
	payload []byte
	code    ws.StatusCode // of a close
	reason  string
}

// read reads the next frame.
func (c *client) read(t testing.TB) frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	f, err := readFrame(c.r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if f.Header.Masked {
		t.Fatal("read: a masked frame from the server")
	}
	if !f.Header.Fin {
		t.Fatal("read: a fragmented message from the server")
	}
	fr := frame{op: f.Header.OpCode, payload: f.Payload}
	if f.Header.OpCode == ws.OpClose {
		fr.code, fr.reason = ws.ParseCloseFrameData(f.Payload)
	}
	return fr
}

// expect reads the next message and checks that it is payload.
func (c *client) expect(t testing.TB, payload string) {
	t.Helper()
	f := c.read(t)
	if f.op == ws.OpClose {
		t.Fatalf("got close %d %q, want message %q", f.code, f.reason, payload)
	}
	got := f.payload
	if c.protocol == "base64" {
		if f.op != ws.OpText {
			t.Fatalf("got opcode %v on a base64 session, want text", f.op)
		}
		if got = decodeBase64(t, f.payload); got == nil {
			return
		}
	} else if f.op != ws.OpBinary {
		t.Fatalf("got opcode %v, want binary", f.op)
	}
	if string(got) != payload {
		t.Fatalf("got message %q, want %q", trim(got), trim([]byte(payload)))
	}
}

// expectClose reads the next frame, checks that it is a close with code,
// answers it and closes the connection, as a client does (RFC 6455
// section 5.5.1).
func (c *client) expectClose(t testing.TB, code ws.StatusCode) frame {
	t.Helper()
	f := c.read(t)
	if f.op != ws.OpClose {
		t.Fatalf("got a %v message %q, want close %d", f.op, trim(f.payload), code)
	}
	if f.code != code {
		t.Fatalf("got close %d %q, want %d", f.code, f.reason, code)
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(f.payload)))
	c.Close()
	return f
}

// expectSilence checks that nothing arrives for d.
func (c *client) expectSilence(t testing.TB, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	f, err := readFrame(c.r)
	if err == nil {
		t.Fatalf("got a %v frame %q, want nothing for %v", f.Header.OpCode, trim(f.Payload), d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want nothing for %v", err, d)
	}
}

// send sends a binary message, or a base64 text one on a base64 session.
func (c *client) send(t testing.TB, payload string) {
	t.Helper()
	var err error
	if c.protocol == "base64" {
		err = wsutil.WriteClientText(c, []byte(encodeBase64(payload)))
	} else {
		err = wsutil.WriteClientBinary(c, []byte(payload))
	}
	if err != nil {
		t.Fatalf("send: %v", err)
	}
}

// closeWith sends a close frame with code.
func (c *client) closeWith(t testing.TB, code ws.StatusCode) {
	t.Helper()
	body := ws.NewCloseFrameBody(code, "")
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(body))); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// trim shortens a payload for messages.
func trim(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
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
