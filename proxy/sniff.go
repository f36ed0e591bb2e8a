package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Sniffing the first bytes of a connection, as websockify's do_handshake
// does: TLS or plain HTTP on one port, and the Flash policy probe.

// policyRequest is what Flash sends to ask for a socket policy.
const policyRequest = "<policy-file-request/>\x00"

var (
	errNoTLS        = errors.New("TLS handshake but no TLS configuration")
	errPlain        = errors.New("plain connection refused: TLS required")
	errTLSHandshake = errors.New("tls handshake")
	errFlashPolicy  = errors.New("flash policy served") // not a failure
)

// clientConn is a client connection after sniffing.
type clientConn struct {
	net.Conn           // what HTTP and WebSocket are spoken on
	raw      net.Conn  // the accepted connection (TCP or unix)
	tls      *tls.Conn // the TLS layer of a wss:// connection, or nil

	// id is the connection's ID, given at accept: the session ID if it
	// becomes a session, so that every log line about the connection
	// carries it. log is the server's logger with it.
	id  SessionID
	log *slog.Logger
}

// closeWrite half-closes the connection: a TLS close_notify, then FIN.
func (c *clientConn) closeWrite() {
	if c.tls != nil {
		c.tls.CloseWrite()
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// tlsInfo describes the TLS layer, or returns nil for a plain connection.
func (c *clientConn) tlsInfo() *TLSInfo {
	if c.tls == nil {
		return nil
	}
	st := c.tls.ConnectionState()
	info := &TLSInfo{Version: st.Version, CipherSuite: st.CipherSuite, ServerName: st.ServerName}
	if len(st.PeerCertificates) > 0 {
		info.ClientSubject = st.PeerCertificates[0].Subject.String()
	}
	return info
}

// prefixConn returns bytes already read from a connection before reading
// it further.
type prefixConn struct {
	net.Conn
	buf  [len(policyRequest)]byte
	r, n int
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.r < c.n {
		n := copy(p, c.buf[c.r:c.n])
		c.r += n
		return n, nil
	}
	return c.Conn.Read(p)
}

// serveConn serves one accepted connection: sniffing, handshake and then
// the session, all in this goroutine.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer s.wg.Done()
	defer s.forgetConn(c)

	accepted := time.Now()
	id := newSessionID()
	log := s.log.With("session", id)
	hsDeadline := deadline(accepted, s.opts.HandshakeTimeout)
	cc, err := s.sniff(ctx, c, accepted, hsDeadline)
	if err != nil {
		if err == errFlashPolicy {
			log.Debug("flash policy served", "client", c.RemoteAddr())
		} else {
			log.Info("connection dropped", "client", c.RemoteAddr(), "err", err)
		}
		c.Close()
		if err != errFlashPolicy {
			s.rejected(sniffReason(err), err)
		}
		return
	}
	cc.id, cc.log = id, log
	s.serveHTTP(ctx, cc, hsDeadline)
}

// sniff reads the first byte of c (within FirstByteTimeout) and returns the
// connection to speak HTTP on: TLS if the byte starts a TLS handshake
// (0x16, or 0x80 for an SSLv2-style hello, as websockify checks), else
// plain. A Flash policy probe is answered here (errFlashPolicy).
func (s *Server) sniff(ctx context.Context, c net.Conn, accepted, hsDeadline time.Time) (*clientConn, error) {
	first := deadline(accepted, s.opts.FirstByteTimeout)
	if first.IsZero() || (!hsDeadline.IsZero() && hsDeadline.Before(first)) {
		first = hsDeadline
	}
	pc := &prefixConn{Conn: c}
	c.SetReadDeadline(first)
	if _, err := io.ReadFull(c, pc.buf[:1]); err != nil {
		return nil, fmt.Errorf("first byte: %w", err)
	}
	pc.n = 1
	c.SetDeadline(hsDeadline)

	if pc.buf[0] == policyRequest[0] && !s.opts.DisableFlashPolicy {
		n, err := io.ReadFull(c, pc.buf[1:])
		pc.n += n
		if err == nil && string(pc.buf[:]) == policyRequest {
			if _, err := io.WriteString(c, flashPolicy(c.LocalAddr())); err != nil {
				return nil, fmt.Errorf("flash policy: %w", err)
			}
			return nil, errFlashPolicy
		}
		// Not a probe: whatever it is goes to the HTTP parser.
	}
	switch {
	case pc.buf[0] == 0x16 || pc.buf[0] == 0x80:
		if s.opts.TLSConfig == nil {
			return nil, errNoTLS
		}
		tc := tls.Server(pc, s.opts.TLSConfig)
		hctx, cancel := context.WithDeadline(ctx, hsDeadline)
		if hsDeadline.IsZero() {
			hctx, cancel = context.WithCancel(ctx)
		}
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errTLSHandshake, err)
		}
		return &clientConn{Conn: tc, raw: c, tls: tc}, nil
	case s.opts.RequireTLS:
		return nil, errPlain
	}
	return &clientConn{Conn: pc, raw: c}, nil
}

// flashPolicy returns the cross-domain policy that allows the port of
// addr, terminated by the NUL byte Flash expects.
func flashPolicy(addr net.Addr) string {
	port := "*"
	if a, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	return `<cross-domain-policy><allow-access-from domain="*" to-ports="` + port + `" /></cross-domain-policy>` + "\x00"
}
