package wstest

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// Listen listens on a free port of 127.0.0.1 when network is "tcp", or on
// a socket in a directory of t.TempDir when it is "unix". The listener is
// closed when the test ends.
func Listen(t testing.TB, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "listen.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Serve accepts connections on ln until the test ends and runs handle on
// each, in a goroutine of its own. When the test ends it closes ln and every
// connection it accepted, then waits for the handlers to return; a handler
// that blocks on anything but its connection must therefore end by itself.
// It returns ln's address.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Echo starts a TCP echo server on 127.0.0.1 and returns its address,
// "127.0.0.1:PORT". It is stopped when the test ends.
func Echo(t testing.TB) string {
	t.Helper()
	return EchoOn(t, Listen(t, "tcp"))
}

// EchoOn serves an echo server on ln, which may be a unix or a TLS
// listener, and returns ln's address. It is stopped when the test ends.
func EchoOn(t testing.TB, ln net.Listener) string {
	t.Helper()
	return Serve(t, ln, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
}

// Server is a server that Start runs: proxy.Server and replay.Server.
type Server interface {
	Serve(ctx context.Context, ln net.Listener) error
	Close() error
}

// Start serves srv on a free port of 127.0.0.1 and returns its address.
// When the test ends it closes srv, and Serve must then have returned an
// error that is closed (the package's ErrServerClosed).
func Start(t testing.TB, srv Server, closed error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, closed) {
			t.Errorf("Serve returned %v, want %v", err, closed)
		}
	})
	return ln.Addr().String()
}
