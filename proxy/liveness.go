package proxy

import (
	"fmt"
	"net"
	"time"
)

// Noticing a client that vanished (ServerOptions.ClientTimeout).
//
// A client whose host lost the network, crashed or was put to sleep sends
// nothing more: no FIN, no RST. The kernel finds out only by sending it
// something: data, which it retransmits for about 15 minutes by default
// (net.ipv4.tcp_retries2), or keepalive probes, which it sends only while
// no data is outstanding. The session sets both limits to ClientTimeout:
// keepalive probes every ClientTimeout/4 after as long a silence, and on
// Linux TCP_USER_TIMEOUT (RFC 5482), which ends the connection when data
// stays unacknowledged that long, also while the client's receive window
// is closed (on kernels since about 2021: older ones probe a closed window
// without limit), and when keepalive probes go unanswered that long. A write to
// the client blocked by backpressure then fails, and the session stops.
//
// But when the target does not read (client-to-target backpressure),
// clientToTarget is blocked writing to the target and does not read the
// client, and when the target sends nothing, targetToClient does not write
// to it: the connection the kernel closed is noticed by nobody. So the
// session's timer also asks the kernel for the socket's pending error
// (SO_ERROR: ETIMEDOUT after a timeout, ECONNRESET after a reset) every
// ClientTimeout/4. That is one system call per session every few seconds,
// never one per read or write.
//
// A default heartbeat would find the client gone as well, but it changes
// what goes over the wire (websockify sends no pings unless asked), and a
// pong is not read while clientToTarget is blocked: a live client would be
// taken for dead whenever the target stops reading for long.

// keepaliveProbes is the number of unanswered keepalive probes that end a
// connection where TCP_USER_TIMEOUT is not available: with probes every
// ClientTimeout/4 after ClientTimeout/4 of silence, the same ClientTimeout.
const keepaliveProbes = 3

// tcpConn returns the TCP connection under c: c itself, or what its
// NetConn method returns (as tls.Conn's does), unwrapped a few times.
// It returns nil if there is none (a unix socket, a pipe).
func tcpConn(c net.Conn) *net.TCPConn {
	for range 8 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// clientCheckInterval is how often the session checks the client's socket.
func (o *ServerOptions) clientCheckInterval() time.Duration {
	return max(o.ClientTimeout/4, 10*time.Millisecond)
}

// limitClient sets keepalive and TCP_USER_TIMEOUT on the client's TCP
// connection, and keeps its syscall.RawConn in s.craw for checkClient,
// and caps its unsent data (ClientMaxUnsent). It does nothing without a
// TCP connection; keepalive and the user timeout need ClientTimeout.
func (s *session) limitClient() {
	d := s.srv.opts.ClientTimeout
	tc := tcpConn(s.client.raw)
	if tc != nil && s.srv.opts.ClientMaxUnsent > 0 {
		if raw, err := tc.SyscallConn(); err == nil {
			if err := setNotSentLowat(raw, s.srv.opts.ClientMaxUnsent); err != nil {
				s.log.Debug("client TCP_NOTSENT_LOWAT", "err", err)
			} else {
				s.unsentRaw = raw
			}
		}
	}
	if d <= 0 || tc == nil {
		return
	}
	probe := max(s.srv.opts.clientCheckInterval(), time.Second) // keepalive counts whole seconds
	if err := tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: probe, Interval: probe, Count: keepaliveProbes}); err != nil {
		s.log.Debug("client keepalive", "err", err)
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	if err := setUserTimeout(raw, d); err != nil {
		s.log.Debug("client TCP_USER_TIMEOUT", "err", err)
	}
	if socketErrorSupported {
		s.craw = raw
	}
}

// checkClient stops the session if the kernel ended the client's
// connection (a keepalive or user timeout, a reset) while nobody was
// reading or writing it. It reports whether it did.
func (s *session) checkClient() bool {
	var serr error
	err := s.craw.Control(func(fd uintptr) { serr = socketError(fd) })
	if err != nil || serr == nil {
		return false
	}
	s.interrupt(closeReq{by: SideClient, code: CloseAbnormal, reason: "Connection closed abnormally", err: fmt.Errorf("client connection lost: %w", serr)})
	return true
}
