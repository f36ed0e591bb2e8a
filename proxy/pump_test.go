package proxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/proxy"
)

// session starts a server in front of a scripted target and opens a
// session; it returns the client and the target's side of the connection.
func session(t *testing.T, opts proxy.ServerOptions, lines ...string) (*client, net.Conn) {
	t.Helper()
	ts := startTarget(t)
	opts.Resolver = ts.Target
	_, addr := startServer(t, opts)
	c := upgrade(t, addr, lines...)
	return c, ts.accept(t)
}

func closeFrame(code proxy.CloseCode, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(p, reason...)
}

// Frames that break the protocol end the session with the RFC 6455 code,
// and nothing of them reaches the target.
func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		frames [][]byte
		code   proxy.CloseCode
	}{
		{name: "ErrUnmasked", frames: [][]byte{frame(ws.OpBinary, true, []byte("x"), true)}, code: proxy.CloseProtocolError},
		{name: "ErrTextOnBinary", frames: [][]byte{frame(ws.OpText, true, []byte("x"), false)}, code: proxy.CloseUnsupportedData},
		{name: "ErrFragmentedPing", frames: [][]byte{frame(ws.OpPing, false, []byte("x"), false)}, code: proxy.CloseProtocolError},
		{name: "ErrFragmentedClose", frames: [][]byte{frame(ws.OpClose, false, closeFrame(1000, ""), false)}, code: proxy.CloseProtocolError},
		{name: "ErrControlTooLong", frames: [][]byte{frame(ws.OpPing, true, make([]byte, 126), false)}, code: proxy.CloseProtocolError},
		{name: "ErrReservedOpcode", frames: [][]byte{frame(0x3, true, []byte("x"), false)}, code: proxy.CloseProtocolError},
		{name: "ErrRSV", frames: [][]byte{func() []byte { f := frame(ws.OpBinary, true, []byte("x"), false); f[0] |= 0x40; return f }()}, code: proxy.CloseProtocolError},
		{name: "ErrContinuationFirst", frames: [][]byte{frame(ws.OpContinuation, true, []byte("x"), false)}, code: proxy.CloseProtocolError},
		{name: "ErrNewMessageInFragmented", frames: [][]byte{frame(ws.OpBinary, false, []byte("a"), false), frame(ws.OpBinary, true, []byte("b"), false)}, code: proxy.CloseProtocolError},
		{name: "ErrOversize", frames: [][]byte{frame(ws.OpBinary, true, make([]byte, 1025), false)}, code: proxy.CloseMessageTooBig},
		{name: "ErrOversizeDeclared", frames: [][]byte{{0x82, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4}}, code: proxy.CloseMessageTooBig},
		{name: "ErrOversizeFragmented", frames: [][]byte{frame(ws.OpBinary, false, make([]byte, 600), false), frame(ws.OpContinuation, true, make([]byte, 600), false)}, code: proxy.CloseMessageTooBig},
		{name: "ErrLengthMSB", frames: [][]byte{{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}}, code: proxy.CloseProtocolError},
		{name: "ErrCloseOneByte", frames: [][]byte{frame(ws.OpClose, true, []byte{3}, false)}, code: proxy.CloseProtocolError},
		{name: "ErrCloseBadCode", frames: [][]byte{frame(ws.OpClose, true, closeFrame(1005, ""), false)}, code: proxy.CloseProtocolError},
		{name: "ErrCloseBadUTF8", frames: [][]byte{frame(ws.OpClose, true, closeFrame(1000, "\xff"), false)}, code: proxy.CloseInvalidPayload},
		{name: "ErrCloseBadUTF8Truncated", frames: [][]byte{frame(ws.OpClose, true, closeFrame(4000, "caf\xc3"), false)}, code: proxy.CloseInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tap := newRecordingTap()
			c, target := session(t, proxy.ServerOptions{MaxMessageSize: 1024, NewTap: tap.newTap})
			for _, f := range tt.frames {
				c.write(f)
			}
			c.expectClose(tt.code, "")
			if got := readAll(t, target); len(got) > 0 {
				t.Errorf("target got %q, want nothing", got)
			}
			ci, frames := tap.waitClosed(t)
			if ci.By != proxy.SideProxy || ci.Code != tt.code || ci.Err == nil {
				t.Errorf("CloseInfo %+v, want by proxy, code %d, an error", ci, tt.code)
			}
			if len(frames) != 0 {
				t.Errorf("tap saw %d frames, want 0", len(frames))
			}
		})
	}
}

