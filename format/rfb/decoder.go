package rfb

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// Defaults for DecoderOptions.
const (
	// DefaultMaxText is the most bytes of a text (clipboard, desktop name,
	// reason) an Event carries; the rest is skipped and Truncated set.
	DefaultMaxText = 1 << 20
	// DefaultMaxBuffer is the most bytes a direction may hold between
	// records.
	DefaultMaxBuffer = 1 << 20
)

// maxPeek bounds any single message part the decoder reads whole: the
// largest is a SetEncodings with 65535 encodings (4 + 4*65535 bytes), the
// next a Diffie-Hellman key exchange (4 + 2*65535).
const maxPeek = 4 + 4*65535

// DecoderOptions configure a Decoder. The zero value means the defaults.
type DecoderOptions struct {
	// MaxText is the most bytes of a clipboard text, desktop name or
	// failure reason kept in an Event, and the most compressed and
	// decompressed bytes of an extended clipboard message looked at.
	// Zero means DefaultMaxText.
	MaxText int
	// MaxBuffer is the most bytes a direction may hold between records: a
	// message not yet complete, or, during the handshake, bytes that wait
	// for the other direction. Past it, decoding of that direction stops.
	// Zero means DefaultMaxBuffer; values below 256 KiB, the largest
	// message part read whole, count as 256 KiB.
	MaxBuffer int

	// Rect, if set, is called with each FramebufferUpdate rectangle once
	// its data has been read, with the data itself: the hook for a
	// consumer that decodes pixels. Without it no pixel data is copied.
	// It must not call the Decoder.
	Rect func(RectData)
	// MaxRectData is the most data bytes of one rectangle collected for
	// Rect; the rest is skipped and RectData.Truncated set. Zero means
	// DefaultMaxRectData.
	MaxRectData int
	// ColourMap, if set, is called with the colours of each
	// SetColourMapEntries message. It must not call the Decoder.
	ColourMap func(ColourMapData)
}

// ErrDirection is returned by Feed for a direction other than
// format.ClientToTarget and format.TargetToClient.
var ErrDirection = errors.New("rfb: invalid direction")

// ErrEnded is returned by Feed, and by FeedRecord for a message or gap
// record, after End.
var ErrEnded = errors.New("rfb: feed after end")

