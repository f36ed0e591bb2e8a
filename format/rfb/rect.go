package rfb

import (
	"bytes"
	"fmt"
)

// rectState is the state of the rectangle being read. Only its size
// matters: pixel data is skipped, never decoded or decompressed.
type rectState struct {
	Rect
	enc         Encoding    // encoding of the data (CursorWithAlpha's inner one)
	pf          PixelFormat // pixel format of the data
	phase       int
	done        bool
	tile, tiles int  // Hextile: tiles read, total
	tilesX      int  // Hextile: tiles per row
	noZlib      bool // Tight: BasicCompression without zlib
	colours     int  // Tight: palette size, 0 for no palette
}

// Tight phases (rfbproto.rst, "Tight Encoding").
const (
	tightControl = iota
	tightFilter
	tightPalette
	tightData
	tightLength
)

// JPEG phases (rfbproto.rst, "JPEG Encoding").
const (
	jpegMarker = iota
	jpegScan
)

// tightMinToCompress is the data size below which Tight sends basic
// compression data as is, without zlib.
const tightMinToCompress = 12

// rectStep reads the next part of the current rectangle's data. It sets
// d.rect.done once the rest of the data is consumed or queued to be
// skipped.
func (d *Decoder) rectStep(s *stream) bool {
	r := &d.rect
	w, h := int64(r.Width), int64(r.Height)
	switch r.enc {
	case EncodingRaw: // RFC 6143 §7.7.1
		return d.skipPixels(s, w*h)

	case EncodingCopyRect: // §7.7.2: source position
		s.skip = 4
		r.done = true

	case EncodingRRE, EncodingCoRRE: // §7.7.3; rfbproto.rst, "CoRRE"
		bpp := d.bpp(s)
		if bpp == 0 {
			return true
		}
		b := s.peek(4)
		if b == nil {
			return false
		}
		n := int64(be.Uint32(b))
		s.consume(4)
		sub := int64(8) // pixel, x, y, w, h as U16
		if r.enc == EncodingCoRRE {
			sub = 4 // as U8
		}
		s.skip = bpp + n*(bpp+sub)
		r.done = true

	case EncodingHextile: // §7.7.4
		return d.hextile(s)

	case EncodingZlib: // rfbproto.rst, "zlib Encoding"
		if w == 0 || h == 0 { // noVNC reads no length for an empty rectangle
			r.done = true
			return true
		}
		return d.lengthPrefixed(s, 4)

	case EncodingZRLE: // §7.7.6: a u32 length and zlib data
		return d.lengthPrefixed(s, 4)

	case EncodingH264: // rfbproto.rst, "Open H.264 Encoding": length, flags, data
		return d.lengthPrefixed(s, 8)

	case EncodingTight, EncodingTightPNG:
		return d.tight(s)

	case EncodingJPEG:
		return d.jpeg(s)

	case PseudoCursor: // §7.8.1: pixels and a bit mask
		bpp := d.bpp(s)
		if bpp == 0 {
			return true
		}
		s.skip = w*h*bpp + (w+7)/8*h
		r.done = true

	case PseudoXCursor: // rfbproto.rst, "X Cursor Pseudo-encoding"
		if w > 0 && h > 0 {
			s.skip = 6 + 2*((w+7)/8*h)
		}
		r.done = true

	case PseudoCursorWithAlpha: // an encoding, then RGBA pixels in it
		b := s.peek(4)
		if b == nil {
			return false
		}
		inner := Encoding(be.Uint32(b))
		s.consume(4)
		if !pixelEncoding(inner) {
			d.stopRect(s, fmt.Sprintf("CursorWithAlpha in encoding %s", inner))
			return true
		}
		r.enc, r.pf, r.phase = inner, rgbaFormat, 0

	case PseudoVMwareCursor: // rfbproto.rst, "VMware Cursor Pseudo-encoding"
		bpp := d.bpp(s)
		if bpp == 0 {
			return true
		}
		b := s.peek(2)
		if b == nil {
			return false
		}
		s.consume(2)
		switch b[0] {
		case 0: // AND and XOR masks
			s.skip = 2 * w * h * bpp
		case 1: // RGBA
			s.skip = 4 * w * h
		default:
			d.stopRect(s, fmt.Sprintf("VMware cursor type %d", b[0]))
			return true
		}
		r.done = true

	case PseudoVMwareCursorState, PseudoVMwareVMState:
		s.skip = 2
		r.done = true

	case PseudoVMwareKeyRepeat:
		s.skip = 10
		r.done = true

	case PseudoQEMULEDState, PseudoVMwareLEDState:
		n := 1
		if r.enc == PseudoVMwareLEDState {
			n = 4
		}
		b := s.peek(n)
		if b == nil {
			return false
		}
		s.consume(n)
		d.emit(s, Event{Kind: KindLEDState, Flags: uint32(b[n-1]) & 7, Encoding: r.enc})
		r.done = true

	case PseudoExtendedMouseButtons: // the server accepts extended PointerEvents
		d.extMouse = true
		r.done = true

	case PseudoVMwareCursorPosition, PseudoQEMUPointerMotion, PseudoQEMUExtendedKey,
		PseudoQEMUAudio, PseudoPointerPos:
		r.done = true // no data

	case PseudoDesktopSize: // §7.8.2
		d.resize(s, Event{Width: r.Width, Height: r.Height})
		r.done = true

	case PseudoVMwareDisplayMode: // new size and pixel format
		b := s.peek(pixelFormatSize)
		if b == nil {
			return false
		}
		pf := parsePixelFormat(b)
		s.consume(pixelFormatSize)
		d.pf = pf
		d.resize(s, Event{Width: r.Width, Height: r.Height, PixelFormat: &pf})
		r.done = true

	case PseudoExtendedDesktopSize: // rfbproto.rst, "ExtendedDesktopSize Pseudo-encoding"
		h := s.peek(4)
		if h == nil {
			return false
		}
		n := int(h[0])
		b := s.peek(4 + 16*n)
		if b == nil {
			return false
		}
		screens := parseScreens(b[4:], n)
		s.consume(len(b))
		ev := Event{Width: r.Width, Height: r.Height, Reason: r.X, Status: r.Y, Screens: screens}
		if r.X == 1 && r.Y != 0 { // the server refused this client's request
			ev.Encoding, ev.Kind = r.enc, KindResize
			d.emit(s, ev)
		} else {
			d.resize(s, ev)
		}
		r.done = true

	case PseudoDesktopName: // rfbproto.rst, "DesktopName Pseudo-encoding"
		b := s.peek(4)
		if b == nil {
			return false
		}
		n := be.Uint32(b)
		s.consume(4)
		s.collectThen(int64(n), d.opts.MaxText, func(name []byte, truncated bool) {
			d.ses.Name = string(name)
			d.emit(s, Event{Kind: KindDesktopName, Text: string(name), Truncated: truncated})
		})
		r.done = true

	default:
		d.stopRect(s, "unsupported encoding "+r.enc.String())
	}
	return true
}