// A close code outside those RFC 6455 section 7.4 lets an endpoint send
// fails the connection with 1002; the others are echoed.
func TestClientCloseCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  proxy.CloseCode
		valid bool
	}{
		{0, false}, {999, false},
		{1000, true}, {1001, true}, {1002, true}, {1003, true},
		{1004, false}, {1005, false}, {1006, false},
		{1007, true}, {1008, true}, {1009, true}, {1010, true}, {1011, true},
		{1012, true}, {1013, true}, {1014, true},
		{1015, false}, {1016, false}, {1100, false}, {2000, false}, {2999, false},
		{3000, true}, {3999, true}, {4000, true}, {4999, true},
		{5000, false}, {65535, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("Echo%d", tt.code)
		if !tt.valid {
			name = fmt.Sprintf("Err%d", tt.code)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tap := newRecordingTap()
			c, _ := session(t, proxy.ServerOptions{NewTap: tap.newTap})
			c.send(ws.OpClose, true, closeFrame(tt.code, "bye"))
			if tt.valid {
				c.expectClose(tt.code, "bye")
				ci, _ := tap.waitClosed(t)
				if ci.By != proxy.SideClient || ci.Code != tt.code || ci.Reason != "bye" || ci.Err != nil {
					t.Errorf("CloseInfo %+v, want by client, %d \"bye\"", ci, tt.code)
				}
				return
			}
			want := fmt.Sprintf("Protocol error: close code %d may not be sent", tt.code)
			c.expectClose(proxy.CloseProtocolError, want)
			ci, _ := tap.waitClosed(t)
			if ci.By != proxy.SideProxy || ci.Code != proxy.CloseProtocolError || ci.Err == nil {
				t.Errorf("CloseInfo %+v, want by proxy, 1002, an error", ci)
			}
		})
	}
}

func TestPingPong(t *testing.T) {
	t.Parallel()
	c, _ := session(t, proxy.ServerOptions{})
	c.send(ws.OpPing, true, []byte("are you there"))
	if got := c.readMessage(ws.OpPong); string(got) != "are you there" {
		t.Errorf("pong %q, want the ping's payload", got)
	}
}

// Fragments are reassembled into one message, with control frames between
// them answered.
func TestFragmented(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	big := bytes.Repeat([]byte("0123456789"), 10000) // over one buffer
	c.send(ws.OpBinary, false, []byte("hel"))
	c.send(ws.OpPing, true, []byte("p"))
	c.send(ws.OpContinuation, false, []byte("lo "))
	c.send(ws.OpContinuation, true, big)
	c.send(ws.OpBinary, true, []byte("next"))
	if got := c.readMessage(ws.OpPong); string(got) != "p" {
		t.Errorf("pong %q", got)
	}
	want := append([]byte("hello "), big...)
	want = append(want, "next"...)
	if got := readFull(t, target, len(want)); !bytes.Equal(got, want) {
		t.Errorf("target got %d bytes, want %d", len(got), len(want))
	}
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectClose(proxy.CloseNormal, "")
	_, frames := tap.waitClosed(t)
	if len(frames) != 2 || len(frames[0].payload) != len("hello ")+len(big) || string(frames[1].payload) != "next" {
		t.Errorf("tap saw %d frames, want 2 (the whole fragmented message, then next)", len(frames))
	}
}

// The client's close is echoed with its code and reason; the target gets
// everything sent before it, then EOF.
func TestClientClose(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	c.send(ws.OpBinary, true, []byte("last words"))
	c.send(ws.OpClose, true, closeFrame(4001, "bye"))
	c.expectClose(4001, "bye")
	if got := readAll(t, target); string(got) != "last words" {
		t.Errorf("target got %q", got)
	}
	ci, _ := tap.waitClosed(t)
	if ci.By != proxy.SideClient || ci.Code != 4001 || ci.Reason != "bye" || ci.ToTarget != 10 || ci.Err != nil {
		t.Errorf("CloseInfo %+v", ci)
	}
}

func TestClientCloseNoCode(t *testing.T) {
	t.Parallel()
	c, _ := session(t, proxy.ServerOptions{})
	c.send(ws.OpClose, true, nil)
	h, p := c.read()
	if h.OpCode != ws.OpClose || len(p) != 0 {
		t.Errorf("got %v %q, want an empty close", h.OpCode, p)
	}
	c.expectEOF()
}

