package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// session is one proxied WebSocket connection. Its goroutine (the one that
// did the handshake) runs targetToClient; clientToTarget runs in a second
// goroutine. The first pump to finish stops the session (stop): the close
// frame is sent, the client's write side and the target are closed. The
// session then waits for the other pump, and only then closes the tap.
type session struct {
	srv    *Server
	log    *slog.Logger
	ctx    context.Context // ends with the session, Serve's context or interrupt
	cancel context.CancelFunc
	info   SessionInfo
	start  time.Time
	target Target
	client *clientConn
	base64 bool
	opcode ws.OpCode // data frames the client must send
	tap    Tap
	tapMu  sync.Mutex

	// Target connection, set once connected (under mu).
	tconn net.Conn
	traw  syscall.RawConn // nil when tconn is not a socket

	// The client's socket, checked by the timer (checkClient); nil when it
	// is not checked.
	craw syscall.RawConn
	// The client's socket when its unsent data is capped
	// (ClientMaxUnsent), for writeClose to lift the cap; else nil.
	unsentRaw syscall.RawConn

	// clientToTarget's state.
	in       frameReader
	hdrIn    [ws.MaxHeaderSize]byte
	batch    net.Buffers // messages for the target, written by flush
	batchArr [maxBatch][]byte

	// targetToClient's state.
	tbuf       *buffer // held while data flows (readTarget)
	tn         int
	terr       error
	readTarget func() (int, error)
	readFD     func(fd uintptr) bool // s.readTargetFD, bound once
	hw         appender
	hdrOut     [ws.MaxHeaderSize]byte

	// Writes to the client; the close frame is the last.
	wmu       sync.Mutex
	closeSent bool
	ctrl      appender
	ctrlBuf   [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte
	hdrCtrl   [ws.MaxHeaderSize]byte

	mu        sync.Mutex
	stopped   atomic.Bool // set under mu
	ci        CloseInfo
	requested *closeReq      // by interrupt
	done      bool           // no more callbacks may start
	callbacks sync.WaitGroup // timer and context callbacks running
	tick      *time.Timer    // idle timeout and heartbeat pings
	pong      *time.Timer    // heartbeat timeout

	toTarget, toClient atomic.Int64
	lastActivity       atomic.Int64 // time.Duration since start
	nextPing           atomic.Int64 // time.Duration since start
	nextCheck          atomic.Int64 // time.Duration since start, of checkClient
	pingSent           atomic.Int64 // time.Duration since start + 1 of the unanswered ping, 0 if none
}

// closeReq says how to stop a session.
type closeReq struct {
	by     Side
	code   CloseCode
	reason string
	err    error
}

var closeGoingAway = closeReq{by: SideProxy, code: CloseGoingAway, reason: "Going away"}

func newSession(ctx context.Context, srv *Server, cc *clientConn, r *Request, t Target, n negotiation) *session {
	s := &session{
		srv:    srv,
		target: t,
		client: cc,
		base64: n.base64,
		opcode: ws.OpBinary,
	}
	if n.base64 {
		s.opcode = ws.OpText
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	req := r.HTTP
	s.info = SessionInfo{
		ID:          r.Session,
		LocalAddr:   r.LocalAddr,
		RemoteAddr:  r.RemoteAddr,
		ClientAddr:  r.ClientAddr,
		Target:      t.String(),
		Token:       t.Token,
		User:        r.User,
		TLS:         cc.tlsInfo(),
		Subprotocol: n.protocol,
		Origin:      req.Header.Get("Origin"),
		UserAgent:   req.UserAgent(),
		Path:        req.URL.Path,
	}
	return s
}

// run runs the session until both pumps have ended. leftover is what the
// client sent after its request.
func (s *session) run(leftover []byte) {
	s.start = time.Now()
	s.info.Start = s.start
	s.log = s.srv.log.With("session", s.info.ID)
	s.in.init(s, leftover)
	s.batch = s.batchArr[:0]
	setNoDelay(s.client.raw)
	s.limitClient()
	stopWatch := context.AfterFunc(s.ctx, s.canceled)
	s.startTimers()
	attrs := []any{"client", s.info.RemoteAddr, "target", s.info.Target, "path", s.info.Path, "tls", s.info.TLS != nil}
	if s.info.ClientAddr != addrString(s.info.RemoteAddr) {
		attrs = append(attrs, "real_client", s.info.ClientAddr)
	}
	if s.info.Subprotocol != "" {
		attrs = append(attrs, "subprotocol", s.info.Subprotocol)
	}
	if s.info.User != "" {
		attrs = append(attrs, "user", s.info.User)
	}
	s.log.Info("session open", attrs...)
	s.srv.observe(func(o Observer) { o.SessionOpened(&s.info) })

	var t2cErr, c2tErr error
	if s.connect() {
		c2t := make(chan error, 1)
		go func() { c2t <- s.clientToTarget() }()
		t2cErr = s.targetToClient()
		c2tErr = <-c2t
	} else {
		s.drain()
	}

	s.client.Close()
	s.mu.Lock()
	tconn := s.tconn
	s.done = true
	if s.tick != nil {
		s.tick.Stop()
	}
	if s.pong != nil {
		s.pong.Stop()
	}
	s.mu.Unlock()
	if tconn != nil {
		tconn.Close()
	}
	stopWatch()
	s.cancel()
	s.callbacks.Wait()
	s.in.r, s.in.w = 0, 0
	s.in.release()
	if s.tbuf != nil {
		s.srv.putBuffer(s.tbuf)
		s.tbuf = nil
	}

	s.mu.Lock()
	ci := s.ci
	s.mu.Unlock()
	ci.ToTarget, ci.ToClient = s.toTarget.Load(), s.toClient.Load()
	ci.Duration = time.Since(s.start)
	if s.tap != nil {
		if err := guard(s.log, "tap", func() error { return s.tap.Close(ci) }); err != nil {
			s.log.Error("closing tap", "err", err)
		}
	}
	attrs = []any{
		"client", s.info.RemoteAddr, "target", s.info.Target,
		"by", ci.By.String(), "code", int(ci.Code), "reason", ci.Reason,
		"to_target", ci.ToTarget, "to_client", ci.ToClient, "duration", ci.Duration,
	}
	if ci.Err != nil {
		attrs = append(attrs, "err", ci.Err)
	}
	s.log.Info("session closed", attrs...)
	s.srv.observe(func(o Observer) { o.SessionClosed(&s.info, ci) })
	// What the pumps returned after the end was decided, for debugging.
	for _, err := range []error{t2cErr, c2tErr} {
		if err != nil && !errors.Is(ci.Err, err) {
			s.log.Debug("pump error after close", "err", err)
		}
	}
}

// connect dials the target and opens the tap. It returns false, with the
// session stopped, if either fails.
func (s *session) connect() bool {
	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if d := s.srv.opts.DialTimeout; d > 0 {
		ctx, cancel = context.WithTimeout(s.ctx, d)
	}
	conn, err := s.target.Dial(ctx)
	cancel()
	if err != nil {
		if s.ctx.Err() != nil {
			// Canceled by Serve's context (its callback may not have run yet)
			// or by interrupt, whose request wins.
			s.interrupt(closeGoingAway)
		}
		if !s.takeInterrupt() {
			err = fmt.Errorf("dial %s: %w", s.info.Target, err)
			s.stop(closeReq{by: SideProxy, code: CloseInternalError, reason: "Failed to connect to downstream server", err: err})
			s.srv.rejected(RejectTargetUnreachable, err)
		}
		return false
	}
	setNoDelay(conn)
	s.readTarget = s.readTargetConn
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil && rawReadSupported {
			s.traw = raw
			s.readFD = s.readTargetFD
			s.readTarget = s.readTargetRaw
		}
	}
	s.mu.Lock()
	s.tconn = conn
	s.mu.Unlock()

	if f := s.srv.opts.NewTap; f != nil {
		var tap Tap
		err := guard(s.log, "tap", func() (err error) {
			tap, err = f(s.ctx, &s.info)
			return err
		})
		if err != nil {
			if s.ctx.Err() != nil {
				s.interrupt(closeGoingAway)
			}
			if !s.takeInterrupt() {
				s.stop(closeReq{by: SideProxy, code: CloseInternalError, reason: "Recording unavailable", err: fmt.Errorf("tap: %w", err)})
			}
			return false
		}
		s.tap = tap
	}
	return true
}

func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}

