package proxy

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// The two pumps of a session (RFC 6455 sections 5 and 6).
//
// Memory: an idle session holds no pooled buffer. clientToTarget reads into
// a small buffer inside the session and takes a data buffer from the pool
// only for frames that do not fit, giving it back as soon as nothing is
// buffered; targetToClient reads the target without blocking and gives its
// buffer back when there is nothing to read (readTargetRaw). Frames are
// parsed, unmasked and forwarded in place; target data is read behind
// headroom for the frame header, so each message is one write. Nothing is
// allocated per message.
//
// System calls: the messages parsed from one read of the client are written
// to the target together, with one writev, just before the next read of the
// client (or before anything that could block or reorder them), so a
// stream of 64 KiB messages costs one read and one write per 256 KiB, as a
// plain TCP relay does. Target data is read at an offset of 64 bytes into
// the buffer, the frame header written in front of it: misaligned copies in
// and out of the kernel cost about a fifth more CPU per byte.

const (
	// bufferSize is the most data read from the target at once (the read
	// size of the "socat -b 262144" baseline), and the largest client frame
	// parsed in place (bigger ones are assembled in a message buffer that
	// grows as the bytes arrive). Buffers are held only while data flows.
	bufferSize = 256 << 10
	// headroom is room for a frame header before the payload, and keeps
	// the payload 64-byte aligned for the kernel's copies.
	headroom = 64
	// smallSize is the session's own read buffer for client frames.
	smallSize = 512
	// maxPooledMessage is the largest message buffer kept for reuse.
	maxPooledMessage = 1 << 20
	// maxBatch is the most client messages written to the target at once.
	maxBatch = 16
)

// buffer is a pooled data buffer: headroom, then bufferSize bytes.
type buffer [bufferLen]byte

const bufferLen = headroom + bufferSize

var (
	errStopped = errors.New("session stopped")
	errBase64  = errors.New("invalid base64 payload")
)

// frameReader buffers what the client sends.
type frameReader struct {
	s     *session
	small [smallSize]byte
	big   *buffer // from the pool while a frame needs it
	buf   []byte  // small[:] or big[:]
	r, w  int     // buf[r:w] is buffered
}

func (fr *frameReader) init(s *session, leftover []byte) {
	fr.s = s
	fr.buf = fr.small[:]
	if len(leftover) > len(fr.buf) {
		fr.grow()
	}
	fr.w = copy(fr.buf, leftover)
}

// Read implements io.Reader for ws.ReadHeaderBuffer.
func (fr *frameReader) Read(p []byte) (int, error) {
	if fr.r == fr.w {
		if err := fr.fill(1); err != nil {
			return 0, err
		}
	}
	n := copy(p, fr.buf[fr.r:fr.w])
	fr.r += n
	return n, nil
}

// next returns the next n bytes (n <= bufferLen), reading as needed.
// They are valid until the next call of a frameReader method.
func (fr *frameReader) next(n int) ([]byte, error) {
	if err := fr.fill(n); err != nil {
		return nil, err
	}
	p := fr.buf[fr.r : fr.r+n]
	fr.r += n
	return p, nil
}

// fill reads until n bytes are buffered. It first writes the batch of
// messages waiting for the target, whose payloads are in the buffer: they
// must go before the buffer moves, and before a read that could block.
func (fr *frameReader) fill(n int) error {
	if fr.w-fr.r >= n {
		return nil
	}
	if err := fr.s.flush(); err != nil {
		return err
	}
	if fr.r+n > len(fr.buf) {
		if n > len(fr.buf) {
			fr.grow()
		} else {
			fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
			fr.r = 0
		}
	}
	for fr.w-fr.r < n {
		m, err := fr.s.readClient(fr.buf[fr.w:])
		fr.w += m
		if err != nil && fr.w-fr.r < n {
			return err
		}
	}
	return nil
}

// grow moves the buffered bytes into a pooled buffer.
func (fr *frameReader) grow() {
	fr.big = fr.s.srv.getBuffer()
	fr.w = copy(fr.big[:], fr.buf[fr.r:fr.w])
	fr.r = 0
	fr.buf = fr.big[:]
}

// release gives the pooled buffer back when nothing is buffered, after
// writing the batch that points into it.
func (fr *frameReader) release() error {
	if fr.r != fr.w {
		return nil
	}
	if err := fr.s.flush(); err != nil {
		return err
	}
	fr.r, fr.w = 0, 0
	if fr.big != nil {
		fr.s.srv.putBuffer(fr.big)
		fr.big = nil
		fr.buf = fr.small[:]
	}
	return nil
}