// A client that disappears without a close frame ends the session; the
// target gets EOF.
func TestClientVanishes(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	c.send(ws.OpBinary, true, []byte("abc"))
	c.conn.Close()
	if got := readAll(t, target); string(got) != "abc" {
		t.Errorf("target got %q", got)
	}
	ci, _ := tap.waitClosed(t)
	if ci.By != proxy.SideClient || ci.Code != proxy.CloseAbnormal {
		t.Errorf("CloseInfo %+v, want by client, 1006", ci)
	}
}

// When the target closes, what it sent is delivered first, then a close
// 1000 "Target closed".
func TestTargetClose(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	data := bytes.Repeat([]byte("frame buffer "), 50000) // several reads
	target.Write(data)
	target.Close()
	if got := c.readN(len(data)); !bytes.Equal(got, data) {
		t.Fatalf("client got %d bytes, want %d", len(got), len(data))
	}
	c.expectClose(proxy.CloseNormal, "Target closed")
	ci, _ := tap.waitClosed(t)
	if ci.By != proxy.SideTarget || ci.Code != proxy.CloseNormal || ci.ToClient != int64(len(data)) {
		t.Errorf("CloseInfo %+v", ci)
	}
}

// The client answers the proxy's close; the session ends cleanly.
func TestTargetCloseHandshake(t *testing.T) {
	t.Parallel()
	c, target := session(t, proxy.ServerOptions{})
	target.Close()
	h, _ := c.read()
	if h.OpCode != ws.OpClose {
		t.Fatalf("got %v, want close", h.OpCode)
	}
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectEOF()
}

func TestTargetRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := proxy.Target{Address: ln.Addr().String()}
	ln.Close()
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: dead, NewTap: tap.newTap})
	c := upgrade(t, addr)
	c.expectClose(proxy.CloseInternalError, "Failed to connect to downstream server")
	select {
	case <-tap.closed:
		t.Error("tap opened for a session whose target was never reached")
	default:
	}
}

func TestTapFactoryError(t *testing.T) {
	t.Parallel()
	newTap := func(context.Context, *proxy.SessionInfo) (proxy.Tap, error) { return nil, errTapFull }
	c, target := session(t, proxy.ServerOptions{NewTap: newTap})
	c.expectClose(proxy.CloseInternalError, "Recording unavailable")
	if got := readAll(t, target); len(got) > 0 {
		t.Errorf("target got %q", got)
	}
}

// The tap sees every message, byte for byte, with its direction and
// non-decreasing times; target data is one message per chunk.
func TestTapExact(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), NewTap: tap.newTap})
	c := upgrade(t, addr, "Sec-WebSocket-Protocol: binary", "Origin: http://example.com", "User-Agent: test/1.0")

	rng := rand.New(rand.NewPCG(1, 2))
	var sent [][]byte
	total := 0
	for _, n := range []int{0, 1, 13, 125, 126, 500, 600, 4096, 65535, 65536, 70000, 300000, 7} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		sent = append(sent, p)
		total += n
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, p := range sent {
			c.send(ws.OpBinary, true, p)
		}
	})
	var received [][]byte
	got := 0
	for got < total {
		p := c.readMessage(ws.OpBinary)
		received = append(received, p)
		got += len(p)
	}
	wg.Wait()
	c.send(ws.OpClose, true, closeFrame(1000, "done"))
	c.expectClose(1000, "done")
	ci, frames := tap.waitClosed(t)

	var c2t, t2c [][]byte
	var last time.Duration
	for i, f := range frames {
		if f.at < last {
			t.Errorf("frame %d at %v, before %v", i, f.at, last)
		}
		last = f.at
		if f.typ != proxy.MessageBinary {
			t.Errorf("frame %d type %v", i, f.typ)
		}
		switch f.dir {
		case proxy.ClientToTarget:
			c2t = append(c2t, f.payload)
		case proxy.TargetToClient:
			t2c = append(t2c, f.payload)
		default:
			t.Errorf("frame %d direction %v", i, f.dir)
		}
	}
	if len(c2t) != len(sent) {
		t.Fatalf("tap saw %d client messages, want %d", len(c2t), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(c2t[i], sent[i]) {
			t.Errorf("client message %d: tap has %d bytes, sent %d", i, len(c2t[i]), len(sent[i]))
		}
	}
	if len(t2c) != len(received) {
		t.Fatalf("tap saw %d target chunks, client received %d messages", len(t2c), len(received))
	}
	for i := range received {
		if !bytes.Equal(t2c[i], received[i]) {
			t.Errorf("target chunk %d differs from client message %d", i, i)
		}
	}
	if ci.ToTarget != int64(total) || ci.ToClient != int64(total) || ci.By != proxy.SideClient || ci.Code != 1000 {
		t.Errorf("CloseInfo %+v, want %d bytes each way, closed by client 1000", ci, total)
	}
	info := tap.info
	if info.Subprotocol != "binary" || info.Origin != "http://example.com" || info.UserAgent != "test/1.0" ||
		info.Path != "/websockify" || info.TLS != nil || info.Target == "" || info.ClientAddr != info.RemoteAddr.String() ||
		len(info.ID.String()) != 32 || info.Start.IsZero() {
		t.Errorf("SessionInfo %+v", info)
	}
}

