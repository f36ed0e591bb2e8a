package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("proxy: server closed")

// Defaults for the zero values of ServerOptions.
const (
	DefaultFirstByteTimeout = 10 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultCloseTimeout     = 2 * time.Second
	DefaultClientTimeout    = 60 * time.Second
	DefaultMaxMessageSize   = 16 << 20
	DefaultMaxHeaderBytes   = 64 << 10
)

// ServerOptions configures a Server. The zero value of every field means
// the default named in its comment; only Resolver is required.
type ServerOptions struct {
	// Resolver chooses each session's target. Required; a Target is a
	// Resolver for a fixed target.
	Resolver Resolver

	// Authenticator checks each upgrade request before the target is
	// resolved. nil means no authentication.
	Authenticator Authenticator

	// NewTap returns the Tap of a new session, after the target is
	// connected and before any traffic. ctx ends with the session. An
	// error closes the session with 1011. nil means no tap.
	NewTap func(ctx context.Context, info *SessionInfo) (Tap, error)

	// Handler serves GET and HEAD requests that are not WebSocket upgrades
	// on the same port (websockify's --web: noVNC's files; FileHandler
	// serves a directory). A request whose path holds a NUL byte is
	// answered 400 without calling it. nil means they are answered 405
	// Method Not Allowed, as websockify does without --web.
	Handler http.Handler

	// TLSConfig enables wss:// on the same port: a connection whose first
	// byte starts a TLS handshake is served with it. nil means TLS
	// connections are dropped. The server uses a copy whose NextProtos is
	// "http/1.1" alone (WebSocket over HTTP/2 is not served), so later
	// changes to the value are not seen: reload certificates through
	// GetCertificate.
	TLSConfig *tls.Config

	// RequireTLS drops plain connections (websockify's --ssl-only).
	// false means both are served.
	RequireTLS bool

	// DisableFlashPolicy stops answering Flash "<policy-file-request/>"
	// probes. false means they are answered, as websockify does.
	DisableFlashPolicy bool

	// ClientAddr returns the real client address of a request, for example
	// from X-Forwarded-For when the peer is a trusted proxy. It must not
	// trust headers from other peers. nil means the peer address.
	ClientAddr func(r *http.Request) string

	// Logger receives one line per session start and end, and one per
	// rejected or dropped connection. nil means no logging.
	Logger *slog.Logger

	// FirstByteTimeout is how long a new connection may stay silent.
	// Zero means DefaultFirstByteTimeout; negative means no limit.
	FirstByteTimeout time.Duration

	// HandshakeTimeout bounds the TLS handshake, the request and the
	// Authenticator and Resolver calls, counted from accept. It is also the
	// keep-alive idle limit of static file connections, the limit to read
	// each of their later requests' header, and the limit of each write of
	// an answer to them. Zero means DefaultHandshakeTimeout; negative
	// means no limit.
	HandshakeTimeout time.Duration

	// DialTimeout bounds the connection to the target. Zero means
	// DefaultDialTimeout; negative means no limit.
	DialTimeout time.Duration

	// CloseTimeout bounds the closing of a session: writing the close
	// frame and waiting for the client to close its side. Zero means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration

	// IdleTimeout closes a session (1000 "Idle timeout") after this long
	// without a data message either way. Zero means no limit. (websockify's
	// --idle-timeout is different: it stops the server.)
	IdleTimeout time.Duration

	// Heartbeat sends a ping to the client this often (websockify's
	// --heartbeat). Zero means no pings.
	Heartbeat time.Duration

	// HeartbeatTimeout closes a session (1001 "Heartbeat timeout") whose
	// client has not answered a ping within this time. Zero means pings
	// are never awaited, as in websockify.
	HeartbeatTimeout time.Duration

	// ClientTimeout closes a session (1006, by the client) whose client
	// has vanished: its TCP connection left data unacknowledged, or
	// keepalive probes unanswered, for this long. The session sets TCP
	// keepalive (probes every ClientTimeout/4 after as long a silence) and,
	// on Linux, TCP_USER_TIMEOUT on the client's connection, and checks the
	// connection every ClientTimeout/4, so that a client is found gone
	// even while the target does not read and nobody reads the client. A
	// live client whose receive window stays closed that long (it does not
	// read) is closed too. It applies to TCP clients: the accepted
	// connection must be a *net.TCPConn, or have a NetConn method that
	// returns one (as tls.Conn has). Zero means DefaultClientTimeout;
	// negative leaves the connection as accepted (the listener's
	// keepalive, and the system's retransmission limit: about 15 minutes
	// on Linux).
	ClientTimeout time.Duration

	// ClientMaxUnsent caps what the kernel holds unsent for each TCP
	// client, in bytes (TCP_NOTSENT_LOWAT on Linux; ignored elsewhere):
	// a write to the client then waits until less is unsent, so that the
	// target side sees a slow client at once instead of after the send
	// buffer has grown to megabytes. For servers whose clients want the
	// newest data rather than all of it, such as render-mode replays,
	// which merge what a slow viewer has not taken. The close frame is
	// not held back: the cap is lifted to send it. Zero leaves the
	// system's buffering.
	ClientMaxUnsent int

	// MaxMessageSize is the largest message a client may send, in bytes
	// (fragments added up); a larger one closes with 1009. Zero means
	// DefaultMaxMessageSize.
	MaxMessageSize int64

	// MaxHeaderBytes bounds the size of a request's header; a larger one
	// is answered 431. Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// Observer is told of rejected connections and of sessions opening and
	// closing, for metrics. nil means none.
	Observer Observer
}

