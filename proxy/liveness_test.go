//go:build linux

package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsproxy/wsproxy/proxy"
)

// A vanished client cannot be made on loopback without netfilter: the
// peer's kernel answers as long as its socket exists. These tests make the
// proxy's side of the connection end the ways a vanished client ends it:
// by TCP_USER_TIMEOUT, with a client that stops reading (its receive
// window stays closed, and the kernel gives up on it as on a client that
// does not acknowledge), and by a reset that arrives while nobody reads or
// writes the client.

// lockedBuffer collects a server's log lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLine waits up to within for a line of b that matches re, and
// returns it.
func waitLine(t *testing.T, b *lockedBuffer, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if m := re.FindString(b.String()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s within %v; log:\n%s", re, within, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wrappedListener hands out connections that hide the *net.TCPConn behind
// a NetConn method, as wsproxy's connection tracking does.
type wrappedListener struct{ net.Listener }

func (l wrappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrappedConn{c}, nil
}

type wrappedConn struct{ net.Conn }

func (c wrappedConn) NetConn() net.Conn { return c.Conn }

func (c wrappedConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// startWrapped serves opts, logging into the returned buffer, on a
// wrappedListener; it returns the address and a target whose connections
// the test drives.
func startWrapped(t *testing.T, opts proxy.ServerOptions) (string, *targetServer, *lockedBuffer) {
	t.Helper()
	logs := new(lockedBuffer)
	ts := startTarget(t)
	opts.Resolver = ts.Target
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv, err := proxy.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), wrappedListener{ln}) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return ln.Addr().String(), ts, logs
}

// flood writes to c until a write fails, and reports on stalled when a
// write has waited for stall: the peer (or what is between) stopped
// reading. It returns when the test ends or the connection breaks.
func flood(t *testing.T, c net.Conn, chunk []byte, stalled chan<- struct{}) {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
	wg.Go(func() {
		const stall = 300 * time.Millisecond
		signaled := false
		for {
			if !signaled {
				c.SetWriteDeadline(time.Now().Add(stall))
			}
			_, err := c.Write(chunk)
			var ne net.Error
			if !signaled && errors.As(err, &ne) && ne.Timeout() {
				signaled = true
				c.SetWriteDeadline(time.Time{})
				stalled <- struct{}{}
				continue
			}
			if err != nil {
				return
			}
		}
	})
}

// waitStalled waits for flood to report a stall.
func waitStalled(t *testing.T, stalled <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-stalled:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never stalled", what)
	}
}

// A client that stops reading while the target does not read either:
// both ways are blocked by backpressure, and the write to the client
// blocks. TCP_USER_TIMEOUT ends it within ClientTimeout of the client's
// window closing; without it the session stays open (RFC 1122 4.2.2.17: a
// closed window is probed forever).
func TestClientTimeoutNotReading(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	addr, ts, logs := startWrapped(t, proxy.ServerOptions{ClientTimeout: timeout})
	c := upgrade(t, addr)
	c.conn.SetDeadline(time.Time{})
	target := ts.accept(t)

	stalled := make(chan struct{}, 2)
	flood(t, c.conn, frame(ws.OpBinary, true, make([]byte, 64<<10), false), stalled) // the target does not read
	flood(t, target, make([]byte, 64<<10), stalled)                                  // the client does not read
	waitStalled(t, stalled, "client and target")
	waitStalled(t, stalled, "client and target")
	start := time.Now()

	line := waitLine(t, logs, regexp.MustCompile(`msg="session closed" .*`), timeout+5*time.Second)
	took := time.Since(start)
	t.Logf("closed %v after: %s", took, line)
	if want := regexp.MustCompile(`by=client code=1006 reason="Connection closed abnormally" .*err=".*connection timed out"`); !want.MatchString(line) {
		t.Errorf("got %s\nwant it to match %s", line, want)
	}
	if bound := timeout + 2*time.Second; took > bound {
		t.Errorf("closed %v after both sides stalled, want at most %v", took, bound)
	}
}