// readTargetConn reads the target into s.tbuf, which it keeps: for targets
// that are not sockets (TLS), which readTargetRaw cannot wait for.
func (s *session) readTargetConn() (int, error) {
	if s.tbuf == nil {
		s.tbuf = s.srv.getBuffer()
	}
	return s.tconn.Read(s.tbuf[headroom:])
}

// readTargetRaw reads the target into s.tbuf without holding a buffer
// while the target is silent: readTargetFD reads without blocking and gives
// the buffer back when there is nothing to read, and the runtime's poller
// waits for the socket to become readable.
func (s *session) readTargetRaw() (int, error) {
	s.tn, s.terr = 0, nil
	if err := s.traw.Read(s.readFD); err != nil {
		return 0, err
	}
	return s.tn, s.terr
}

// since returns the monotonic time since the session started.
func (s *session) since() time.Duration { return time.Since(s.start) }

// touch records data traffic for the idle timeout.
func (s *session) touch() {
	if s.srv.opts.IdleTimeout > 0 {
		s.lastActivity.Store(int64(s.since()))
	}
}

// readClient reads from the client. When the deadline set by interrupt
// wakes it, it stops the session as requested and returns errStopped.
func (s *session) readClient(p []byte) (int, error) {
	n, err := s.client.Read(p)
	if n == 0 && err != nil && !s.stopped.Load() && isTimeout(err) && s.takeInterrupt() {
		return 0, errStopped
	}
	return n, err
}

