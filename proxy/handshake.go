package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The opening handshake, RFC 6455 section 4.2, with websockify's choices
// (websocket.py accept, websockifyserver.py select_subprotocol).
//
// gobwas/ws's Upgrader is not used for reading the request: it accepts only
// Sec-WebSocket-Version 13 (426 for the 7 and 8 that websockify accepts)
// and writes its own rejection for a request that is not an upgrade, which
// leaves no way to hand a plain GET to the static file handler. The request
// is read instead with net/http's parser (http.ReadRequest) from a pooled
// bufio.Reader, so that the Authenticator, the Resolver and the static
// Handler all see a standard *http.Request; gobwas/ws does the framing
// after the upgrade.

// websocketGUID is the RFC 6455 section 1.3 magic string.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var errHeaderTooLarge = errors.New("request header too large")

// handshakeReader limits the bytes read for a request's header and, when
// a static Handler is configured, keeps a copy of them so the request can
// be replayed to the static file server.
type handshakeReader struct {
	r       io.Reader
	n       int  // bytes left before errHeaderTooLarge
	capture bool // keep a copy of what was read in read
	read    []byte
}

func (h *handshakeReader) Read(p []byte) (int, error) {
	if h.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if len(p) > h.n {
		p = p[:h.n]
	}
	n, err := h.r.Read(p)
	h.n -= n
	if h.capture {
		h.read = append(h.read, p[:n]...)
	}
	return n, err
}

// serveHTTP reads the first request of a sniffed connection and answers it:
// upgrade, static file (handed to the static server), or error.
func (s *Server) serveHTTP(ctx context.Context, cc *clientConn, hsDeadline time.Time) {
	hr := &handshakeReader{r: cc.Conn, n: s.opts.MaxHeaderBytes, capture: s.opts.Handler != nil}
	br := s.readers.Get().(*bufio.Reader)
	br.Reset(hr)
	req, err := http.ReadRequest(br)
	// Frames the client sent right after its request are already in br.
	var leftover []byte
	if err == nil && br.Buffered() > 0 {
		p, _ := br.Peek(br.Buffered())
		leftover = bytes.Clone(p)
	}
	br.Reset(nil)
	s.readers.Put(br)
	if err != nil {
		reason, herr := RejectBadRequest, &HTTPError{Status: http.StatusBadRequest, Reason: "malformed HTTP request", Err: err}
		switch {
		case errors.Is(err, errHeaderTooLarge):
			herr = &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request header too large"}
		case isTimeout(err):
			reason, herr = RejectTimeout, nil
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed):
			reason, herr = RejectClosed, nil
		}
		if herr != nil {
			s.reject(cc, nil, reason, herr, herr)
		} else {
			s.drop(cc, reason, fmt.Errorf("reading request: %w", err))
		}
		return
	}
	req.RemoteAddr = addrString(cc.raw.RemoteAddr())
	if cc.tls != nil {
		st := cc.tls.ConnectionState()
		req.TLS = &st
	}

	if req.Method == http.MethodGet && isUpgrade(req) {
		s.upgrade(ctx, cc, req, leftover, hsDeadline)
		return
	}
	if s.opts.Handler == nil || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		herr := methodNotAllowed(s.opts.Handler != nil)
		s.reject(cc, req, RejectBadRequest, herr, herr)
		return
	}
	// A request for a static file: replay what was read to the static
	// server, which serves this connection from now on.
	s.forgetConn(cc.raw)
	s.handoff(ctx, cc, hr.read)
}

// addrString returns a.String(), or "" for a nil address (an unnamed unix
// socket peer).
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isUpgrade reports whether r asks for a WebSocket upgrade (websockify
// checks the Upgrade header alone; Connection is not required).
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

func methodNotAllowed(static bool) *HTTPError {
	allow := "GET"
	if static {
		allow = "GET, HEAD"
	}
	return &HTTPError{Status: http.StatusMethodNotAllowed, Header: http.Header{"Allow": {allow}}, Reason: "method not allowed"}
}

// negotiation is the outcome of the protocol checks of an upgrade request.
type negotiation struct {
	accept   string // Sec-WebSocket-Accept
	protocol string // chosen subprotocol, "" if none was requested
	base64   bool   // payloads are base64 in text frames
}

// negotiate checks an upgrade request (RFC 6455 section 4.2.1) and chooses
// the subprotocol. Versions 7 and 8 are the hybi drafts websockify accepts;
// their framing is RFC 6455's.
func negotiate(r *http.Request) (negotiation, *HTTPError) {
	var n negotiation
	if !r.ProtoAtLeast(1, 1) {
		return n, &HTTPError{Status: http.StatusBadRequest, Reason: "WebSocket needs HTTP/1.1"}
	}
	switch v := r.Header.Get("Sec-WebSocket-Version"); v {
	case "13", "8", "7":
	default:
		return n, &HTTPError{
			Status: http.StatusBadRequest,
			Header: http.Header{"Sec-Websocket-Version": {"13"}},
			Reason: fmt.Sprintf("unsupported Sec-WebSocket-Version %q", v),
		}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return n, &HTTPError{Status: http.StatusBadRequest, Reason: "missing or invalid Sec-WebSocket-Key"}
	}
	sum := sha1.Sum([]byte(key + websocketGUID))
	n.accept = base64.StdEncoding.EncodeToString(sum[:])

	var offered, binary, b64 bool
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			switch strings.TrimSpace(p) {
			case "":
				continue
			case "binary":
				binary = true
			case "base64":
				b64 = true
			}
			offered = true
		}
	}
	switch {
	case binary:
		n.protocol = "binary"
	case b64:
		n.protocol, n.base64 = "base64", true
	case offered:
		// websockify: "Invalid protocol selected" when none it knows.
		return n, &HTTPError{Status: http.StatusBadRequest, Reason: "no supported subprotocol (binary, base64)"}
	}
	return n, nil
}