// A tap error closes the session with 1011 and the message is not
// forwarded.
func TestTapError(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	tap.failAfter = 2
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	c.send(ws.OpBinary, true, []byte("one"))
	if got := readFull(t, target, 3); string(got) != "one" {
		t.Fatalf("target got %q", got)
	}
	c.send(ws.OpBinary, true, []byte("two"))
	c.send(ws.OpBinary, true, []byte("three"))
	c.expectClose(proxy.CloseInternalError, "Recording failed")
	if got := readAll(t, target); len(got) > 0 {
		t.Errorf("target got %q after the tap failed", got)
	}
	ci, frames := tap.waitClosed(t)
	if len(frames) != 2 || ci.Code != proxy.CloseInternalError || ci.By != proxy.SideProxy {
		t.Errorf("tap saw %d frames, CloseInfo %+v", len(frames), ci)
	}
}

// The same for data from the target: it does not reach the client.
func TestTapErrorTargetToClient(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	tap.failAfter = 1
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})
	target.Write([]byte("secret"))
	c.expectClose(proxy.CloseInternalError, "Recording failed")
}

func TestBase64(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap}, "Sec-WebSocket-Protocol: base64")
	c.send(ws.OpText, true, []byte(base64.StdEncoding.EncodeToString([]byte("hello\x00\xff"))))
	if got := readFull(t, target, 7); string(got) != "hello\x00\xff" {
		t.Errorf("target got %q", got)
	}
	target.Write([]byte("world\x01"))
	p := c.readMessage(ws.OpText)
	if got, err := base64.StdEncoding.DecodeString(string(p)); err != nil || string(got) != "world\x01" {
		t.Errorf("client got %q (%v)", p, err)
	}
	c.send(ws.OpText, true, []byte("not base64!"))
	c.expectClose(proxy.CloseInvalidPayload, "")
	_, frames := tap.waitClosed(t)
	if len(frames) != 2 || frames[0].typ != proxy.MessageText || string(frames[0].payload) != "hello\x00\xff" ||
		frames[1].typ != proxy.MessageText || string(frames[1].payload) != "world\x01" {
		t.Errorf("tap frames %+v", frames)
	}
}

func TestBase64Binary(t *testing.T) {
	t.Parallel()
	c, _ := session(t, proxy.ServerOptions{}, "Sec-WebSocket-Protocol: base64")
	c.send(ws.OpBinary, true, []byte("x"))
	c.expectClose(proxy.CloseUnsupportedData, "")
}

// Frames sent together with the request are not lost.
func TestFramesWithRequest(t *testing.T) {
	t.Parallel()
	ts := startTarget(t)
	_, addr := startServer(t, proxy.ServerOptions{Resolver: ts.Target})
	raw := request() + string(frame(ws.OpBinary, true, []byte("early"), false)) + string(frame(ws.OpBinary, true, make([]byte, 2000), false))
	c := dial(t, addr, raw)
	if resp := c.readResponse(); resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	target := ts.accept(t)
	if got := readFull(t, target, 2005); string(got[:5]) != "early" {
		t.Errorf("target got %q", got[:5])
	}
}