// resize reports a new framebuffer size from the current rectangle.
func (d *Decoder) resize(s *stream, ev Event) {
	ev.Kind, ev.Encoding = KindResize, d.rect.Rect.Encoding
	d.ses.Width, d.ses.Height = ev.Width, ev.Height
	d.emit(s, ev)
}

// pixelEncoding reports whether e is an encoding of pixel data the Decoder
// can size.
func pixelEncoding(e Encoding) bool {
	switch e {
	case EncodingRaw, EncodingCopyRect, EncodingRRE, EncodingCoRRE, EncodingHextile, EncodingZlib,
		EncodingTight, EncodingTightPNG, EncodingZRLE, EncodingJPEG, EncodingH264:
		return true
	}
	return false
}

// stopRect stops decoding of the server stream inside the current
// rectangle.
func (d *Decoder) stopRect(s *stream, why string) {
	r := d.rect.Rect
	d.stop(s, fmt.Sprintf("%s in FramebufferUpdate rectangle %d (%s %d,%d %dx%d): decoding of the server stream stops",
		why, len(d.upd.rects), r.Encoding, r.X, r.Y, r.Width, r.Height))
}

// bpp returns the bytes per pixel of the current rectangle's data, or
// stops decoding and returns 0 for a pixel format it cannot size.
func (d *Decoder) bpp(s *stream) int64 {
	n := d.rect.pf.bytesPerPixel()
	if n == 0 {
		d.stopRect(s, fmt.Sprintf("pixel format of %d bits per pixel", d.rect.pf.BitsPerPixel))
	}
	return int64(n)
}