// appendLarge appends the next n bytes to dst, reading straight into it as
// the bytes arrive (never allocating on the length the peer declared).
func (fr *frameReader) appendLarge(dst []byte, n int) ([]byte, error) {
	k := min(n, fr.w-fr.r)
	dst = append(dst, fr.buf[fr.r:fr.r+k]...)
	fr.r += k
	n -= k
	for n > 0 {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, min(n, max(len(dst), bufferSize)))
		}
		m, err := fr.s.readClient(dst[len(dst):min(cap(dst), len(dst)+n)])
		dst = dst[:len(dst)+m]
		n -= m
		if err != nil && n > 0 {
			return dst, err
		}
	}
	return dst, nil
}

// clientToTarget forwards the client's messages to the target, answers its
// pings and its close. It returns when the client closed or, after the
// session stopped, when the closing handshake is over.
func (s *session) clientToTarget() error {
	var (
		fragOp ws.OpCode // opcode of the fragmented message in progress
		msg    *[]byte   // its payload so far
	)
	defer func() { s.srv.putMsg(msg) }()
	maxSize := s.srv.opts.MaxMessageSize
	for {
		if err := s.in.release(); err != nil {
			return s.drain()
		}
		h, err := ws.ReadHeaderBuffer(&s.in, s.hdrIn[:])
		if err != nil {
			return s.clientReadFailed(err)
		}
		if s.stopped.Load() {
			return s.drain()
		}
		state := ws.StateServerSide
		if msg != nil {
			state |= ws.StateFragmented
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return s.fail(CloseProtocolError, "Protocol error: "+err.Error(), err)
		}
		if (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) && h.OpCode != s.opcode {
			if s.base64 {
				return s.fail(CloseUnsupportedData, "Unsupported: Binary frames are not supported on base64 sessions", nil)
			}
			return s.fail(CloseUnsupportedData, "Unsupported: Text frames are not supported", nil)
		}
		size := h.Length
		if msg != nil && h.OpCode == ws.OpContinuation {
			size += int64(len(*msg))
		}
		if size > maxSize {
			return s.fail(CloseMessageTooBig, fmt.Sprintf("Message too big (limit %d bytes)", maxSize), nil)
		}

		// The payload: in place when it fits a buffer, else appended to msg.
		var payload []byte
		n := int(h.Length)
		inPlace := n <= bufferLen && (h.OpCode.IsControl() || (h.Fin && msg == nil))
		if !inPlace || h.OpCode.IsControl() {
			// What follows blocks on the client or acts on the target
			// out of band: the batch goes first.
			if err := s.flush(); err != nil {
				return s.drain()
			}
		}
		switch {
		case inPlace:
			payload, err = s.in.next(n)
		default:
			if msg == nil {
				msg = s.srv.getMsg()
				fragOp = h.OpCode
			}
			start := len(*msg)
			*msg, err = s.in.appendLarge(*msg, n)
			payload = (*msg)[start:]
		}
		if err != nil {
			return s.clientReadFailed(err)
		}
		ws.Cipher(payload, h.Mask, 0)

		switch h.OpCode {
		case ws.OpPing:
			s.writeControl(ws.OpPong, payload)
			continue
		case ws.OpPong:
			s.pingSent.Store(0)
			continue
		case ws.OpClose:
			return s.clientClosed(payload)
		}
		if !h.Fin {
			continue
		}
		op := h.OpCode
		if msg != nil {
			op, payload = fragOp, *msg
		}
		if err := s.forward(op, payload, msg == nil); err != nil {
			return s.drain()
		}
		if msg != nil {
			s.srv.putMsg(msg)
			msg = nil
		}
	}
}

// forward sends one client message to the target, after the tap has seen
// it. A payload that stays valid until the client is read again (batch) is
// added to the batch that flush writes; others are written at once. On
// failure the session is stopped.
func (s *session) forward(op ws.OpCode, payload []byte, batch bool) error {
	typ := MessageBinary
	if op == ws.OpText {
		typ = MessageText
	}
	if s.base64 {
		m := s.srv.getMsg()
		defer s.srv.putMsg(m)
		var err error
		*m, err = base64.StdEncoding.AppendDecode(*m, payload)
		if err != nil {
			s.stop(closeReq{by: SideProxy, code: CloseInvalidPayload, reason: "Invalid base64 payload", err: errBase64})
			return errStopped
		}
		payload = *m
	}
	if err := s.record(ClientToTarget, typ, payload); err != nil {
		return err
	}
	if len(payload) == 0 {
		s.touch()
		return nil
	}
	s.batch = append(s.batch, payload)
	if !batch || s.base64 || len(s.batch) == maxBatch {
		return s.flush()
	}
	return nil
}