// Session is what the handshake established, updated as the session goes
// (a resize changes Width and Height, SetEncodings Encodings).
type Session struct {
	ServerVersion string         `json:"serverVersion,omitempty"`
	ClientVersion string         `json:"clientVersion,omitempty"`
	Offered       []SecurityType `json:"offered,omitempty"`
	Security      SecurityType   `json:"security,omitempty"`
	// Auth is "ok" or "failed" once the SecurityResult is known, and
	// "none" when the protocol has none (security type None before 3.8).
	Auth       string `json:"auth,omitempty"`
	AuthReason string `json:"authReason,omitempty"`
	// User is a user name sent in the clear during authentication.
	User   string `json:"user,omitempty"`
	Shared bool   `json:"shared,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	Name   string `json:"name,omitempty"`
	// PixelFormat is the server's natural format from ServerInit;
	// ClientPixelFormat the one the client asked for, if it did.
	PixelFormat       *PixelFormat `json:"pixelFormat,omitempty"`
	ClientPixelFormat *PixelFormat `json:"clientPixelFormat,omitempty"`
	Encodings         []Encoding   `json:"encodings,omitempty"`
	// Encrypted is set when a security type encrypted the stream.
	Encrypted bool `json:"encrypted,omitempty"`
}

// Decoder decodes both directions of a recorded RFB session (RFC 6143), fed
// one record at a time in recording order. It keeps each direction's
// state between records, so messages split across records or packed
// several to a record decode the same, and it buffers only what the
// message at hand needs: pixel data is counted, not stored, and every
// length read from the stream is checked against a limit before anything
// is allocated for it.
//
// Events come in the order their messages were sent. During the handshake
// one direction may have to wait for the other to be decoded (the server's
// next message depends on the client's choice of security type); an event
// always carries the time of its own direction's record, so a message a
// client sent ahead of the server's answer (a pipelined ClientInit) may
// come with an earlier time than the event before it.
//
// A Decoder is not safe for concurrent use. It needs no Close.
type Decoder struct {
	opts  DecoderOptions
	c, s  stream      // client→server and server→client
	fn    func(Event) // the current call's emit function
	ended bool
	ses   Session

	// Handshake state shared by the two directions.
	minor         int          // protocol minor version both sides follow (3, 7, 8); 0 until known
	secKnown      bool         // the security type (or the 3.7+ offer) is known
	offerEmpty    bool         // the server offered no security type
	sec           SecurityType // chosen security type
	secChosen     bool         // sec is set
	failStatus    uint32       // SecurityResult status of a failure
	pendingInit   *Event       // ServerInit waiting for Tight capabilities
	tightSecurity bool         // Tight security: ServerInit carries capabilities
	tightTunnels  int          // Tight: tunnel count, -1 until read
	tightAuths    int          // Tight: auth type count, -1 until read
	tightAuth     SecurityType // Tight: chosen auth, 0 until chosen
	vencrypt      SecurityType // VeNCrypt: chosen subtype, 0 until chosen
	dhKeySize     int          // DH: key size, -1 until read

	// Session state used across directions.
	pf       PixelFormat // pixel format of framebuffer updates
	extMouse bool        // the server confirmed ExtendedMouseButtons
	buttons  Buttons     // the client's last button mask

	upd  update    // the FramebufferUpdate being read
	rect rectState // the rectangle being read
}

// stream is one direction's byte stream and parser state. The bytes not
// yet consumed are buf[r:] followed by data: buf holds what earlier
// records left unparsed, data is the rest of the record being fed.
type stream struct {
	dir   format.Direction
	t     time.Duration // time of the last record fed
	buf   []byte
	r     int
	data  []byte
	off   int64 // stream offset of the next unconsumed byte
	skip  int64 // bytes to discard before the next step
	col   *collector
	state int
	start int64 // offset of the message being parsed
	done  bool
	cap   capture // the rectangle data being collected for DecoderOptions.Rect
}

// collector gathers a length-prefixed payload (clipboard text, a name),
// keeping at most max bytes and discarding the rest, then calls done.
type collector struct {
	left      int64
	max       int
	b         []byte
	truncated bool
	done      func(b []byte, truncated bool)
}

// NewDecoder returns a Decoder for one session, starting at its first byte
// in each direction.
func NewDecoder(opts DecoderOptions) *Decoder {
	if opts.MaxText <= 0 {
		opts.MaxText = DefaultMaxText
	}
	if opts.MaxBuffer <= 0 {
		opts.MaxBuffer = DefaultMaxBuffer
	}
	opts.MaxBuffer = max(opts.MaxBuffer, maxPeek)
	if opts.MaxRectData <= 0 {
		opts.MaxRectData = DefaultMaxRectData
	}
	d := &Decoder{opts: opts, tightTunnels: -1, tightAuths: -1, dhKeySize: -1}
	d.c.dir = format.ClientToTarget
	d.s.dir = format.TargetToClient
	return d
}

// Feed decodes payload p, the bytes of one record travelling in direction
// dir at time t, and calls emit with each event it completes, in order. A
// message that p only starts is kept and completed by later records. emit
// may be nil; it must not call Feed, FeedRecord or End.
//
// Feed returns ErrDirection for an invalid dir and ErrEnded after End.
// Problems in the stream itself are not errors: they are events of kind
// KindStop (or KindEncrypted), after which that direction is ignored.
func (d *Decoder) Feed(dir format.Direction, t time.Duration, p []byte, emit func(Event)) error {
	if d.ended {
		return ErrEnded
	}
	s, err := d.stream(dir)
	if err != nil {
		return err
	}
	d.fn = emit
	defer func() { d.fn = nil }()
	s.t = t
	if s.done {
		s.off += int64(len(p))
		return nil
	}
	s.data = p
	d.pump(s)
	if len(s.data) > 0 && !s.done {
		s.keep(s.data)
		s.data = nil
		if n := s.pending(); n > d.opts.MaxBuffer {
			s.start = s.off
			d.stop(s, fmt.Sprintf("%d bytes buffered, over the limit of %d: decoding of the %s stream stops", n, d.opts.MaxBuffer, side(s.dir)))
		}
	}
	s.data = nil
	return nil
}

// FeedRecord feeds a record read from a recording: a message record goes
// to Feed; a gap record stops decoding of both directions, since bytes are
// missing; a close record calls End. Other records are ignored. It returns
// Feed's errors.
func (d *Decoder) FeedRecord(r format.Record, emit func(Event)) error {
	switch r.Kind {
	case format.KindMessage:
		return d.Feed(r.Dir, r.Time, r.Payload, emit)
	case format.KindGap:
		if d.ended {
			return ErrEnded
		}
		d.fn = emit
		defer func() { d.fn = nil }()
		for _, s := range []*stream{&d.c, &d.s} {
			s.t = r.Time
			if !s.done {
				s.start = s.off
				d.stop(s, fmt.Sprintf("%d records lost: decoding of the %s stream stops", r.Gap.Records, side(s.dir)))
			}
		}
	case format.KindClose:
		d.End(r.Time, emit)
	}
	return nil
}

// End tells the Decoder the recording is over at time t. It emits a
// KindStop event for each direction that ended inside a message. Feed
// returns ErrEnded afterwards; End may be called again and does nothing.
func (d *Decoder) End(t time.Duration, emit func(Event)) {
	if d.ended {
		return
	}
	d.ended = true
	d.fn = emit
	defer func() { d.fn = nil }()
	for _, s := range []*stream{&d.c, &d.s} {
		s.t = t
		if s.done {
			continue
		}
		if what := d.inside(s); what != "" {
			s.start = s.off
			d.stop(s, fmt.Sprintf("the %s stream ends inside %s", side(s.dir), what))
		}
		s.done = true
	}
}

// Session returns what the handshake established so far. The result is
// the caller's.
func (d *Decoder) Session() Session {
	ses := d.ses
	ses.Offered = slices.Clone(ses.Offered)
	ses.Encodings = slices.Clone(ses.Encodings)
	for _, pf := range []**PixelFormat{&ses.PixelFormat, &ses.ClientPixelFormat} {
		if *pf != nil {
			c := **pf
			*pf = &c
		}
	}
	return ses
}

func (d *Decoder) stream(dir format.Direction) (*stream, error) {
	switch dir {
	case format.ClientToTarget:
		return &d.c, nil
	case format.TargetToClient:
		return &d.s, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrDirection, dir)
}

// pump runs the parsers after new bytes arrived on stream fed. The other
// direction may be waiting for what fed's parser establishes (during the
// handshake); its bytes arrived earlier, so it goes first after every step
// of fed, which keeps the events in the order the messages were sent.
func (d *Decoder) pump(fed *stream) {
	other, step, otherStep := &d.s, d.clientStep, d.serverStep
	if fed == &d.s {
		other, step, otherStep = &d.c, d.serverStep, d.clientStep
	}
	for {
		d.run(other, otherStep, -1)
		if !d.run(fed, step, 1) {
			return
		}
	}
}

// run drives one direction's parser for up to n steps (n < 0: no limit)
// while it makes progress. A step returns false when it needs bytes not
// yet fed or state the other direction has not established.
func (d *Decoder) run(s *stream, step func(*stream) bool, n int) (progressed bool) {
	for ; n != 0 && !s.done; n-- {
		if s.skip > 0 {
			k := s.discard(s.skip)
			s.skip -= k
			progressed = progressed || k > 0
			if s.skip > 0 {
				return progressed
			}
		}
		if s.col != nil {
			if !s.collect() {
				return progressed
			}
			progressed = true
			continue
		}
		if !step(s) {
			return progressed
		}
		progressed = true
	}
	return progressed
}

// emit appends an event for the message that started at s.start. Its time
// is that of the last record of s.
func (d *Decoder) emit(s *stream, e Event) {
	e.Time = s.t
	e.Dir = s.dir
	e.Offset = s.start
	if d.fn != nil {
		d.fn(e)
	}
}

// stop ends decoding of direction s with a KindStop event.
func (d *Decoder) stop(s *stream, why string) {
	d.emit(s, Event{Kind: KindStop, Text: why})
	s.halt()
}

// stopBoth ends decoding of both directions, with ev (if its Kind is set)
// reported on s.
func (d *Decoder) stopBoth(s *stream, ev Event) {
	if ev.Kind != "" {
		d.emit(s, ev)
	}
	d.c.halt()
	d.s.halt()
}

func (s *stream) halt() {
	s.done = true
	s.buf, s.r, s.data, s.skip, s.col = nil, 0, nil, 0, nil
	s.cap = capture{}
}

// pending returns the number of unconsumed bytes.
func (s *stream) pending() int { return len(s.buf) - s.r + len(s.data) }

// keep appends p to the carried-over bytes.
func (s *stream) keep(p []byte) {
	if s.r > 0 && s.r >= len(s.buf)/2 {
		n := copy(s.buf, s.buf[s.r:])
		s.buf, s.r = s.buf[:n], 0
	}
	s.buf = append(s.buf, p...)
}

// peek returns the next n bytes, contiguous, without consuming them, or
// nil if fewer than n are available. n is at most maxPeek.
func (s *stream) peek(n int) []byte {
	held := len(s.buf) - s.r
	if held == 0 {
		if len(s.data) >= n {
			return s.data[:n]
		}
		return nil
	}
	if held < n && len(s.data) > 0 {
		k := min(n-held, len(s.data))
		s.keep(s.data[:k])
		s.data = s.data[k:]
		held += k
	}
	if held >= n {
		return s.buf[s.r : s.r+n]
	}
	return nil
}

// avail returns the contiguous bytes available now, without consuming
// them.
func (s *stream) avail() []byte {
	if s.r < len(s.buf) {
		return s.buf[s.r:]
	}
	return s.data
}

// consume drops the first n bytes, which the caller has peeked.
func (s *stream) consume(n int) {
	s.off += int64(n)
	if s.cap.on {
		if s.r < len(s.buf) {
			s.cap.add(s.buf[s.r : s.r+n])
		} else {
			s.cap.add(s.data[:n])
		}
	}
	if s.r < len(s.buf) {
		s.r += n
		if s.r == len(s.buf) {
			s.buf, s.r = s.buf[:0], 0
		}
		return
	}
	s.data = s.data[n:]
}

// discard drops up to n available bytes and returns how many it dropped.
func (s *stream) discard(n int64) int64 {
	var done int64
	for done < n {
		b := s.avail()
		if len(b) == 0 {
			break
		}
		k := int(min(int64(len(b)), n-done))
		s.consume(k)
		done += int64(k)
	}
	return done
}

// collectThen starts collecting n bytes, at most max of them kept.
func (s *stream) collectThen(n int64, max int, done func(b []byte, truncated bool)) {
	s.col = &collector{left: n, max: max, done: done}
}

// collect moves available bytes into the collector and calls its done
// function once all have arrived. It reports whether it made progress.
func (s *stream) collect() bool {
	c := s.col
	progressed := false
	for c.left > 0 {
		b := s.avail()
		if len(b) == 0 {
			return progressed
		}
		k := int(min(int64(len(b)), c.left))
		keep := min(k, c.max-len(c.b))
		if keep < k {
			c.truncated = true
		}
		c.b = append(c.b, b[:keep]...)
		s.consume(k)
		c.left -= int64(k)
		progressed = true
	}
	s.col = nil
	c.done(c.b, c.truncated)
	return true
}

// inside describes the message stream s is in the middle of, or returns ""
// if s is between messages.
func (d *Decoder) inside(s *stream) string {
	switch {
	case s.dir == d.s.dir && s.state == sUpdate:
		return fmt.Sprintf("a FramebufferUpdate, after %d rectangles", len(d.upd.rects))
	case s.col != nil:
		return fmt.Sprintf("a message, %d bytes short", s.col.left)
	case s.skip > 0:
		return fmt.Sprintf("a message, %d bytes short", s.skip)
	case s.pending() > 0:
		return fmt.Sprintf("a message, %d bytes into it", s.pending())
	}
	return ""
}