// skipPixels skips n pixels of the current rectangle's format.
func (d *Decoder) skipPixels(s *stream, n int64) bool {
	bpp := d.bpp(s)
	if bpp == 0 {
		return true
	}
	s.skip = n * bpp
	d.rect.done = true
	return true
}

// lengthPrefixed reads a header of n bytes starting with a u32 data length
// and skips the data.
func (d *Decoder) lengthPrefixed(s *stream, n int) bool {
	b := s.peek(n)
	if b == nil {
		return false
	}
	s.consume(n)
	s.skip = int64(be.Uint32(b))
	d.rect.done = true
	return true
}

// hextile reads one tile (RFC 6143 §7.7.4): 16x16 tiles, left to right,
// top to bottom, each a subencoding mask and what it announces.
func (d *Decoder) hextile(s *stream) bool {
	r := &d.rect
	if r.phase == 0 {
		r.tilesX = (r.Width + 15) / 16
		r.tiles = r.tilesX * ((r.Height + 15) / 16)
		r.phase = 1
	}
	if r.tile == r.tiles {
		r.done = true
		return true
	}
	bpp := d.bpp(s)
	if bpp == 0 {
		return true
	}
	b := s.peek(1)
	if b == nil {
		return false
	}
	sub := int64(b[0])
	if sub > 0x1f {
		d.stopRect(s, fmt.Sprintf("Hextile subencoding %#x in tile %d", sub, r.tile))
		return true
	}
	tx, ty := r.tile%r.tilesX, r.tile/r.tilesX
	tw, th := int64(min(16, r.Width-16*tx)), int64(min(16, r.Height-16*ty))
	n := int64(1)
	if sub&HextileRaw != 0 {
		n += tw * th * bpp
	} else {
		if sub&HextileBackgroundSpecified != 0 {
			n += bpp
		}
		if sub&HextileForegroundSpecified != 0 {
			n += bpp
		}
		if sub&HextileAnySubrects != 0 {
			b := s.peek(int(n) + 1)
			if b == nil {
				return false
			}
			count := int64(b[n])
			n++
			if sub&HextileSubrectsColoured != 0 {
				n += count * (bpp + 2)
			} else {
				n += count * 2
			}
		}
	}
	s.skip = n
	r.tile++
	return true
}

// tightPixel returns the size of a Tight TPIXEL, or 0 after stopping for
// a pixel format it cannot size.
func (d *Decoder) tightPixel(s *stream) int64 {
	if d.rect.pf.is888() {
		return 3
	}
	return d.bpp(s)
}