// A client that goes away (here with a reset) while the target neither
// reads nor writes: nobody reads or writes the client's connection, whose
// end the session's check finds within ClientTimeout/4.
func TestClientTimeoutResetWhileTargetNotReading(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	addr, ts, logs := startWrapped(t, proxy.ServerOptions{ClientTimeout: timeout})
	c := upgrade(t, addr)
	c.conn.SetDeadline(time.Time{})
	ts.accept(t) // and never read

	stalled := make(chan struct{}, 1)
	flood(t, c.conn, frame(ws.OpBinary, true, make([]byte, 64<<10), false), stalled)
	waitStalled(t, stalled, "the client")
	c.conn.(*net.TCPConn).SetLinger(0)
	c.conn.Close() // a reset, with data unread on both sides
	start := time.Now()

	line := waitLine(t, logs, regexp.MustCompile(`msg="session closed" .*`), 5*time.Second)
	took := time.Since(start)
	t.Logf("closed %v after: %s", took, line)
	if want := regexp.MustCompile(`by=client code=1006 reason="Connection closed abnormally" .*err="client connection lost: connection reset by peer"`); !want.MatchString(line) {
		t.Errorf("got %s\nwant it to match %s", line, want)
	}
	if bound := timeout/4 + 2*time.Second; took > bound { // about 250ms when the machine is not loaded
		t.Errorf("closed %v after the reset, want at most %v", took, bound)
	}
}

// With a negative ClientTimeout the connection is left as accepted: no
// check finds the reset, and the session stays until the server closes.
func TestClientTimeoutOff(t *testing.T) {
	t.Parallel()
	addr, ts, logs := startWrapped(t, proxy.ServerOptions{ClientTimeout: -1})
	c := upgrade(t, addr)
	c.conn.SetDeadline(time.Time{})
	ts.accept(t)

	stalled := make(chan struct{}, 1)
	flood(t, c.conn, frame(ws.OpBinary, true, make([]byte, 64<<10), false), stalled)
	waitStalled(t, stalled, "the client")
	c.conn.(*net.TCPConn).SetLinger(0)
	c.conn.Close()
	time.Sleep(time.Second)
	if line := regexp.MustCompile(`msg="session closed" .*`).FindString(logs.String()); line != "" {
		t.Errorf("got %s, want the session open", line)
	}
}

// A client that vanishes without a packet, while the target neither reads
// nor writes: the client's socket is put in repair mode (TCP_REPAIR, which
// needs CAP_NET_ADMIN) and closed, which sends nothing. Only the proxy's
// keepalive probe finds it gone (the client's kernel answers it with a
// reset), and only the session's check notices.
func TestClientTimeoutVanished(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	addr, ts, logs := startWrapped(t, proxy.ServerOptions{ClientTimeout: timeout})
	c := upgrade(t, addr)
	c.conn.SetDeadline(time.Time{})
	ts.accept(t)

	stalled := make(chan struct{}, 1)
	flood(t, c.conn, frame(ws.OpBinary, true, make([]byte, 64<<10), false), stalled)
	waitStalled(t, stalled, "the client")
	raw, err := c.conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_REPAIR, 1) })
	if serr != nil {
		t.Skipf("TCP_REPAIR: %v (needs CAP_NET_ADMIN)", serr)
	}
	c.conn.Close() // silently
	start := time.Now()

	line := waitLine(t, logs, regexp.MustCompile(`msg="session closed" .*`), 5*time.Second)
	took := time.Since(start)
	t.Logf("closed %v after: %s", took, line)
	if want := regexp.MustCompile(`by=client code=1006 reason="Connection closed abnormally" .*err="client connection lost: `); !want.MatchString(line) {
		t.Errorf("got %s\nwant it to match %s", line, want)
	}
	if bound := timeout + 2*time.Second; took > bound {
		t.Errorf("closed %v after the client vanished, want at most %v", took, bound)
	}
}
