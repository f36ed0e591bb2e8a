package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Static files on the WebSocket port (websockify's --web).
//
// A connection whose first request is not an upgrade is handed, with the
// bytes read so far, to an http.Server that serves ServerOptions.Handler
// with everything net/http does (keep-alive, HEAD, ranges). An upgrade
// request that arrives later on such a keep-alive connection is hijacked
// and becomes a session like any other.

type connKey struct{}

// initStatic prepares the static file server; its goroutine starts with
// the first handoff.
func (s *Server) initStatic() {
	s.staticLn = &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true) // WebSocket over HTTP/2 (RFC 8441) is not offered
	idle := s.opts.HandshakeTimeout
	if idle < 0 {
		idle = 0
	}
	s.static = &http.Server{
		Handler:           http.HandlerFunc(s.serveStatic),
		ReadHeaderTimeout: idle,
		IdleTimeout:       idle,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		Protocols:         protocols,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
}

// handoff gives a connection whose first request (in read) is for a static
// file to the static server.
func (s *Server) handoff(ctx context.Context, cc *clientConn, read []byte) {
	s.startWeb.Do(func() {
		s.wg.Add(1) // the caller's own count is held, so this cannot race Wait
		go s.serveWeb()
	})
	rc := &replayConn{Conn: cc.Conn, replay: read, cc: cc, ctx: ctx}
	if !s.staticLn.push(rc) {
		cc.Close()
	}
}

// serveWeb runs the static file server until Shutdown.
func (s *Server) serveWeb() {
	defer s.wg.Done()
	s.static.Serve(s.staticLn)
}

// serveStatic is the static server's handler.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	rc, _ := r.Context().Value(connKey{}).(*replayConn)
	if rc == nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if r.TLS == nil && rc.cc.tls != nil {
		// net/http sets TLS only for a *tls.Conn; ours is wrapped.
		st := rc.cc.tls.ConnectionState()
		r.TLS = &st
	}
	switch {
	case r.Method == http.MethodGet && isUpgrade(r):
		s.upgradeHijacked(w, r, rc)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		e := methodNotAllowed(true)
		for k, v := range e.Header {
			w.Header()[k] = v
		}
		http.Error(w, e.Reason, e.Status)
	default:
		s.opts.Handler.ServeHTTP(w, r)
	}
}

// upgradeHijacked takes an upgrade request over from the static server.
func (s *Server) upgradeHijacked(w http.ResponseWriter, r *http.Request, rc *replayConn) {
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var leftover []byte
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		leftover = append([]byte(nil), p...)
	}
	// The session reads through rc, which may still hold replayed bytes
	// (after those in brw.Reader).
	cc := &clientConn{Conn: c, raw: rc.cc.raw, tls: rc.cc.tls, id: rc.cc.id, log: rc.cc.log}
	r.RemoteAddr = addrString(rc.cc.raw.RemoteAddr())
	s.upgrade(rc.ctx, cc, r, leftover, deadline(time.Now(), s.opts.HandshakeTimeout))
}

// replayConn returns bytes already read before reading the connection.
type replayConn struct {
	net.Conn
	replay []byte
	cc     *clientConn
	ctx    context.Context // the context of the Serve call that accepted it
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// chanListener is a net.Listener fed by handoff.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return staticAddr{} }

type staticAddr struct{}

func (staticAddr) Network() string { return "wsproxy" }
func (staticAddr) String() string  { return "static" }
