package proxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
)

// selfSigned returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a client configuration that trusts it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	c := wstest.NewCert(t)
	client = c.ClientConfig()
	client.ServerName = "127.0.0.1"
	return c.ServerConfig(), client
}

// The same port serves wss:// and ws://.
func TestTLSSniffing(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	serverTLS.NextProtos = []string{"h2", "http/1.1"} // as a web server's configuration may say
	clientTLS.NextProtos = []string{"h2", "http/1.1"} // as browsers offer
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), TLSConfig: serverTLS, NewTap: tap.newTap})

	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN %q, want http/1.1", p)
	}
	c := upgradeConn(t, conn)
	c.echo("over tls")
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectClose(1000, "")
	tap.waitClosed(t)
	if info := tap.info.TLS; info == nil || info.Version < tls.VersionTLS12 || info.CipherSuite == 0 {
		t.Errorf("SessionInfo.TLS %+v", info)
	}
}

func TestTLSAndPlain(t *testing.T) {
	t.Parallel()
	serverTLS, _ := selfSigned(t)
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), TLSConfig: serverTLS})
	upgrade(t, addr).echo("plain")
}

func TestRequireTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), TLSConfig: serverTLS, RequireTLS: true})
	c := dial(t, addr, request())
	c.expectEOF()

	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatalf("TLS refused: %v", err)
	}
	conn.Close()
}

// Garbage that looks like TLS is dropped, and the server goes on.
func TestTLSGarbage(t *testing.T) {
	t.Parallel()
	serverTLS, _ := selfSigned(t)
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), TLSConfig: serverTLS})
	for _, garbage := range []string{"\x16\x03\x01\x00\x05hello", "\x16" + string(make([]byte, 300)), "\x80\x2e\x01\x00\x02", "\x16"} {
		c := dial(t, addr, garbage)
		if garbage == "\x16" {
			c.conn.(*net.TCPConn).CloseWrite()
		}
		io.ReadAll(c.br) // a TLS alert at most, then EOF
	}
	upgrade(t, addr).echo("still up")
}

func TestTLSNotConfigured(t *testing.T) {
	t.Parallel()
	_, clientTLS := selfSigned(t)
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t)})
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err == nil {
		conn.Close()
		t.Fatal("TLS handshake succeeded without a TLS configuration")
	}
}

// Shutdown lets sessions run until its deadline, then closes them with 1001.
func TestShutdown(t *testing.T) {
	t.Parallel()
	srv, err := proxy.NewServer(proxy.ServerOptions{Resolver: startEcho(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(t.Context(), ln) }()

	c := upgrade(t, ln.Addr().String())
	c.echo("hi")

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()

	if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after Shutdown")
	}
	c.echo("during shutdown")
	c.expectClose(proxy.CloseGoingAway, "Going away")
	if err := <-shut; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown returned %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before its deadline", d)
	}
	if n := srv.Active(); n != 0 {
		t.Errorf("%d sessions after Shutdown", n)
	}
}

// Shutdown returns nil when the sessions end by themselves in time.
func TestShutdownGraceful(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t)})
	c := upgrade(t, addr)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectClose(1000, "")
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last session ended")
	}
}

// Cancelling Serve's context closes its sessions with 1001.
func TestServeContext(t *testing.T) {
	t.Parallel()
	srv, err := proxy.NewServer(proxy.ServerOptions{Resolver: startEcho(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	c := upgrade(t, ln.Addr().String())
	cancel()
	c.expectClose(proxy.CloseGoingAway, "Going away")
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve returned %v, want context.Canceled", err)
	}
}

func TestNewServerErrors(t *testing.T) {
	t.Parallel()
	if _, err := proxy.NewServer(proxy.ServerOptions{}); err == nil {
		t.Error("no error without a Resolver")
	}
	if _, err := proxy.NewServer(proxy.ServerOptions{Resolver: proxy.Target{Address: "x:1"}, RequireTLS: true}); err == nil {
		t.Error("no error for RequireTLS without TLSConfig")
	}
}

func TestUnixTarget(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/vnc.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: proxy.Target{Network: "unix", Address: path}})
	c := upgrade(t, addr)
	target, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	target.Write([]byte("RFB 003.008\n"))
	if got := string(c.readN(12)); got != "RFB 003.008\n" {
		t.Errorf("client got %q", got)
	}
	c.send(ws.OpBinary, true, []byte("RFB 003.008\n"))
	if got := string(readFull(t, target, 12)); got != "RFB 003.008\n" {
		t.Errorf("target got %q", got)
	}
}

// A client certificate's subject reaches SessionInfo (for
// ClientCertCNAuth and recordings).
func TestTLSClientCert(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	clientCert, _ := selfSigned(t)
	serverTLS.ClientAuth = tls.RequestClientCert
	clientTLS.Certificates = clientCert.Certificates
	tap := newRecordingTap()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), TLSConfig: serverTLS, NewTap: tap.newTap})
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := upgradeConn(t, conn)
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectClose(1000, "")
	tap.waitClosed(t)
	if info := tap.info.TLS; info == nil || info.ClientSubject != "CN=wstest" {
		t.Errorf("SessionInfo.TLS %+v, want the client certificate's subject", info)
	}
}

// Shutdown ends sessions whose client does not read while the target
// floods it, and sessions whose target does not read while the client
// floods it: no write blocks Shutdown past its deadline and CloseTimeout.
func TestShutdownStuckPeers(t *testing.T) {
	t.Parallel()
	ts := startTarget(t)
	srv, addr := startServer(t, proxy.ServerOptions{Resolver: ts.Target, CloseTimeout: 200 * time.Millisecond})

	// Client never reads; target floods.
	upgrade(t, addr)
	flood := ts.accept(t)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := flood.Write(chunk); err != nil {
				return
			}
		}
	}()
	// Target never reads; client floods.
	c := upgrade(t, addr)
	ts.accept(t)
	go func() {
		msg := frame(ws.OpBinary, true, make([]byte, 64<<10), false)
		for {
			if _, err := c.conn.Write(msg); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the socket buffers fill

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	srv.Shutdown(ctx)
	if d := time.Since(start); d > 5*time.Second { // about 0.5s when the machine is not loaded
		t.Errorf("Shutdown took %v", d)
	}
}

// ClientAddr supplies the real client address, from a trusted proxy's
// header.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	tap := newRecordingTap()
	realAddr := func(r *http.Request) string {
		if ip, _, _ := net.SplitHostPort(r.RemoteAddr); ip == "127.0.0.1" {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				return xff
			}
		}
		return r.RemoteAddr
	}
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), ClientAddr: realAddr, NewTap: tap.newTap})
	c := upgrade(t, addr, "X-Forwarded-For: 203.0.113.7")
	c.send(ws.OpClose, true, closeFrame(1000, ""))
	c.expectClose(1000, "")
	tap.waitClosed(t)
	if tap.info.ClientAddr != "203.0.113.7" {
		t.Errorf("ClientAddr %q, want 203.0.113.7", tap.info.ClientAddr)
	}
}

func TestHEADWithoutHandler(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t)})
	c := dial(t, addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 405 {
		t.Errorf("status %d, want 405", resp.StatusCode)
	}
	c.expectEOF()
}

// A unix socket listener (websockify's --unix-listen): peers have no
// address.
func TestUnixListener(t *testing.T) {
	t.Parallel()
	srv, err := proxy.NewServer(proxy.ServerOptions{Resolver: startEcho(t)})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/wsproxy.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(t.Context(), ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	upgradeConn(t, conn).echo("over unix")
}
