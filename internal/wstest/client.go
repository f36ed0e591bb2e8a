package wstest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// DialOptions configures Dial. The zero value dials with no subprotocol,
// no extra header, the system's TLS roots and the system's choice of local
// address.
type DialOptions struct {
	// Protocols are the subprotocols offered, such as "binary" as noVNC
	// offers. Nil offers none.
	Protocols []string
	// Header holds extra request headers, such as a forged
	// X-Forwarded-For. Nil means none.
	Header http.Header
	// TLS is the configuration of a wss:// URL. Nil means the defaults.
	TLS *tls.Config
	// LocalIP is the address the client connects from, such as 127.0.0.2,
	// so that the client differs from a proxy on 127.0.0.1. Empty means
	// the system's choice. It is ignored when NetDial is set.
	LocalIP string
	// NetDial, if not nil, opens the connection instead of a TCP dial, for
	// a server on a unix socket.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Conn is a client's WebSocket session. Its Read returns the raw bytes of
// the server's frames, those that came with the handshake's response
// first; the methods read and write whole frames. Like a net.Conn, it is
// safe for one reader and one writer at a time.
type Conn struct {
	net.Conn
	r io.Reader
	// Protocol is the subprotocol that the server chose, "" for none.
	// Send and Expect speak base64 text messages when it is "base64".
	Protocol string
	// Local is the client's address, "IP:PORT".
	Local string
}

// Dial opens a WebSocket session to url (ws:// or wss://), failing the test
// if it cannot. The connection is closed when the test ends.
func Dial(t testing.TB, url string, opts DialOptions) *Conn {
	t.Helper()
	c, err := TryDial(t, url, opts)
	if err != nil {
		t.Fatalf("WebSocket dial %s: %v", url, err)
	}
	return c
}

// TryDial is Dial that returns the error of the dial or of the handshake,
// for a test that expects one. The connection is closed when the test ends.
func TryDial(t testing.TB, url string, opts DialOptions) (*Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	c, err := DialContext(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Conn.Close() })
	return c, nil
}

// DialContext opens a WebSocket session to url, for a goroutine other than
// the test's. The caller closes the connection.
func DialContext(ctx context.Context, url string, opts DialOptions) (*Conn, error) {
	netDial := opts.NetDial
	if netDial == nil {
		nd := &net.Dialer{}
		if opts.LocalIP != "" {
			nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opts.LocalIP)}
		}
		netDial = nd.DialContext
	}
	var local string
	d := ws.Dialer{
		Protocols: opts.Protocols,
		TLSConfig: opts.TLS,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := netDial(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr().String()
			}
			return c, err
		},
	}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	// What came with the handshake's response is read first.
	c := Buffered(conn, br)
	c.Protocol, c.Local = hs.Protocol, local
	return c, nil
}

// Client returns a Conn on conn, a client's WebSocket session whose
// handshake the test made itself and left nothing buffered.
func Client(conn net.Conn) *Conn {
	return Buffered(conn, nil)
}

// Buffered returns a Conn on conn, a client's WebSocket session whose
// handshake the test made itself, that reads what br read ahead of the
// handshake's end first. br may be nil.
func Buffered(conn net.Conn, br *bufio.Reader) *Conn {
	c := &Conn{Conn: conn, r: conn, Local: conn.LocalAddr().String()}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c
}

// Read reads raw WebSocket bytes, those read ahead with the handshake first.
func (c *Conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// MaxFrame bounds the length of the frames that a Conn reads.
const MaxFrame = 64 << 20

// ReadFrame reads one frame from the server, unmasking it if it is masked:
// ws.ReadFrame with a bound, MaxFrame, on the length the peer declares. It
// sets no deadline.
func (c *Conn) ReadFrame() (ws.Frame, error) {
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > MaxFrame {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	if _, err := io.ReadFull(c.r, f.Payload); err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(f.Payload, h.Mask, 0)
	}
	return f, nil
}

// Frame is what a client read: a whole data message, or a close.
type Frame struct {
	Op      ws.OpCode
	Payload []byte
	Code    ws.StatusCode // of a close
	Reason  string        // of a close
}

// Next reads the next frame, which must be unmasked and final, waiting up
// to Timeout.
func (c *Conn) Next(t testing.TB) Frame {
	t.Helper()
	return c.NextWithin(t, Timeout)
}

// NextWithin is Next waiting up to d, for answers that wait on work
// (such as a seek on a seek index still being built).
func (c *Conn) NextWithin(t testing.TB, d time.Duration) Frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if f.Header.Masked {
		t.Fatal("read: a masked frame from the server")
	}
	if !f.Header.Fin {
		t.Fatal("read: a fragmented message from the server")
	}
	fr := Frame{Op: f.Header.OpCode, Payload: f.Payload}
	if fr.Op == ws.OpClose {
		fr.Code, fr.Reason = ws.ParseCloseFrameData(f.Payload)
	}
	return fr
}

