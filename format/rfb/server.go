package rfb

import "fmt"

// Server message types (RFC 6143 §7.6; rfbproto.rst, "Server to Client
// Messages"). Fence, xvp, gii and QEMU share the client's numbers.
const (
	msgFramebufferUpdate      = 0
	msgSetColourMapEntries    = 1
	msgBell                   = 2
	msgServerCutText          = 3
	msgEndOfContinuousUpdates = 150
)

// update is the state of the FramebufferUpdate being read (RFC 6143
// §7.6.1).
type update struct {
	left      int    // rectangles still to read
	rects     []Rect // rectangles read
	inRect    bool   // reading a rectangle's data
	dataStart int64  // stream offset of the rectangle's data
}

func (d *Decoder) serverStep(s *stream) bool {
	switch {
	case s.state == sUpdate:
		return d.updateStep(s)
	case s.state != sMessages:
		s.start = s.off
		return d.serverHandshake(s)
	}
	return d.serverMessage(s)
}

func (d *Decoder) serverMessage(s *stream) bool {
	h := s.peek(1)
	if h == nil {
		return false
	}
	s.start = s.off
	switch h[0] {
	case msgFramebufferUpdate:
		b := s.peek(4)
		if b == nil {
			return false
		}
		s.consume(4)
		d.upd = update{left: int(be.Uint16(b[2:]))}
		s.state = sUpdate

	case msgSetColourMapEntries: // §7.6.2
		b := s.peek(6)
		if b == nil {
			return false
		}
		first, n := int(be.Uint16(b[2:])), int(be.Uint16(b[4:]))
		s.consume(6)
		d.emit(s, Event{Kind: KindColourMap, First: first, Count: n, Bytes: 6 + 6*int64(n)})
		if d.opts.ColourMap == nil {
			s.skip = 6 * int64(n)
			break
		}
		at := s.start
		s.collectThen(6*int64(n), 6*n, func(b []byte, _ bool) {
			d.opts.ColourMap(ColourMapData{Time: s.t, Offset: at, First: first, Data: b})
		})

	case msgBell: // §7.6.3
		s.consume(1)
		d.emit(s, Event{Kind: KindBell})

	case msgServerCutText: // §7.6.4
		return d.cutText(s, KindServerCutText)

	case msgEndOfContinuousUpdates: // rfbproto.rst, "EndOfContinuousUpdates"
		s.consume(1)
		d.emit(s, Event{Kind: KindEndOfContinuousUpdates})

	case msgFence:
		return d.fence(s)

	case msgXVP:
		return d.xvp(s, map[byte]string{0: "XVP_FAIL", 1: "XVP_INIT"})

	case msgGII:
		return d.gii(s)

	case msgQEMU: // rfbproto.rst, "QEMU Server Message"
		b := s.peek(4)
		if b == nil {
			return false
		}
		op := be.Uint16(b[2:])
		if b[1] != 1 || op > 2 {
			d.stop(s, fmt.Sprintf("unknown QEMU server message %d operation %d: decoding of the server stream stops", b[1], op))
			return true
		}
		n := int64(4)
		if op == 2 { // audio data
			if b = s.peek(8); b == nil {
				return false
			}
			n = 8 + int64(be.Uint32(b[4:]))
			s.consume(8)
			s.skip = n - 8
		} else {
			s.consume(4)
		}
		d.emit(s, Event{Kind: KindAudio, Code: int(op), Bytes: n})

	default:
		d.stop(s, fmt.Sprintf("unknown server message %d: decoding of the server stream stops", h[0]))
	}
	return true
}

// updateStep reads the next part of a FramebufferUpdate: a rectangle
// header, part of a rectangle's data, or the end.
func (d *Decoder) updateStep(s *stream) bool {
	u := &d.upd
	if u.inRect {
		if !d.rect.done {
			return d.rectStep(s)
		}
		// The data, including any skipped part, has been consumed.
		u.rects[len(u.rects)-1].Bytes = s.off - u.dataStart
		u.inRect = false
		if d.opts.Rect != nil {
			d.rectDone(s, u.rects[len(u.rects)-1], u.dataStart-12)
		}
		return true
	}
	if u.left == 0 {
		var n int64
		for _, r := range u.rects {
			n += 12 + r.Bytes
		}
		d.emit(s, Event{Kind: KindUpdate, Rects: u.rects, Bytes: 4 + n})
		d.upd = update{}
		s.state = sMessages
		return true
	}
	b := s.peek(12)
	if b == nil {
		return false
	}
	r := Rect{X: int(be.Uint16(b)), Y: int(be.Uint16(b[2:])), Width: int(be.Uint16(b[4:])), Height: int(be.Uint16(b[6:])),
		Encoding: Encoding(be.Uint32(b[8:]))}
	s.consume(12)
	u.left--
	u.rects = append(u.rects, r)
	if r.Encoding == PseudoLastRect { // rfbproto.rst, "LastRect Pseudo-encoding"
		u.left = 0
		if d.opts.Rect != nil {
			d.opts.Rect(RectData{Time: s.t, Offset: s.off - 12, Index: len(u.rects) - 1, Rect: r, PixelFormat: d.pf})
		}
		return true
	}
	u.inRect = true
	u.dataStart = s.off
	if d.opts.Rect != nil {
		d.startCapture(s)
	}
	d.rect = rectState{Rect: r, enc: r.Encoding, pf: d.pf}
	return true
}
