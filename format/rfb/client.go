package rfb

import "fmt"

// Client message types (RFC 6143 §7.5; rfbproto.rst, "Client to Server
// Messages").
const (
	msgSetPixelFormat           = 0
	msgSetEncodings             = 2
	msgFramebufferUpdateRequest = 3
	msgKeyEvent                 = 4
	msgPointerEvent             = 5
	msgClientCutText            = 6
	msgEnableContinuousUpdates  = 150
	msgFence                    = 248 // either direction
	msgXVP                      = 250 // either direction
	msgSetDesktopSize           = 251
	msgGII                      = 253 // either direction
	msgQEMU                     = 255 // either direction
)

func (d *Decoder) clientStep(s *stream) bool {
	if s.state != cMessages {
		s.start = s.off
		return d.clientHandshake(s)
	}
	return d.clientMessage(s)
}

// clientMessage reads one client-to-server message. Every message is read
// whole by its length, so an unknown type cannot be skipped: decoding of
// the client stream stops there.
func (d *Decoder) clientMessage(s *stream) bool {
	h := s.peek(1)
	if h == nil {
		return false
	}
	s.start = s.off
	switch h[0] {
	case msgSetPixelFormat: // §7.5.1
		b := s.peek(4 + pixelFormatSize)
		if b == nil {
			return false
		}
		pf := parsePixelFormat(b[4:])
		s.consume(len(b))
		d.pf = pf
		d.ses.ClientPixelFormat = &pf
		d.emit(s, Event{Kind: KindSetPixelFormat, PixelFormat: &pf})

	case msgSetEncodings: // §7.5.2
		h := s.peek(4)
		if h == nil {
			return false
		}
		n := int(be.Uint16(h[2:]))
		b := s.peek(4 + 4*n)
		if b == nil {
			return false
		}
		encs := make([]Encoding, n)
		for i := range encs {
			encs[i] = Encoding(be.Uint32(b[4+4*i:]))
		}
		s.consume(len(b))
		d.ses.Encodings = encs
		d.emit(s, Event{Kind: KindSetEncodings, Encodings: encs})

	case msgFramebufferUpdateRequest: // §7.5.3
		b := s.peek(10)
		if b == nil {
			return false
		}
		s.consume(10)
		d.emit(s, Event{Kind: KindUpdateRequest, Incremental: b[1] != 0,
			X: int(be.Uint16(b[2:])), Y: int(be.Uint16(b[4:])), Width: int(be.Uint16(b[6:])), Height: int(be.Uint16(b[8:]))})

	case msgKeyEvent: // §7.5.4
		b := s.peek(8)
		if b == nil {
			return false
		}
		s.consume(8)
		d.emit(s, Event{Kind: KindKey, Down: b[1] != 0, Key: Keysym(be.Uint32(b[4:]))})

	case msgPointerEvent: // §7.5.5; rfbproto.rst, "ExtendedMouseButtons"
		b := s.peek(6)
		if b == nil {
			return false
		}
		mask := Buttons(b[1])
		if d.extMouse && b[1]&0x80 != 0 {
			if b = s.peek(7); b == nil {
				return false
			}
			mask = Buttons(b[1]&0x7f) | Buttons(b[6]&0x03)<<7
		}
		x, y := int(be.Uint16(b[2:])), int(be.Uint16(b[4:]))
		s.consume(len(b))
		prev := d.buttons
		d.buttons = mask
		d.emit(s, Event{Kind: KindPointer, X: x, Y: y, Buttons: mask, Pressed: mask &^ prev, Released: prev &^ mask})

	case msgClientCutText: // §7.5.6; rfbproto.rst, "Extended Clipboard"
		return d.cutText(s, KindClientCutText)

	case msgEnableContinuousUpdates: // rfbproto.rst, "EnableContinuousUpdates"
		b := s.peek(10)
		if b == nil {
			return false
		}
		s.consume(10)
		d.emit(s, Event{Kind: KindContinuousUpdates, Enable: b[1] != 0,
			X: int(be.Uint16(b[2:])), Y: int(be.Uint16(b[4:])), Width: int(be.Uint16(b[6:])), Height: int(be.Uint16(b[8:]))})

	case msgFence:
		return d.fence(s)

	case msgXVP:
		return d.xvp(s, map[byte]string{2: "shutdown", 3: "reboot", 4: "reset"})

	case msgSetDesktopSize: // rfbproto.rst, "SetDesktopSize"
		h := s.peek(8)
		if h == nil {
			return false
		}
		n := int(h[6])
		b := s.peek(8 + 16*n)
		if b == nil {
			return false
		}
		s.consume(len(b))
		d.emit(s, Event{Kind: KindSetDesktopSize, Width: int(be.Uint16(b[2:])), Height: int(be.Uint16(b[4:])),
			Screens: parseScreens(b[8:], n)})

	case msgGII:
		return d.gii(s)

	case msgQEMU: // rfbproto.rst, "QEMU Client Message"
		h := s.peek(2)
		if h == nil {
			return false
		}
		switch h[1] {
		case 0: // extended key event
			b := s.peek(12)
			if b == nil {
				return false
			}
			s.consume(12)
			d.emit(s, Event{Kind: KindKey, Down: be.Uint16(b[2:]) != 0, Key: Keysym(be.Uint32(b[4:])), Keycode: be.Uint32(b[8:])})
		case 1: // audio
			b := s.peek(4)
			if b == nil {
				return false
			}
			op := be.Uint16(b[2:])
			n := 4
			switch op {
			case 0, 1: // enable, disable
			case 2: // set format
				n = 10
			default:
				d.stop(s, fmt.Sprintf("unknown QEMU audio operation %d: decoding of the client stream stops", op))
				return true
			}
			if s.peek(n) == nil {
				return false
			}
			s.consume(n)
			d.emit(s, Event{Kind: KindAudio, Code: int(op), Bytes: int64(n)})
		default:
			d.stop(s, fmt.Sprintf("unknown QEMU client message %d: decoding of the client stream stops", h[1]))
		}

	default:
		d.stop(s, fmt.Sprintf("unknown client message %d: decoding of the client stream stops", h[0]))
	}
	return true
}