// stop ends the session once: it sends the close frame (unless the client
// connection broke), half-closes the client connection, closes the target
// (half-closing it first after a clean close from the client), and bounds
// what is left of the closing handshake with CloseTimeout.
func (s *session) stop(req closeReq) {
	s.mu.Lock()
	if s.stopped.Load() {
		s.mu.Unlock()
		return
	}
	s.ci = CloseInfo{By: req.by, Code: req.code, Reason: req.reason, Err: req.err}
	s.stopped.Store(true)
	tconn := s.tconn
	s.mu.Unlock()

	if req.code != CloseAbnormal {
		s.writeClose(req.code, req.reason)
	}
	s.client.closeWrite()
	if tconn != nil {
		if cw, ok := tconn.(interface{ CloseWrite() error }); ok && req.by == SideClient {
			cw.CloseWrite()
		}
		tconn.Close()
	}
	s.client.SetReadDeadline(time.Now().Add(s.srv.opts.CloseTimeout))
}

// writeClose sends the close frame (RFC 6455 section 5.5.1), the last
// frame of the session, within CloseTimeout; a close frame that the
// client's connection does not take in time is logged.
//
// The cap on unsent data (ClientMaxUnsent) is lifted first: it holds
// back data for a client that reads slowly, so that the target side
// sees it, but the close frame is the last thing sent. Under the cap the
// kernel accepts nothing while the cap's worth is unsent, even a close
// frame of a few bytes with megabytes free in the send buffer: a healthy
// client that had not read the end of what was sent within CloseTimeout
// lost its close frame and read EOF instead (replay's TestScale, 1,000
// replays under load).
func (s *session) writeClose(code CloseCode, reason string) {
	d := time.Now().Add(s.srv.opts.CloseTimeout)
	s.client.SetWriteDeadline(d) // unblocks a write to a client that does not read
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closeSent {
		return
	}
	s.closeSent = true
	if s.unsentRaw != nil {
		if err := setNotSentLowat(s.unsentRaw, 0); err != nil { // 0: the system's default
			s.log.Debug("client TCP_NOTSENT_LOWAT", "err", err)
		}
	}
	// The time is counted again from here, after the lock and the system
	// call: what CloseTimeout bounds is the wait for the client, and a
	// deadline that passed while this goroutine waited for a CPU fails
	// the write before it is tried.
	s.client.SetWriteDeadline(time.Now().Add(s.srv.opts.CloseTimeout))
	var p [ws.MaxControlFramePayloadSize]byte
	if err := s.writeControlLocked(ws.OpClose, closeBody(&p, code, reason)); err != nil {
		s.log.Warn("close frame not sent: the client gets no close code", "code", int(code), "reason", reason, "err", err)
	}
}

// interrupt asks the session to stop with req, from any goroutine, without
// blocking: it cancels the dial or tap set-up and sets deadlines that wake
// clientToTarget, which then stops the session. The first request wins. On
// a session already stopping it cuts the closing handshake short.
func (s *session) interrupt(req closeReq) {
	s.mu.Lock()
	if s.requested != nil {
		s.mu.Unlock()
		return
	}
	s.requested = &req
	tconn := s.tconn
	s.mu.Unlock()
	s.cancel()
	now := time.Now()
	s.client.SetReadDeadline(now)
	if tconn != nil {
		tconn.SetWriteDeadline(now)
	}
}