// flush writes the batch of client messages to the target. On failure the
// session is stopped.
func (s *session) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	var n int64
	for _, p := range s.batch {
		n += int64(len(p))
	}
	bufs := s.batch
	_, err := bufs.WriteTo(s.tconn) // one writev on a socket
	clear(s.batch)
	s.batch = s.batch[:0]
	if err != nil {
		if !s.takeInterrupt() {
			s.stop(closeReq{by: SideTarget, code: CloseInternalError, reason: "Target connection error", err: fmt.Errorf("write to target: %w", err)})
		}
		return errStopped
	}
	s.toTarget.Add(n)
	s.touch()
	return nil
}

// record shows a message to the tap; a tap error stops the session.
func (s *session) record(dir Direction, typ MessageType, payload []byte) error {
	if s.tap == nil {
		return nil
	}
	s.tapMu.Lock()
	err := guard(s.log, "tap", func() error { return s.tap.Frame(dir, typ, s.since(), payload) })
	s.tapMu.Unlock()
	if err != nil {
		s.stop(closeReq{by: SideProxy, code: CloseInternalError, reason: "Recording failed", err: fmt.Errorf("tap: %w", err)})
		return errStopped
	}
	return nil
}

// delivered tells a DeliveryTap that the last target→client message it
// saw was sent; an error stops the session as in record.
func (s *session) delivered() error {
	d, ok := s.tap.(DeliveryTap)
	if !ok {
		return nil
	}
	s.tapMu.Lock()
	err := guard(s.log, "tap", d.Delivered)
	s.tapMu.Unlock()
	if err != nil {
		s.stop(closeReq{by: SideProxy, code: CloseInternalError, reason: "Recording failed", err: fmt.Errorf("tap: %w", err)})
		return errStopped
	}
	return nil
}

// clientReadFailed handles an error reading the client.
func (s *session) clientReadFailed(err error) error {
	if s.takeInterrupt() || s.stopped.Load() {
		return s.drain()
	}
	var perr ws.ProtocolError
	if errors.As(err, &perr) || errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
		return s.fail(CloseProtocolError, "Protocol error: "+err.Error(), err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // the client closed its connection without a close frame
	}
	s.stop(closeReq{by: SideClient, code: CloseAbnormal, reason: "Connection closed abnormally", err: err})
	return err
}

// fail stops the session for a protocol violation by the client.
func (s *session) fail(code CloseCode, reason string, err error) error {
	if err == nil {
		err = errors.New(reason)
	}
	s.stop(closeReq{by: SideProxy, code: code, reason: reason, err: fmt.Errorf("client: %w", err)})
	s.drain()
	return err
}

// clientClosed handles the client's close frame (RFC 6455 section 5.5.1):
// a valid one is echoed with the same code and reason. A body of one byte
// or with a code that may not be sent (validCloseCode) fails the
// connection with 1002, and a reason that is not UTF-8 with 1007 (section
// 8.1; 7.4.1 names 1007 for data inconsistent with its type).
//
// Where websockify (websocket.py, WebSocket._recv_frames) differs: it
// echoes whatever code it gets, 5000, 1005 or 0 included; it reads a
// one-byte body as no code and answers 1005, a code that must not be sent;
// it closes with 1002 for a reason that is not UTF-8; and it answers a
// fragmented close with 1003 where RFC 6455 section 5.4 makes it a
// protocol error (1002 here, from ws.CheckHeader).
func (s *session) clientClosed(p []byte) error {
	code, reason := CloseNoStatus, ""
	switch {
	case len(p) == 1:
		return s.fail(CloseProtocolError, "Protocol error: close frame with 1 byte", nil)
	case len(p) >= 2:
		code, reason = CloseCode(binary.BigEndian.Uint16(p)), string(p[2:])
		if !validCloseCode(code) {
			return s.fail(CloseProtocolError, fmt.Sprintf("Protocol error: close code %d may not be sent", code), nil)
		}
		if !utf8.ValidString(reason) {
			return s.fail(CloseInvalidPayload, "Invalid UTF-8 in close reason", nil)
		}
	}
	s.stop(closeReq{by: SideClient, code: code, reason: reason})
	return nil
}