// fence reads a ClientFence or ServerFence (rfbproto.rst, "ClientFence").
func (d *Decoder) fence(s *stream) bool {
	h := s.peek(9)
	if h == nil {
		return false
	}
	b := s.peek(9 + int(h[8]))
	if b == nil {
		return false
	}
	data := append([]byte(nil), b[9:]...)
	s.consume(len(b))
	d.emit(s, Event{Kind: KindFence, Flags: be.Uint32(b[4:]), Data: data})
	return true
}

// xvp reads an xvp message of either direction (rfbproto.rst, "xvp Client
// Message", "xvp Server Message").
func (d *Decoder) xvp(s *stream, codes map[byte]string) bool {
	b := s.peek(4)
	if b == nil {
		return false
	}
	s.consume(4)
	name, ok := codes[b[3]]
	if !ok {
		name = fmt.Sprintf("code %d", b[3])
	}
	d.emit(s, Event{Kind: KindXVP, Code: int(b[3]), Text: fmt.Sprintf("%s (version %d)", name, b[2])})
	return true
}

// gii reads a General Input Interface message of either direction: a type,
// an endian-and-sub-type byte, an EU16 length and that many bytes
// (rfbproto.rst, "gii Client Message").
func (d *Decoder) gii(s *stream) bool {
	h := s.peek(4)
	if h == nil {
		return false
	}
	n := int(h[2])<<8 | int(h[3])
	if h[1]&0x80 == 0 { // little-endian
		n = int(h[3])<<8 | int(h[2])
	}
	if s.peek(4+n) == nil {
		return false
	}
	s.consume(4 + n)
	d.emit(s, Event{Kind: KindGII, Code: int(h[1] & 0x7f), Bytes: int64(4 + n)})
	return true
}
