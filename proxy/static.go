package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
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
//
// Every request of such a connection is bounded as the first one is:
// HandshakeTimeout to read its header, and as long again for each write
// of its answer (a client that stops reading does not hold the
// connection, its goroutine and the open file for ever). Requests the
// proxy refuses (a method other than GET and HEAD, a NUL in the path) and
// those net/http answers itself (a malformed request, a header too large)
// end the connection, logged and reported to the Observer as a refused
// first request is.

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
		ConnState: s.staticState,
	}
}

// staticState follows the static server's connections (it is called from
// their goroutines): it tells a request net/http answered itself from one
// it handed to serveStatic, and reports the former once answered.
func (s *Server) staticState(c net.Conn, st http.ConnState) {
	rc, ok := c.(*replayConn)
	if !ok {
		return
	}
	switch st {
	case http.StateIdle, http.StateActive: // before a request is read, or after
		rc.handled = false
	case http.StateClosed:
		if rc.refused != nil {
			s.logReject(rc.cc, nil, rc.refused)
			s.rejected(RejectBadRequest, rc.refused)
		}
	}
}

// handoff gives a connection whose first request (in read) is for a static
// file to the static server.
func (s *Server) handoff(ctx context.Context, cc *clientConn, read []byte) {
	s.startWeb.Do(func() {
		s.wg.Add(1) // the caller's own count is held, so this cannot race Wait
		go s.serveWeb()
	})
	rc := &replayConn{Conn: cc.Conn, replay: read, cc: cc, ctx: ctx, writeIdle: s.opts.HandshakeTimeout}
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
	rc.handled = true
	if r.TLS == nil && rc.cc.tls != nil {
		// net/http sets TLS only for a *tls.Conn; ours is wrapped.
		st := rc.cc.tls.ConnectionState()
		r.TLS = &st
	}
	r.RemoteAddr = addrString(rc.cc.raw.RemoteAddr())
	switch {
	case r.Method == http.MethodGet && isUpgrade(r):
		s.upgradeHijacked(w, r, rc)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		s.rejectStatic(w, r, rc, methodNotAllowed(true))
	case strings.IndexByte(r.URL.Path, 0) >= 0:
		// No file has one; an os.Open of it fails with EINVAL, which
		// http.FileServer would answer 500.
		s.rejectStatic(w, r, rc, &HTTPError{Status: http.StatusBadRequest, Reason: "malformed request path: NUL byte"})
	default:
		s.opts.Handler.ServeHTTP(w, r)
	}
}

// rejectStatic answers a request of the static server as reject answers
// the first request of a connection, and closes the connection.
func (s *Server) rejectStatic(w http.ResponseWriter, r *http.Request, rc *replayConn, e *HTTPError) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, e.Reason, e.Status)
		return
	}
	cc := &clientConn{Conn: c, raw: rc.cc.raw, tls: rc.cc.tls, id: rc.cc.id, log: rc.cc.log}
	s.reject(cc, r, RejectBadRequest, e, e)
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
	// (after those in brw.Reader), and sets its own deadlines.
	rc.session = true
	cc := &clientConn{Conn: c, raw: rc.cc.raw, tls: rc.cc.tls, id: rc.cc.id, log: rc.cc.log}
	s.upgrade(rc.ctx, cc, r, leftover, deadline(time.Now(), s.opts.HandshakeTimeout))
}

// replayConn is a connection of the static server. It returns bytes
// already read before reading the connection, bounds each write, and
// notices the answers net/http writes without calling serveStatic.
//
// Its fields but Conn are used only by the goroutine of the static
// server that serves it, or of the session it became.
type replayConn struct {
	net.Conn
	replay    []byte
	cc        *clientConn
	ctx       context.Context // the context of the Serve call that accepted it
	writeIdle time.Duration   // each write's limit; 0 or less: none

	session bool       // hijacked by a session, which sets deadlines
	handled bool       // serveStatic was called for the current request
	refused *HTTPError // what net/http answered a request it could not read
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *replayConn) Write(p []byte) (int, error) {
	if c.session {
		return c.Conn.Write(p)
	}
	if c.writeIdle > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.writeIdle))
	}
	if !c.handled && c.refused == nil {
		// Only net/http writes between reading a request and calling
		// serveStatic: its answer to a request it could not read, in
		// one write, after which it closes the connection.
		c.refused = parseRefusal(p)
	}
	return c.Conn.Write(p)
}

// parseRefusal returns what net/http answered a request it could not read
// ("HTTP/1.1 431 Request Header Fields Too Large\r\n...", "HTTP/1.1 400
// Bad Request: missing required Host header\r\n..."), with the reasons
// serveHTTP gives the same refusals of a first request.
func parseRefusal(p []byte) *HTTPError {
	line, _, _ := strings.Cut(string(p[:min(len(p), 256)]), "\r\n")
	e := &HTTPError{Status: http.StatusBadRequest, Reason: "malformed HTTP request", Err: fmt.Errorf("answered by net/http: %q", line)}
	if rest, ok := strings.CutPrefix(line, "HTTP/1.1 "); ok && len(rest) >= 3 {
		if status, err := strconv.Atoi(rest[:3]); err == nil && status >= 400 && status <= 599 {
			e.Status = status
		}
	}
	if e.Status == http.StatusRequestHeaderFieldsTooLarge {
		e.Reason, e.Err = "request header too large", nil
	}
	return e
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