// validCloseCode reports whether an endpoint may send code in a close
// frame (RFC 6455 sections 7.4.1 and 7.4.2, and IANA's WebSocket Close
// Code Number registry):
//
//	0–999       not used                                         invalid
//	1000–1003   normal closure, going away, protocol error,
//	            unsupported data                                  valid
//	1004        reserved                                          invalid
//	1005, 1006  no status received, abnormal closure: MUST NOT
//	            be set in a close frame (7.4.1)                   invalid
//	1007–1011   invalid frame payload data, policy violation,
//	            message too big, mandatory extension, internal
//	            error                                             valid
//	1012–1014   service restart, try again later, bad gateway
//	            (registered with IANA after the RFC)              valid
//	1015        TLS handshake: MUST NOT be set (7.4.1)            invalid
//	1016–2999   reserved for the protocol, not assigned           invalid
//	3000–3999   registered for libraries and applications         valid
//	4000–4999   private use                                       valid
//	5000–65535  outside every range of 7.4.2                      invalid
//
// gobwas/ws's CheckCloseFrameData is not used: it lets codes from 5000 up
// through and refuses 1012–1014.
func validCloseCode(code CloseCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// drain reads and discards what the client still sends after the session
// stopped, until it closes or the close deadline set by stop passes. Closing
// with unread data would reset the connection, and the client could lose
// the close frame.
func (s *session) drain() error {
	for {
		if _, err := s.client.Read(s.in.small[:]); err != nil {
			return nil
		}
	}
}

// targetToClient sends what the target sends to the client, one binary
// message (base64 text message) per read. It returns when the session has
// stopped.
func (s *session) targetToClient() error {
	for {
		n, err := s.readTarget()
		if n > 0 {
			if werr := s.send(s.tbuf[:headroom+n]); werr != nil {
				if werr == errStopped || s.stopped.Load() {
					return nil
				}
				s.stop(closeReq{by: SideClient, code: CloseAbnormal, reason: "Connection closed abnormally", err: fmt.Errorf("write to client: %w", werr)})
				return werr
			}
		}
		if err != nil {
			if s.stopped.Load() {
				return nil
			}
			if err == io.EOF {
				// Everything read was sent: tell the client, as websockify does.
				s.stop(closeReq{by: SideTarget, code: CloseNormal, reason: "Target closed"})
				return nil
			}
			err = fmt.Errorf("read from target: %w", err)
			s.stop(closeReq{by: SideTarget, code: CloseInternalError, reason: "Target connection error", err: err})
			return err
		}
	}
}

// send frames a chunk read from the target (frame[headroom:]) and writes
// it to the client, after the tap has seen it.
func (s *session) send(frame []byte) error {
	if s.stopped.Load() {
		return errStopped // the close frame is out or about to be
	}
	payload := frame[headroom:]
	typ, op := MessageBinary, ws.OpBinary
	if s.base64 {
		typ, op = MessageText, ws.OpText
	}
	if err := s.record(TargetToClient, typ, payload); err != nil {
		return err
	}
	n := len(payload)
	if s.base64 {
		m := s.srv.getMsg()
		defer s.srv.putMsg(m)
		*m = base64.StdEncoding.AppendEncode(append(*m, make([]byte, headroom)...), payload)
		frame = *m
	}
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(frame) - headroom)}
	hs := ws.HeaderSize(h)
	s.hw = appender(frame[headroom-hs : headroom-hs])
	ws.WriteHeaderBuffer(&s.hw, h, s.hdrOut[:])

	s.wmu.Lock()
	if s.closeSent {
		s.wmu.Unlock()
		return errStopped
	}
	_, err := s.client.Write(frame[headroom-hs:])
	s.wmu.Unlock()
	if err != nil {
		return err
	}
	s.toClient.Add(int64(n))
	s.touch()
	return s.delivered()
}

// writeControl sends a control frame unless the close frame was sent.
func (s *session) writeControl(op ws.OpCode, payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closeSent {
		return errStopped
	}
	return s.writeControlLocked(op, payload)
}

// writeControlLocked writes a control frame; s.wmu is held.
func (s *session) writeControlLocked(op ws.OpCode, payload []byte) error {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))}
	s.ctrl = s.ctrlBuf[:0]
	ws.WriteHeaderBuffer(&s.ctrl, h, s.hdrCtrl[:])
	s.ctrl = append(s.ctrl, payload...)
	_, err := s.client.Write(s.ctrl)
	return err
}

// closeBody returns the payload of a close frame in p.
func closeBody(p *[ws.MaxControlFramePayloadSize]byte, code CloseCode, reason string) []byte {
	if code == CloseNoStatus {
		return nil
	}
	for len(reason) > len(p)-2 {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	ws.PutCloseFrameBody(p[:], ws.StatusCode(code), reason)
	return p[:2+len(reason)]
}

// appender is an io.Writer that appends to a slice, for writing frame
// headers where they belong with ws.WriteHeaderBuffer.
type appender []byte

func (a *appender) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}
