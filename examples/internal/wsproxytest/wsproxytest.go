// Package wsproxytest runs the wsproxy binary for the tests of the
// deployment examples under examples/: it builds the binary, starts it in
// front of a TCP echo server, dials WebSocket sessions (through a reverse
// proxy under test) and reads wsproxy's log and recordings.
//
// Everything it starts is stopped in t.Cleanup, and wsproxy's log is shown
// when the test failed.
package wsproxytest

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
)

// Timeout bounds each wait of the package.
const Timeout = 15 * time.Second

// Build builds cmd/wsproxy into a directory of t.TempDir and returns the
// binary's path. The build cache makes every build after the first fast.
func Build(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the wsproxy binary")
	}
	bin := filepath.Join(t.TempDir(), "wsproxy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wsproxy/wsproxy/cmd/wsproxy").CombinedOutput()
	if err != nil {
		t.Fatalf("go build wsproxy: %v\n%s", err, out)
	}
	return bin
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Echo starts a TCP echo server on 127.0.0.1 and returns its address.
func Echo(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Proxy is a running wsproxy binary.
type Proxy struct {
	// Addr is the address it listens on, "127.0.0.1:PORT".
	Addr string
	// RecordDir is its --record-dir.
	RecordDir string

	log *logBuffer
}

// Start starts the wsproxy binary bin on a free port of 127.0.0.1, relaying
// to target, recording into a directory of t.TempDir and believing the
// trusted proxies (--trusted-proxy, each a CIDR), and waits until it
// listens. t.Cleanup stops it with SIGTERM and checks that it exits with
// status 0.
func Start(t testing.TB, bin, target string, trusted ...string) *Proxy {
	t.Helper()
	p := &Proxy{RecordDir: t.TempDir(), log: &logBuffer{changed: make(chan struct{}, 1)}}
	args := []string{"--record-dir", p.RecordDir, "--shutdown-timeout", "1"}
	for _, c := range trusted {
		args = append(args, "--trusted-proxy", c)
	}
	cmd := exec.Command(bin, append(args, "127.0.0.1:0", target)...)
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("wsproxy exited with %v, want status 0", err)
			}
		case <-time.After(Timeout):
			cmd.Process.Kill()
			<-waited
			t.Errorf("wsproxy did not exit within %v of SIGTERM", Timeout)
		}
		if t.Failed() {
			t.Logf("wsproxy %v log:\n%s", cmd.Args[1:], p.log)
		}
	})
	p.Addr = p.WaitLog(t, regexp.MustCompile(`msg=listening addr=(\S+)`))[1]
	return p
}

// WaitLog waits until wsproxy's log matches re and returns the submatches
// of the first match.
func (p *Proxy) WaitLog(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		if m := re.FindStringSubmatch(p.log.String()); m != nil {
			return m
		}
		select {
		case <-p.log.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %q in wsproxy's log:\n%s", re, p.log)
		}
	}
}

// sessionOpenRE matches the log line of a new session.
var sessionOpenRE = regexp.MustCompile(`(?m)^.*msg="session open".*$`)

// realClientRE matches the real client of a session open line.
var realClientRE = regexp.MustCompile(`\breal_client=(\S+)`)

// RealClient waits for the log line of the first session and returns its
// real_client, or "" when the line has none (the client is the TCP peer).
func (p *Proxy) RealClient(t testing.TB) string {
	t.Helper()
	line := p.WaitLog(t, sessionOpenRE)[0]
	if m := realClientRE.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// Recording waits until the record directory holds one sealed recording
// (its session ended) and returns its header.
func (p *Proxy) Recording(t testing.TB) format.Header {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		files, _ := filepath.Glob(filepath.Join(p.RecordDir, "*.wsrec"))
		if len(files) > 1 {
			t.Fatalf("got recordings %q, want one", files)
		}
		if len(files) == 1 {
			r, err := format.Open(files[0], format.ReaderOptions{})
			if err == nil {
				sealed, h := r.Sealed(), r.Header()
				r.Close()
				if sealed {
					return h
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sealed recording in %s after %v: %q", p.RecordDir, Timeout, files)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects wsproxy's log. It is safe for concurrent use.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// DialOptions configures Dial. The zero value dials from 127.0.0.1 with no
// extra header and the system's TLS roots.
type DialOptions struct {
	// LocalIP is the address the client connects from, such as 127.0.0.2,
	// so that the real client differs from a proxy on 127.0.0.1. Empty
	// means the system's choice.
	LocalIP string
	// Header holds extra request headers, such as a forged
	// X-Forwarded-For. Nil means none.
	Header http.Header
	// TLS is the configuration of a wss:// URL. Nil means the defaults.
	TLS *tls.Config
}

// Conn is a WebSocket client session.
type Conn struct {
	net.Conn
	r io.Reader // reads what came with the handshake's response first
	// Local is the client's address, "IP:PORT".
	Local string
}

// Read reads raw WebSocket bytes, those read ahead with the handshake first.
func (c *Conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Dial opens a WebSocket session to url (ws:// or wss://) with the
// subprotocol binary, as noVNC does. t.Cleanup closes it.
func Dial(t testing.TB, url string, opts DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	nd := &net.Dialer{}
	if opts.LocalIP != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opts.LocalIP)}
	}
	var local string
	d := ws.Dialer{
		Protocols: []string{"binary"},
		TLSConfig: opts.TLS,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr().String()
			}
			return c, err
		},
	}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	c, br, _, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("WebSocket dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	conn := &Conn{Conn: c, r: c, Local: local}
	if br != nil {
		conn.r = br
	}
	return conn
}

// Exchange sends msg as one binary message and returns as many bytes as
// came back, read from binary messages.
func (c *Conn) Exchange(t testing.TB, msg string) string {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(Timeout))
	if err := wsutil.WriteClientBinary(c, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	return c.ReadN(t, len(msg))
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

// Close sends a close frame with status 1000 and closes the connection.
func (c *Conn) Close() error {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_ = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	return c.Conn.Close()
}