// takeInterrupt stops the session if interrupt asked for it.
func (s *session) takeInterrupt() bool {
	s.mu.Lock()
	req := s.requested
	s.mu.Unlock()
	if req == nil {
		return false
	}
	s.stop(*req)
	return true
}

// canceled runs when the session's context ends: Serve's context was
// canceled (or interrupt canceled it).
func (s *session) canceled() {
	if !s.enterCallback() {
		return
	}
	defer s.callbacks.Done()
	s.interrupt(closeGoingAway)
}

// enterCallback admits a timer or context callback unless the session is
// over; run waits for the admitted ones.
func (s *session) enterCallback() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.callbacks.Add(1)
	return true
}

// rearm resets t unless the session is over.
func (s *session) rearm(t *time.Timer, d time.Duration) {
	s.mu.Lock()
	if !s.done {
		t.Reset(d)
	}
	s.mu.Unlock()
}

func (s *session) startTimers() {
	o := &s.srv.opts
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.IdleTimeout > 0 || o.Heartbeat > 0 || s.craw != nil {
		first := time.Duration(math.MaxInt64)
		if o.IdleTimeout > 0 {
			first = o.IdleTimeout
		}
		if o.Heartbeat > 0 {
			first = min(first, o.Heartbeat)
			s.nextPing.Store(int64(o.Heartbeat))
		}
		if s.craw != nil {
			first = min(first, o.clientCheckInterval())
			s.nextCheck.Store(int64(o.clientCheckInterval()))
		}
		s.tick = time.AfterFunc(first, s.onTick)
	}
	if o.Heartbeat > 0 && o.HeartbeatTimeout > 0 {
		s.pong = time.AfterFunc(math.MaxInt64, s.onPongTimeout)
	}
}

// onTick closes an idle session, sends heartbeat pings and checks the
// client's connection.
func (s *session) onTick() {
	if !s.enterCallback() {
		return
	}
	defer s.callbacks.Done()
	o := &s.srv.opts
	now := s.since()
	next := time.Duration(math.MaxInt64)
	if o.IdleTimeout > 0 {
		idle := now - time.Duration(s.lastActivity.Load())
		if idle >= o.IdleTimeout {
			s.interrupt(closeReq{by: SideProxy, code: CloseNormal, reason: "Idle timeout"})
			return
		}
		next = o.IdleTimeout - idle
	}
	if o.Heartbeat > 0 {
		np := time.Duration(s.nextPing.Load())
		if now >= np {
			s.ping(now)
			np = now + o.Heartbeat
			s.nextPing.Store(int64(np))
		}
		next = min(next, np-now)
	}
	if s.craw != nil {
		nc := time.Duration(s.nextCheck.Load())
		if now >= nc {
			if s.checkClient() {
				return
			}
			nc = now + o.clientCheckInterval()
			s.nextCheck.Store(int64(nc))
		}
		next = min(next, nc-now)
	}
	s.rearm(s.tick, next)
}

// ping sends a heartbeat ping. The heartbeat timeout starts before the
// write lock is taken, so a client that stopped reading is caught too.
func (s *session) ping(now time.Duration) {
	o := &s.srv.opts
	if s.pong != nil && s.pingSent.CompareAndSwap(0, int64(now)+1) {
		s.rearm(s.pong, o.HeartbeatTimeout)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closeSent {
		return
	}
	s.client.SetWriteDeadline(time.Now().Add(max(o.CloseTimeout, o.HeartbeatTimeout)))
	err := s.writeControlLocked(ws.OpPing, nil)
	s.client.SetWriteDeadline(time.Time{})
	if err != nil {
		s.interrupt(closeReq{by: SideProxy, code: CloseGoingAway, reason: "Heartbeat timeout", err: fmt.Errorf("ping: %w", err)})
	}
}

// onPongTimeout closes a session whose client did not answer a ping.
func (s *session) onPongTimeout() {
	if !s.enterCallback() {
		return
	}
	defer s.callbacks.Done()
	sent := s.pingSent.Load()
	if sent == 0 {
		return
	}
	timeout := s.srv.opts.HeartbeatTimeout
	waited := s.since() - time.Duration(sent-1)
	if waited >= timeout {
		if !s.stopped.Load() {
			s.srv.observe(func(o Observer) { o.HeartbeatTimeout(&s.info) })
		}
		s.interrupt(closeReq{by: SideProxy, code: CloseGoingAway, reason: "Heartbeat timeout", err: fmt.Errorf("no pong within %v", timeout)})
		return
	}
	s.rearm(s.pong, timeout-waited)
}