// upgrade completes the handshake of a WebSocket request and runs the
// session in this goroutine. leftover holds bytes the client sent after
// the request; hsDeadline bounds the handshake.
func (s *Server) upgrade(ctx context.Context, cc *clientConn, req *http.Request, leftover []byte, hsDeadline time.Time) {
	cc.SetDeadline(hsDeadline)
	neg, herr := negotiate(req)
	if herr != nil {
		s.reject(cc, req, RejectBadRequest, herr, herr)
		return
	}

	r := &Request{
		HTTP:       req,
		Session:    cc.id,
		LocalAddr:  cc.raw.LocalAddr(),
		RemoteAddr: cc.raw.RemoteAddr(),
		ClientAddr: req.RemoteAddr,
	}
	if f := s.opts.ClientAddr; f != nil {
		r.ClientAddr = f(req)
	}
	hctx, cancel := context.WithDeadline(ctx, hsDeadline)
	if hsDeadline.IsZero() {
		hctx, cancel = context.WithCancel(ctx)
	}
	target, reason, err := s.admit(hctx, cc.log, r)
	cancel()
	if err != nil {
		var herr *HTTPError
		if !errors.As(err, &herr) {
			herr = &HTTPError{Status: http.StatusInternalServerError, Reason: "internal error", Err: err}
		}
		s.reject(cc, req, reason, herr, err)
		return
	}

	sess := newSession(ctx, s, cc, r, target, neg)
	if !s.addSession(sess) {
		sess.cancel()
		herr := &HTTPError{Status: http.StatusServiceUnavailable, Reason: "server shutting down"}
		s.reject(cc, req, RejectShutdown, herr, herr)
		return
	}
	defer s.removeSession(sess)
	if err := writeUpgrade(cc, neg); err != nil {
		sess.cancel()
		s.drop(cc, RejectClosed, fmt.Errorf("writing upgrade: %w", err))
		return
	}
	cc.SetDeadline(time.Time{})
	if pc, ok := cc.Conn.(*prefixConn); ok && pc.r == pc.n {
		cc.Conn = pc.Conn // sniffed bytes consumed: read the socket directly
	}
	sess.run(leftover)
}

// admit runs the Authenticator and the Resolver. On failure it also says
// why, for the Observer.
func (s *Server) admit(ctx context.Context, log *slog.Logger, r *Request) (Target, RejectReason, error) {
	if a := s.opts.Authenticator; a != nil {
		var user string
		err := guard(log, "authenticator", func() (err error) {
			user, err = a.Authenticate(ctx, r)
			return err
		})
		if err != nil {
			return Target{}, RejectAuth, fmt.Errorf("authenticate: %w", err)
		}
		r.User = user
	}
	var t Target
	err := guard(log, "resolver", func() (err error) {
		t, err = s.opts.Resolver.Resolve(ctx, r)
		return err
	})
	if err != nil {
		return Target{}, resolveReason(err), fmt.Errorf("resolve: %w", err)
	}
	return t, 0, nil
}

// writeUpgrade writes the 101 response.
func writeUpgrade(w io.Writer, n negotiation) error {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(n.accept)
	if n.protocol != "" {
		b.WriteString("\r\nSec-WebSocket-Protocol: ")
		b.WriteString(n.protocol)
	}
	b.WriteString("\r\n\r\n")
	_, err := w.Write(b.Bytes())
	return err
}

// reject answers a request with an error status, logs it, closes the
// connection and tells the Observer why, with err. req may be nil when the
// request could not be read.
func (s *Server) reject(cc *clientConn, req *http.Request, reason RejectReason, e *HTTPError, err error) {
	s.logReject(cc, req, e)
	writeError(cc, e, req != nil && req.Method == http.MethodHead)
	cc.Close()
	s.rejected(reason, err)
}

// logReject logs the "request rejected" line of a request answered with
// e: with the session ID (cc.log) and the client's address always, and
// the method and path when the request could be read.
func (s *Server) logReject(cc *clientConn, req *http.Request, e *HTTPError) {
	attrs := []any{"status", e.Status, "reason", e.Reason, "client", addrString(cc.raw.RemoteAddr())}
	if req != nil {
		attrs = append(attrs, "method", req.Method, "path", req.URL.Path)
	}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err)
	}
	cc.log.Info("request rejected", attrs...)
}

// drop closes a connection that cannot be answered, logs it and tells the
// Observer why.
func (s *Server) drop(cc *clientConn, reason RejectReason, err error) {
	cc.log.Info("connection dropped", "client", cc.raw.RemoteAddr(), "err", err)
	cc.Close()
	s.rejected(reason, err)
}

// writeError writes a complete error response, without its body for a HEAD
// request; the connection is closed after it.
func writeError(w io.Writer, e *HTTPError, head bool) {
	body := e.Reason + "\n"
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + "\r\n")
	h := http.Header{
		"Content-Type":           {"text/plain; charset=utf-8"},
		"Content-Length":         {strconv.Itoa(len(body))},
		"Connection":             {"close"},
		"X-Content-Type-Options": {"nosniff"},
	}
	for k, v := range e.Header {
		h[http.CanonicalHeaderKey(k)] = v
	}
	h.Write(&b)
	b.WriteString("\r\n")
	if !head {
		b.WriteString(body)
	}
	w.Write(b.Bytes())
}