// Expect reads the next message and checks that it is payload: a binary
// message, or a base64 text one on a base64 session.
func (c *Conn) Expect(t testing.TB, payload string) {
	t.Helper()
	f := c.Next(t)
	if f.Op == ws.OpClose {
		t.Fatalf("got close %d %q, want message %q", f.Code, f.Reason, Trim([]byte(payload)))
	}
	got := f.Payload
	if c.Protocol == "base64" {
		if f.Op != ws.OpText {
			t.Fatalf("got opcode %v on a base64 session, want text", f.Op)
		}
		var err error
		if got, err = base64.StdEncoding.DecodeString(string(f.Payload)); err != nil {
			t.Fatalf("base64 message %q: %v", Trim(f.Payload), err)
		}
	} else if f.Op != ws.OpBinary {
		t.Fatalf("got opcode %v %q, want binary %q", f.Op, Trim(f.Payload), Trim([]byte(payload)))
	}
	if string(got) != payload {
		t.Fatalf("got message %q, want %q", Trim(got), Trim([]byte(payload)))
	}
}

// ExpectClose reads the next frame, checks that it is a close with code,
// answers it and closes the connection, as a client does (RFC 6455
// section 5.5.1).
func (c *Conn) ExpectClose(t testing.TB, code ws.StatusCode) Frame {
	t.Helper()
	f := c.Next(t)
	if f.Op != ws.OpClose {
		t.Fatalf("got a %v message %q, want close %d", f.Op, Trim(f.Payload), code)
	}
	if f.Code != code {
		t.Fatalf("got close %d %q, want %d", f.Code, f.Reason, code)
	}
	ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(f.Payload)))
	c.Conn.Close()
	return f
}

// ReadClose reads frames, data messages included, until a close frame and
// returns its code.
func (c *Conn) ReadClose(t testing.TB) ws.StatusCode {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(Timeout))
	for {
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatalf("reading until a close frame: %v", err)
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code
		}
	}
}

// ExpectSilence checks that nothing arrives for d.
func (c *Conn) ExpectSilence(t testing.TB, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	f, err := c.ReadFrame()
	if err == nil {
		t.Fatalf("got a %v frame %q, want nothing for %v", f.Header.OpCode, Trim(f.Payload), d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want nothing for %v", err, d)
	}
}

// Send sends payload as one binary message, or as a base64 text one on a
// base64 session.
func (c *Conn) Send(t testing.TB, payload string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(Timeout))
	defer c.SetWriteDeadline(time.Time{})
	var err error
	if c.Protocol == "base64" {
		err = wsutil.WriteClientText(c.Conn, []byte(base64.StdEncoding.EncodeToString([]byte(payload))))
	} else {
		err = wsutil.WriteClientBinary(c.Conn, []byte(payload))
	}
	if err != nil {
		t.Fatalf("send: %v", err)
	}
}

// ReadN reads binary messages until n bytes came, and returns them.
func (c *Conn) ReadN(t testing.TB, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(Timeout))
	defer c.SetReadDeadline(time.Time{})
	var got []byte
	for len(got) < n {
		p, err := wsutil.ReadServerBinary(c)
		if err != nil {
			t.Fatalf("read: %v (got %q so far)", err, got)
		}
		got = append(got, p...)
	}
	return string(got)
}

// Exchange sends msg as one binary message and returns as many bytes as
// came back, read from binary messages.
func (c *Conn) Exchange(t testing.TB, msg string) string {
	t.Helper()
	c.Send(t, msg)
	return c.ReadN(t, len(msg))
}

// Echo sends msg and checks that it comes back, as it does through an
// echo target.
func (c *Conn) Echo(t testing.TB, msg string) {
	t.Helper()
	if got := c.Exchange(t, msg); got != msg {
		t.Fatalf("got echo %q, want %q", got, msg)
	}
}

// CloseWith sends a close frame with code.
func (c *Conn) CloseWith(t testing.TB, code ws.StatusCode) {
	t.Helper()
	if err := ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// Goodbye sends a close frame with status 1000, as a browser does when it
// leaves, and closes the connection without waiting for the answer.
func (c *Conn) Goodbye() error {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_ = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	return c.Conn.Close()
}

// Trim shortens a payload for a test's messages.
func Trim(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
}