// tight reads a Tight or TightPNG rectangle (rfbproto.rst, "Tight
// Encoding", "Tight PNG Encoding"; noVNC core/decoders/tight.js, TigerVNC
// common/rfb/TightDecoder.cxx).
func (d *Decoder) tight(s *stream) bool {
	r := &d.rect
	switch r.phase {
	case tightControl:
		b := s.peek(1)
		if b == nil {
			return false
		}
		s.consume(1)
		ctl := b[0] >> 4 // the low bits reset zlib streams
		png := r.enc == EncodingTightPNG
		switch {
		case ctl == 0x8: // FillCompression: one TPIXEL
			tp := d.tightPixel(s)
			if tp == 0 {
				return true
			}
			s.skip = tp
			r.done = true
		case ctl == 0x9, ctl == 0xa && png: // JpegCompression, PngCompression
			r.phase = tightLength
		case png:
			d.stopRect(s, fmt.Sprintf("TightPNG compression control %#x", b[0]))
		case ctl == 0xa: // BasicCompression without zlib, CopyFilter
			r.noZlib, r.phase = true, tightData
		case ctl == 0xe: // BasicCompression without zlib, with a filter id
			r.noZlib, r.phase = true, tightFilter
		case ctl&0x8 == 0: // BasicCompression; bit 2 says a filter id follows
			r.phase = tightData
			if ctl&0x4 != 0 {
				r.phase = tightFilter
			}
		default:
			d.stopRect(s, fmt.Sprintf("Tight compression control %#x", b[0]))
		}

	case tightFilter:
		b := s.peek(1)
		if b == nil {
			return false
		}
		s.consume(1)
		switch b[0] {
		case 0, 2: // CopyFilter, GradientFilter
			r.phase = tightData
		case 1: // PaletteFilter
			r.phase = tightPalette
		default:
			d.stopRect(s, fmt.Sprintf("Tight filter %d", b[0]))
		}

	case tightPalette:
		b := s.peek(1)
		if b == nil {
			return false
		}
		tp := d.tightPixel(s)
		if tp == 0 {
			return true
		}
		s.consume(1)
		r.colours = int(b[0]) + 1
		s.skip = int64(r.colours) * tp
		r.phase = tightData

	case tightData:
		w, h := int64(r.Width), int64(r.Height)
		var size int64
		switch {
		case r.colours > 2:
			size = w * h
		case r.colours > 0:
			size = (w + 7) / 8 * h
		default:
			tp := d.tightPixel(s)
			if tp == 0 {
				return true
			}
			size = w * h * tp
		}
		if r.noZlib || size < tightMinToCompress {
			s.skip = size
			r.done = true
			return true
		}
		r.phase = tightLength

	case tightLength:
		n, size, ok := compactLength(s)
		if !ok {
			return false
		}
		s.consume(size)
		s.skip = n
		r.done = true
	}
	return true
}

// compactLength reads Tight's compact length: 7 bits a byte, low bits
// first, the top bit of the first two bytes saying another follows, and
// all 8 bits of a third.
func compactLength(s *stream) (n int64, size int, ok bool) {
	for size = 1; size <= 3; size++ {
		b := s.peek(size)
		if b == nil {
			return 0, 0, false
		}
		c := b[size-1]
		if size == 3 {
			return n | int64(c)<<14, size, true
		}
		n |= int64(c&0x7f) << (7 * (size - 1))
		if c&0x80 == 0 {
			return n, size, true
		}
	}
	panic("unreachable")
}

// jpeg walks the segments of a JPEG image up to its EOI marker
// (rfbproto.rst, "JPEG Encoding"; noVNC core/decoders/jpeg.js). After a
// start-of-scan segment, entropy-coded data runs to the next 0xFF that is
// not followed by 0x00 (a stuffed byte) or a restart marker.
func (d *Decoder) jpeg(s *stream) bool {
	r := &d.rect
	if r.phase == jpegScan {
		b := s.avail()
		if len(b) == 0 {
			return false
		}
		if i := bytes.IndexByte(b, 0xff); i != 0 {
			if i < 0 {
				i = len(b)
			}
			s.consume(i)
			return true
		}
		m := s.peek(2)
		if m == nil {
			return false
		}
		if m[1] == 0x00 || m[1] >= 0xd0 && m[1] <= 0xd7 {
			s.consume(2)
			return true
		}
		r.phase = jpegMarker
		return true
	}
	m := s.peek(2)
	if m == nil {
		return false
	}
	if m[0] != 0xff {
		d.stopRect(s, fmt.Sprintf("JPEG byte %#x where a marker belongs", m[0]))
		return true
	}
	switch t := m[1]; {
	case t == 0xff: // fill byte
		s.consume(1)
	case t >= 0xd0 && t <= 0xd9, t == 0x01: // no length
		s.consume(2)
		if t == 0xd9 { // end of image
			r.done = true
		}
	default:
		b := s.peek(4)
		if b == nil {
			return false
		}
		n := int64(be.Uint16(b[2:]))
		if n < 2 {
			d.stopRect(s, fmt.Sprintf("JPEG segment length %d", n))
			return true
		}
		s.consume(4)
		s.skip = n - 2
		if t == 0xda { // start of scan
			r.phase = jpegScan
		}
	}
	return true
}
