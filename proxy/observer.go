package proxy

import (
	"errors"
	"net/http"
)

// Observer is told what becomes of the server's connections and sessions,
// for metrics. The server calls it from the goroutines of its connections,
// concurrently and outside its locks, so an Observer must be safe for
// concurrent use and should return quickly: a slow call holds up the
// connection it reports. A panic in a method is logged with its stack and
// otherwise ignored. Byte counts are not reported per message: read them
// with Server.Stats.
type Observer interface {
	// Rejected is called once for each connection that did not become a
	// session, with the reason and the error that was logged (nil when
	// there is none), after the answer (if any) was written. It is also
	// called with RejectTargetUnreachable for a session whose target could
	// not be reached: as in websockify, the upgrade is answered before the
	// target is dialled, so that session is also reported to SessionOpened
	// and SessionClosed.
	Rejected(reason RejectReason, err error)

	// SessionOpened is called when a session starts, after the upgrade
	// and before the target is dialled. info must not be modified.
	SessionOpened(info *SessionInfo)

	// SessionClosed is called once for each session SessionOpened was
	// called for, after it ended and its Tap was closed.
	SessionClosed(info *SessionInfo, ci CloseInfo)

	// HeartbeatTimeout is called when a session is closed because its
	// client did not answer a ping within ServerOptions.HeartbeatTimeout;
	// SessionClosed follows.
	HeartbeatTimeout(info *SessionInfo)
}

// RejectReason says why a connection did not become a session.
type RejectReason uint8

// Reasons for Observer.Rejected. Their String forms are short snake_case
// labels, for metrics.
const (
	// RejectBadRequest: a malformed HTTP request, a request that is not a
	// WebSocket upgrade where no Handler serves it (405), a bad WebSocket
	// handshake, a header over MaxHeaderBytes, or a missing or malformed
	// token: an answer in the 400s that is not one of the reasons below.
	RejectBadRequest RejectReason = iota + 1
	// RejectTLS: a TLS handshake that failed, or TLS without TLSConfig.
	RejectTLS
	// RejectPlain: a plain connection refused because of RequireTLS.
	RejectPlain
	// RejectTimeout: no first byte within FirstByteTimeout, or no complete
	// request or TLS handshake within HandshakeTimeout.
	RejectTimeout
	// RejectClosed: the client closed or reset the connection before the
	// handshake was done.
	RejectClosed
	// RejectAuth: the Authenticator refused the request or failed.
	RejectAuth
	// RejectUnknownToken: the Resolver found no target for the request: an
	// error wrapping ErrUnknownToken, or an *HTTPError with status 404.
	RejectUnknownToken
	// RejectInvalidToken: a self-contained token was not acceptable (an
	// error wrapping ErrInvalidToken).
	RejectInvalidToken
	// RejectResolve: the Resolver failed otherwise (a token lookup that
	// failed or timed out, a panic, an answer in the 500s).
	RejectResolve
	// RejectTargetUnreachable: the target of an upgraded session could not
	// be dialled (within DialTimeout).
	RejectTargetUnreachable
	// RejectShutdown: the server was shutting down (503).
	RejectShutdown

	rejectReasons = iota + 1 // the last reason + 1
)

var rejectNames = [rejectReasons]string{
	RejectBadRequest:        "bad_request",
	RejectTLS:               "tls",
	RejectPlain:             "plain",
	RejectTimeout:           "timeout",
	RejectClosed:            "closed",
	RejectAuth:              "auth",
	RejectUnknownToken:      "unknown_token",
	RejectInvalidToken:      "invalid_token",
	RejectResolve:           "resolve",
	RejectTargetUnreachable: "target_unreachable",
	RejectShutdown:          "shutdown",
}

// String returns the reason's label, such as "bad_request", or "unknown".
func (r RejectReason) String() string {
	if r == 0 || int(r) >= len(rejectNames) {
		return "unknown"
	}
	return rejectNames[r]
}

// RejectReasons returns every RejectReason, in the order of their values.
func RejectReasons() []RejectReason {
	out := make([]RejectReason, 0, rejectReasons-1)
	for r := RejectBadRequest; r < rejectReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Stats are a server's running totals.
type Stats struct {
	// ToTarget and ToClient are the payload bytes forwarded each way by
	// every session so far, those still open included (decoded bytes for
	// base64 sessions, as in CloseInfo).
	ToTarget, ToClient int64
}

// Stats returns the server's totals at the time of the call. They never
// decrease, so they suit counters read when metrics are scraped. It is
// safe for concurrent use; it takes the server's lock for a walk over the
// open sessions, without stopping their traffic.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.closed
	for sess := range s.sessions {
		st.ToTarget += sess.toTarget.Load()
		st.ToClient += sess.toClient.Load()
	}
	return st
}

// observe calls f with the Observer, if there is one, guarded against its
// panics. It must be called without s.mu held.
func (s *Server) observe(f func(Observer)) {
	o := s.opts.Observer
	if o == nil {
		return
	}
	guard(s.log, "observer", func() error {
		f(o)
		return nil
	})
}

// rejected reports a rejected connection to the Observer.
func (s *Server) rejected(reason RejectReason, err error) {
	s.observe(func(o Observer) { o.Rejected(reason, err) })
}

// sniffReason says why sniff failed with err.
func sniffReason(err error) RejectReason {
	switch {
	case errors.Is(err, errPlain):
		return RejectPlain
	case isTimeout(err):
		return RejectTimeout
	case errors.Is(err, errNoTLS), errors.Is(err, errTLSHandshake):
		return RejectTLS
	}
	return RejectClosed
}

// resolveReason says why the Resolver failed with err.
func resolveReason(err error) RejectReason {
	var herr *HTTPError
	isHTTP := errors.As(err, &herr)
	switch {
	case errors.Is(err, ErrUnknownToken), isHTTP && herr.Status == http.StatusNotFound:
		return RejectUnknownToken
	case errors.Is(err, ErrInvalidToken):
		return RejectInvalidToken
	case isHTTP && herr.Status >= 400 && herr.Status < 500:
		return RejectBadRequest
	}
	return RejectResolve
}
