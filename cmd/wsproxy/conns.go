package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// Server-level lifetime options, as websockifyserver.py's start_server
// applies them: --idle-timeout counts client connections (websockify's
// handler processes: one per connection, WebSocket or not), --run-once ends
// with the connection that carried the first WebSocket request, and
// --inetd with a connected socket ends with that connection. All of them
// follow the connections here, as the listener hands them out, rather than
// by polling proxy.Server.Active, which would miss a session shorter than
// the polling period and does not see connections before their upgrade.

// tracker follows the client connections of the command's listener. Its
// methods are safe for concurrent use.
type tracker struct {
	changed chan struct{} // gets a value, without blocking, when one opens or closes

	mu       sync.Mutex
	conns    map[net.Addr]*trackedConn // by RemoteAddr, compared by identity
	idleFrom time.Time                 // since when none is open
	end      []func()                  // run by removeSocket
}

func newTracker() *tracker {
	return &tracker{
		changed:  make(chan struct{}, 1),
		conns:    make(map[net.Addr]*trackedConn),
		idleFrom: time.Now(),
	}
}

// listener returns ln with its accepted connections followed by t.
func (t *tracker) listener(ln net.Listener) net.Listener {
	return &trackingListener{Listener: ln, t: t}
}

// add follows c from now until it is closed.
func (t *tracker) add(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, t: t, remote: c.RemoteAddr()}
	if tc.remote == nil {
		// An unnamed unix socket peer: every connection needs its own key.
		tc.remote = &net.UnixAddr{Net: "unix"}
	}
	t.mu.Lock()
	t.conns[tc.remote] = tc
	t.mu.Unlock()
	t.poke()
	return tc
}

func (t *tracker) remove(tc *trackedConn) {
	t.mu.Lock()
	delete(t.conns, tc.remote)
	if len(t.conns) == 0 {
		t.idleFrom = time.Now()
	}
	onClose := tc.onClose
	t.mu.Unlock()
	t.poke()
	if onClose != nil {
		onClose()
	}
}

func (t *tracker) poke() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// waitIdle returns nil once no connection has been open for d (at once if
// d is 0 and none is open), or ctx.Err().
func (t *tracker) waitIdle(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		t.mu.Lock()
		n, left := len(t.conns), d-time.Since(t.idleFrom)
		t.mu.Unlock()
		if n == 0 && left <= 0 {
			return nil
		}
		var expired <-chan time.Time
		if n == 0 {
			timer.Reset(left)
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.changed:
		case <-expired:
		}
		timer.Stop()
	}
}

// onClose arranges for f to run when the connection whose RemoteAddr is
// remote closes. It returns false if there is no such connection.
func (t *tracker) onClose(remote net.Addr, f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	tc := t.conns[remote]
	if tc == nil {
		return false
	}
	tc.onClose = f
	return true
}

// onEnd arranges for f to run at removeSocket.
func (t *tracker) onEnd(f func()) {
	t.mu.Lock()
	t.end = append(t.end, f)
	t.mu.Unlock()
}

// removeSocket runs the functions given to onEnd: it removes the unix socket
// of --unix-listen after the server has stopped.
func (t *tracker) removeSocket() {
	t.mu.Lock()
	end := t.end
	t.end = nil
	t.mu.Unlock()
	for _, f := range end {
		f()
	}
}

// trackingListener adds its accepted connections to a tracker.
type trackingListener struct {
	net.Listener
	t *tracker
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.t.add(c), nil
}

// trackedConn is a connection followed by a tracker. Its RemoteAddr is
// always the same value, which identifies it in tracker.onClose.
type trackedConn struct {
	net.Conn
	t       *tracker
	remote  net.Addr
	once    sync.Once
	onClose func() // guarded by t.mu
}

func (c *trackedConn) RemoteAddr() net.Addr { return c.remote }

// NetConn returns the connection it follows, for the proxy to set socket
// options on (proxy.ServerOptions.ClientTimeout).
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.t.remove(c) })
	return err
}

// CloseWrite half-closes the connection when it can (TCP, unix), as the
// proxy does after the last frame.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// singleListener hands out one connection, then waits until it is closed.
type singleListener struct {
	c    net.Conn
	once sync.Once
	next chan net.Conn
	done chan struct{}
}

func newSingleListener(c net.Conn) *singleListener {
	l := &singleListener{c: c, next: make(chan net.Conn, 1), done: make(chan struct{})}
	l.next <- c
	return l
}

func (l *singleListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.next:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; the connection it handed out is not closed.
func (l *singleListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *singleListener) Addr() net.Addr { return l.c.LocalAddr() }

// onceResolver is the Resolver of --run-once: the first WebSocket request
// goes to next, and done is closed when its connection closes. Later
// WebSocket requests are refused with 503 (websockify, which serves one
// connection at a time with --run-once, leaves them waiting unanswered);
// static files are still served until the command exits.
type onceResolver struct {
	next  proxy.Resolver
	conns *tracker
	done  chan struct{}

	mu    sync.Mutex
	taken bool
}

func (o *onceResolver) Resolve(ctx context.Context, r *proxy.Request) (proxy.Target, error) {
	o.mu.Lock()
	first := !o.taken && o.conns.onClose(r.RemoteAddr, func() { close(o.done) })
	o.taken = o.taken || first
	o.mu.Unlock()
	if !first {
		return proxy.Target{}, &proxy.HTTPError{Status: http.StatusServiceUnavailable, Reason: "serving one WebSocket connection only (--run-once)"}
	}
	return o.next.Resolve(ctx, r)
}