// Server accepts WebSocket clients and proxies each to its target.
// Create it with NewServer. Its methods are safe for concurrent use; Serve
// may be called for several listeners. After Shutdown or Close it cannot be
// reused.
type Server struct {
	opts ServerOptions // with defaults filled in
	log  *slog.Logger

	buffers sync.Pool // *buffer: data buffers, held only while data flows
	readers sync.Pool // *bufio.Reader for handshakes
	msgs    sync.Pool // *[]byte: messages larger than a buffer, base64 payloads

	static   *http.Server // serves Handler; started by the first handoff
	staticLn *chanListener
	startWeb sync.Once

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{} // connections before their session starts
	sessions  map[*session]struct{}
	closed    Stats          // bytes of the sessions no longer in sessions
	wg        sync.WaitGroup // every goroutine the server started
}

// NewServer returns a server with the given options. It returns an error
// if the options are unusable (no Resolver, RequireTLS without TLSConfig).
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Resolver == nil {
		return nil, errors.New("proxy: ServerOptions.Resolver is nil")
	}
	if opts.RequireTLS && opts.TLSConfig == nil {
		return nil, errors.New("proxy: RequireTLS without TLSConfig")
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig = opts.TLSConfig.Clone()
		opts.TLSConfig.NextProtos = []string{"http/1.1"}
	}
	opts.FirstByteTimeout = orDefault(opts.FirstByteTimeout, DefaultFirstByteTimeout)
	opts.HandshakeTimeout = orDefault(opts.HandshakeTimeout, DefaultHandshakeTimeout)
	opts.DialTimeout = orDefault(opts.DialTimeout, DefaultDialTimeout)
	opts.CloseTimeout = orDefault(opts.CloseTimeout, DefaultCloseTimeout)
	opts.ClientTimeout = orDefault(opts.ClientTimeout, DefaultClientTimeout)
	if opts.CloseTimeout < 0 {
		opts.CloseTimeout = DefaultCloseTimeout
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:      opts,
		log:       log,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]struct{}),
		sessions:  make(map[*session]struct{}),
	}
	s.buffers.New = func() any { return new(buffer) }
	s.readers.New = func() any { return bufio.NewReaderSize(nil, 4096) }
	s.msgs.New = func() any { return new([]byte) }
	s.initStatic()
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// deadline returns now+d, or the zero time (no deadline) when d < 0.
func deadline(now time.Time, d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return now.Add(d)
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ln fails, the server shuts down, or ctx is done; it closes ln.
// Cancelling ctx also closes the sessions accepted by this call with 1001
// "Going away" (Shutdown or Close wait for them).
//
// Serve returns ErrServerClosed after Shutdown or Close, ctx.Err() when
// ctx is done, and otherwise the error from ln.Accept.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return err
		}
		backoff = 0
		if !s.addConn(c) {
			c.Close()
			return ErrServerClosed
		}
		go s.serveConn(ctx, c)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Active returns the number of open sessions.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Shutdown stops accepting connections, lets open sessions (and requests
// for static files) finish until ctx is done, then closes the remaining
// sessions with 1001 "Going away" and waits for them. It returns nil if
// everything finished in time, ctx.Err() otherwise.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.staticLn.Close()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	s.static.Shutdown(ctx)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}

	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	for sess := range s.sessions {
		sess.interrupt(closeGoingAway)
	}
	s.mu.Unlock()
	s.static.Close()
	<-done
	// The static server's own connection goroutines end after Close; wait
	// for them too.
	s.static.Shutdown(context.Background())
	return ctx.Err()
}

// Close closes the listeners and every session at once (1001 "Going
// away"), and waits for the server's goroutines to end. It returns nil.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	return nil
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// addConn registers a new connection; it returns false once the server is
// closing. Every goroutine of the server is counted in s.wg here or in
// addSession, under s.mu and never after closing, so Shutdown's Wait never
// races with an Add.
func (s *Server) addConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// forgetConn stops tracking c as a connection in its handshake: it has been
// handed to a session or to the static file server, or it is closed. The
// goroutine serving it still calls s.wg.Done when it returns.
func (s *Server) forgetConn(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// addSession registers a session that is about to start, and stops
// tracking its connection as one in its handshake; it returns false once
// the server is closing.
func (s *Server) addSession(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	delete(s.conns, sess.client.raw)
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.closed.ToTarget += sess.toTarget.Load()
	s.closed.ToClient += sess.toClient.Load()
	s.mu.Unlock()
	s.wg.Done()
}

// getBuffer returns a data buffer from the pool.
func (s *Server) getBuffer() *buffer { return s.buffers.Get().(*buffer) }

func (s *Server) putBuffer(b *buffer) { s.buffers.Put(b) }

// getMsg returns an empty message buffer from the pool.
func (s *Server) getMsg() *[]byte {
	m := s.msgs.Get().(*[]byte)
	*m = (*m)[:0]
	return m
}

// putMsg returns m to the pool unless it grew too large to keep.
func (s *Server) putMsg(m *[]byte) {
	if m == nil || cap(*m) > maxPooledMessage {
		return
	}
	s.msgs.Put(m)
}
