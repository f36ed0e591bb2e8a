//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// target is the TCP server the relays connect to. Each connection is
// handed to a handler in its own goroutine; the handler owns it, and Close
// closes what is still open.
type target struct {
	ln       net.Listener
	handle   func(net.Conn)
	keep     bool // conns stay tracked after handle returns (handOver)
	accepted atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startTarget listens on a loopback port and calls handle for each
// connection.
func startTarget(handle func(net.Conn)) (*target, error) {
	return listenTarget(handle, false)
}

func listenTarget(handle func(net.Conn), keep bool) (*target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &target{ln: ln, handle: handle, keep: keep, conns: make(map[net.Conn]struct{})}
	t.wg.Go(t.acceptLoop)
	return t, nil
}

// startHandOverTarget listens on a loopback port and passes up to n
// connections to the workload through the returned channel; the workload
// owns them, but close still closes them. Connections beyond n are closed.
func startHandOverTarget(n int) (*target, <-chan net.Conn, error) {
	ch := make(chan net.Conn, n)
	t, err := listenTarget(func(c net.Conn) {
		select {
		case ch <- c:
		default:
			c.Close()
		}
	}, true)
	return t, ch, err
}

func (t *target) addr() string { return t.ln.Addr().String() }

func (t *target) acceptLoop() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		t.conns[c] = struct{}{}
		t.mu.Unlock()
		t.accepted.Add(1)
		t.wg.Go(func() { t.serve(c) })
	}
}

func (t *target) serve(c net.Conn) {
	t.handle(c)
	if t.keep {
		return
	}
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// waitAccepted waits until n connections were accepted in all.
func (t *target) waitAccepted(ctx context.Context, n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for t.accepted.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("target accepted %d connections, want %d", t.accepted.Load(), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// close stops accepting, closes every connection and waits for the
// handlers, which must return once their connection is closed.
func (t *target) close() {
	t.ln.Close()
	t.mu.Lock()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// The handlers.

// echo sends back what it reads until the connection ends.
// It is a plain read-write loop: io.Copy would splice between the sockets.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold reads (nothing, from an idle client) until the connection ends.
func hold(c net.Conn) {
	defer c.Close()
	var buf [64]byte
	for {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}