// A burst from the target bigger than the socket buffers, then silence:
// all of it arrives (the non-blocking read must not stall).
func TestTargetBurst(t *testing.T) {
	t.Parallel()
	c, target := session(t, proxy.ServerOptions{})
	for round := range 3 {
		data := bytes.Repeat([]byte{byte(round)}, 3<<20+round)
		go target.Write(data)
		if got := c.readN(len(data)); !bytes.Equal(got, data) {
			t.Fatalf("round %d: got %d bytes, want %d", round, len(got), len(data))
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	c, _ := session(t, proxy.ServerOptions{IdleTimeout: 300 * time.Millisecond})
	start := time.Now()
	c.send(ws.OpBinary, true, []byte("x"))
	time.Sleep(150 * time.Millisecond)
	c.send(ws.OpBinary, true, []byte("y")) // traffic postpones the timeout
	c.expectClose(proxy.CloseNormal, "Idle timeout")
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("closed after %v, want at least 450ms", d)
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	c, _ := session(t, proxy.ServerOptions{Heartbeat: 50 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond})
	// Answer three pings: the session stays.
	for range 3 {
		h, p := c.read()
		if h.OpCode != ws.OpPing {
			t.Fatalf("got %v, want ping", h.OpCode)
		}
		c.send(ws.OpPong, true, p)
	}
	// Stop answering: closed within the timeout.
	start := time.Now()
	c.expectClose(proxy.CloseGoingAway, "Heartbeat timeout")
	if d := time.Since(start); d > 5*time.Second { // about 0.35s when the machine is not loaded
		t.Errorf("closed after %v", d)
	}
}

// Many sessions at once, each with its own data.
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t)})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			c := upgrade(t, addr)
			msg := bytes.Repeat([]byte{byte(i)}, 1000+i)
			for range 10 {
				c.send(ws.OpBinary, true, msg)
				if got := c.readN(len(msg)); !bytes.Equal(got, msg) {
					t.Errorf("session %d: echo differs", i)
					return
				}
			}
			c.send(ws.OpClose, true, closeFrame(1000, ""))
			c.expectClose(1000, "")
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Active() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.Active(); n != 0 {
		t.Errorf("%d sessions still active", n)
	}
}

var _ = io.EOF

// Messages that arrive in one read of the client are written to the target
// together; control frames, fragmented messages and the close among them
// keep their order, and nothing waits for the client's next write.
func TestBatchedMessages(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	c, target := session(t, proxy.ServerOptions{NewTap: tap.newTap})

	var burst, want []byte
	var wantFrames [][]byte
	data := func(p []byte) {
		burst = append(burst, frame(ws.OpBinary, true, p, false)...)
		want = append(want, p...)
		wantFrames = append(wantFrames, p)
	}
	for i := range 40 { // more than one batch
		data([]byte{byte(i), byte(i), byte(i)})
		if i == 20 {
			burst = append(burst, frame(ws.OpPing, true, []byte("ping in the middle"), false)...)
		}
	}
	data(nil)
	burst = append(burst, frame(ws.OpBinary, false, []byte("frag"), false)...)
	burst = append(burst, frame(ws.OpContinuation, true, []byte("mented"), false)...)
	want = append(want, "fragmented"...)
	wantFrames = append(wantFrames, []byte("fragmented"))
	data([]byte("after the fragments"))

	// The whole burst and the start of one more message: the burst must
	// reach the target while the client waits to send the rest.
	partial := frame(ws.OpBinary, true, []byte("split message"), false)
	c.write(append(burst, partial[:8]...))
	target.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got := readFull(t, target, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("target got %q\nwant %q", got, want)
	}
	if p := c.readMessage(ws.OpPong); string(p) != "ping in the middle" {
		t.Errorf("pong %q", p)
	}
	c.write(partial[8:])
	if got := readFull(t, target, len("split message")); string(got) != "split message" {
		t.Fatalf("target got %q, want \"split message\"", got)
	}
	wantFrames = append(wantFrames, []byte("split message"))

	// Then more messages and the close in one write: all of them before EOF.
	burst, want = nil, nil
	data([]byte("last"))
	data([]byte("words"))
	burst = append(burst, frame(ws.OpClose, true, closeFrame(1000, "done"), false)...)
	c.write(burst)
	c.expectClose(1000, "done")
	if got := readAll(t, target); string(got) != "lastwords" {
		t.Errorf("target got %q after the burst, want \"lastwords\"", got)
	}

	ci, frames := tap.waitClosed(t)
	var total int64
	for _, p := range wantFrames {
		total += int64(len(p))
	}
	if ci.ToTarget != total {
		t.Errorf("ToTarget %d, want %d", ci.ToTarget, total)
	}
	var got [][]byte
	for _, f := range frames {
		if f.dir == proxy.ClientToTarget {
			got = append(got, f.payload)
		}
	}
	if len(got) != len(wantFrames) {
		t.Fatalf("tap saw %d client messages, want %d", len(got), len(wantFrames))
	}
	for i := range got {
		if !bytes.Equal(got[i], wantFrames[i]) {
			t.Errorf("tap message %d: %q, want %q", i, got[i], wantFrames[i])
		}
	}
}
