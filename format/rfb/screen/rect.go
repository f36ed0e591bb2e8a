package screen

import (
	"encoding/binary"
	"fmt"
	"image"

	"github.com/wsproxy/wsproxy/format/rfb"
)

var be = binary.BigEndian

// known reports whether the Screen decodes encoding e.
func known(e rfb.Encoding) bool {
	switch e {
	case rfb.EncodingRaw, rfb.EncodingCopyRect, rfb.EncodingRRE, rfb.EncodingCoRRE, rfb.EncodingHextile,
		rfb.EncodingZlib, rfb.EncodingZRLE, rfb.EncodingTight, rfb.EncodingTightPNG, rfb.EncodingJPEG,
		rfb.PseudoCursor, rfb.PseudoXCursor, rfb.PseudoCursorWithAlpha, rfb.PseudoDesktopSize,
		rfb.PseudoExtendedDesktopSize, rfb.PseudoLastRect, rfb.PseudoDesktopName, rfb.PseudoPointerPos:
		return true
	}
	return false
}

// rect draws one rectangle (the rfb.Decoder's Rect hook).
func (s *Screen) rect(rd rfb.RectData) {
	if s.err != nil {
		return
	}
	if err := s.decodeRect(rd); err != nil {
		s.fail(&rd.Rect, rd.Offset, err)
	}
}

func (s *Screen) decodeRect(rd rfb.RectData) error {
	r := rd.Rect
	if rd.Truncated {
		return fmt.Errorf("%w: %d bytes of data, over the limit of %d", ErrTooLarge, r.Bytes, s.opts.MaxRectData)
	}
	switch r.Encoding {
	case rfb.PseudoLastRect, rfb.PseudoDesktopName: // the name comes as an event
		return nil
	case rfb.PseudoDesktopSize: // RFC 6143 §7.8.2
		return s.resize(r.Width, r.Height)
	case rfb.PseudoExtendedDesktopSize: // rfbproto.rst, "ExtendedDesktopSize Pseudo-encoding"
		if r.X == 1 && r.Y != 0 { // a refusal of this client's request: no change
			return nil
		}
		return s.resize(r.Width, r.Height)
	case rfb.PseudoVMwareDisplayMode:
		return s.resize(r.Width, r.Height)
	case rfb.PseudoPointerPos: // the server moved the pointer
		s.pointer, s.pointed = image.Pt(r.X, r.Y), true
		s.damageCursor()
		return nil
	case rfb.PseudoCursor:
		return s.richCursor(rd)
	case rfb.PseudoXCursor:
		return s.xCursor(rd)
	case rfb.PseudoCursorWithAlpha:
		return s.alphaCursor(rd)
	}
	if r.Encoding != rfb.EncodingTightPNG && (r.Encoding < 0 || r.Encoding >= 0x574d5600 && r.Encoding <= 0x574d56ff) {
		// Other pseudo-encodings (LED state, QEMU and VMware ones, ...)
		// change no pixel.
		return nil
	}
	if !known(r.Encoding) {
		return fmt.Errorf("%w %s", ErrUnsupported, r.Encoding)
	}
	if s.fb == nil {
		return ErrNoFramebuffer
	}
	area := image.Rect(r.X, r.Y, r.X+r.Width, r.Y+r.Height)
	if area.Empty() {
		// Nothing to draw, wherever it is; its data is still decoded (a
		// zlib stream goes on).
		area = image.Rectangle{}
	}
	if !area.In(s.fb.Rect) && !area.Empty() {
		return fmt.Errorf("%w of %dx%d", ErrOutside, s.fb.Rect.Dx(), s.fb.Rect.Dy())
	}
	c, err := s.converter(rd.PixelFormat)
	if err != nil {
		return err
	}
	d := rd.Data
	switch r.Encoding {
	case rfb.EncodingRaw:
		err = s.raw(c, area, d)
	case rfb.EncodingCopyRect:
		err = s.copyRect(area, d)
	case rfb.EncodingRRE:
		err = s.rre(c, area, d, false)
	case rfb.EncodingCoRRE:
		err = s.rre(c, area, d, true)
	case rfb.EncodingHextile:
		err = s.hextile(c, area, d)
	case rfb.EncodingZlib:
		err = s.zlibRect(c, area, d)
	case rfb.EncodingZRLE:
		err = s.zrleRect(c, area, d)
	case rfb.EncodingTight, rfb.EncodingTightPNG:
		err = s.tightRect(c, area, d, r.Encoding == rfb.EncodingTightPNG)
	case rfb.EncodingJPEG:
		err = s.drawJPEG(area, d)
	}
	if err != nil {
		return err
	}
	s.damage(area)
	return nil
}

// converter returns a converter for pf, reusing the last one.
func (s *Screen) converter(pf rfb.PixelFormat) (*converter, error) {
	if s.conv != nil && s.convPF == pf {
		return s.conv, nil
	}
	if !pf.TrueColour && s.cmap == nil {
		s.cmap = new([colourMapSize]rgba)
	}
	c, err := newConverter(pf, s.cmap)
	if err != nil {
		return nil, err
	}
	s.conv, s.convPF = c, pf
	return c, nil
}

// wantLen checks that data holds exactly n bytes.
func wantLen(data []byte, n int, what string) error {
	if len(data) != n {
		return corrupt("%s: %d bytes, want %d", what, len(data), n)
	}
	return nil
}

// pixels draws the PIXELs of p, row after row, into area.
func (s *Screen) pixels(c *converter, area image.Rectangle, p []byte) {
	bpp := c.bpp
	w := area.Dx()
	pr := c.reader(bpp, false)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		row := s.fb.Pix[s.fb.PixOffset(area.Min.X, y):][:4*w]
		src := p[(y-area.Min.Y)*w*bpp:][:w*bpp]
		for x := 0; x < len(row); x += 4 {
			binary.LittleEndian.PutUint32(row[x:], uint32(pr.read(src)))
			src = src[bpp:]
		}
	}
}

// raw decodes Raw data (RFC 6143 §7.7.1).
func (s *Screen) raw(c *converter, area image.Rectangle, d []byte) error {
	if err := wantLen(d, area.Dx()*area.Dy()*c.bpp, "Raw data"); err != nil {
		return err
	}
	s.pixels(c, area, d)
	return nil
}

// copyRect decodes CopyRect (RFC 6143 §7.7.2): a copy of another area of
// the framebuffer, which may overlap the destination.
func (s *Screen) copyRect(area image.Rectangle, d []byte) error {
	if err := wantLen(d, 4, "CopyRect data"); err != nil {
		return err
	}
	sx, sy := int(be.Uint16(d)), int(be.Uint16(d[2:]))
	src := image.Rect(sx, sy, sx+area.Dx(), sy+area.Dy())
	if !src.In(s.fb.Rect) && !src.Empty() {
		return fmt.Errorf("%w: CopyRect source %d,%d", ErrOutside, sx, sy)
	}
	fb := s.fb
	n := 4 * area.Dx()
	row := func(y int) {
		copy(fb.Pix[fb.PixOffset(area.Min.X, y):][:n], fb.Pix[fb.PixOffset(sx, sy+y-area.Min.Y):][:n])
	}
	if sy < area.Min.Y { // copy bottom-up so that no source row is overwritten first
		for y := area.Max.Y - 1; y >= area.Min.Y; y-- {
			row(y)
		}
	} else {
		for y := area.Min.Y; y < area.Max.Y; y++ {
			row(y)
		}
	}
	return nil
}

// rre decodes RRE (RFC 6143 §7.7.3) or, with compact, CoRRE
// (rfbproto.rst, "CoRRE"): a background and solid subrectangles.
func (s *Screen) rre(c *converter, area image.Rectangle, d []byte, compact bool) error {
	bpp := c.bpp
	if len(d) < 4+bpp {
		return corrupt("RRE data of %d bytes", len(d))
	}
	n := int64(be.Uint32(d))
	sub := 8
	if compact {
		sub = 4
	}
	if err := wantLen(d, 4+bpp+int(min(n, 1<<32)*int64(bpp+sub)), "RRE data"); err != nil {
		return err
	}
	s.fill(area, c.pixel(d[4:]))
	p := d[4+bpp:]
	for i := range int(n) {
		q := p[i*(bpp+sub):]
		col := c.pixel(q)
		q = q[bpp:]
		var x, y, w, h int
		if compact {
			x, y, w, h = int(q[0]), int(q[1]), int(q[2]), int(q[3])
		} else {
			x, y, w, h = int(be.Uint16(q)), int(be.Uint16(q[2:])), int(be.Uint16(q[4:])), int(be.Uint16(q[6:]))
		}
		r := image.Rect(x, y, x+w, y+h).Add(area.Min)
		if !r.In(area) && !r.Empty() {
			return corrupt("subrectangle %d at %d,%d %dx%d outside the rectangle", i, x, y, w, h)
		}
		s.fill(r, col)
	}
	return nil
}

// hextile decodes Hextile (RFC 6143 §7.7.4): 16×16 tiles, each raw or a
// background with subrectangles.
func (s *Screen) hextile(c *converter, area image.Rectangle, d []byte) error {
	bpp := c.bpp
	var bg, fg rgba
	short := func(tx, ty int) error { return corrupt("Hextile tile at %d,%d cut off", tx, ty) }
	for ty := area.Min.Y; ty < area.Max.Y; ty += 16 {
		for tx := area.Min.X; tx < area.Max.X; tx += 16 {
			tile := image.Rect(tx, ty, min(tx+16, area.Max.X), min(ty+16, area.Max.Y))
			if len(d) < 1 {
				return short(tx, ty)
			}
			sub := d[0]
			d = d[1:]
			if sub&rfb.HextileRaw != 0 {
				n := tile.Dx() * tile.Dy() * bpp
				if len(d) < n {
					return short(tx, ty)
				}
				s.pixels(c, tile, d[:n])
				d = d[n:]
				continue
			}
			if sub&rfb.HextileBackgroundSpecified != 0 {
				if len(d) < bpp {
					return short(tx, ty)
				}
				bg, d = c.pixel(d), d[bpp:]
			}
			if sub&rfb.HextileForegroundSpecified != 0 {
				if len(d) < bpp {
					return short(tx, ty)
				}
				fg, d = c.pixel(d), d[bpp:]
			}
			s.fill(tile, bg)
			if sub&rfb.HextileAnySubrects == 0 {
				continue
			}
			if len(d) < 1 {
				return short(tx, ty)
			}
			n := int(d[0])
			d = d[1:]
			size := 2
			if sub&rfb.HextileSubrectsColoured != 0 {
				size += bpp
			}
			if len(d) < n*size {
				return short(tx, ty)
			}
			for range n {
				col := fg
				if sub&rfb.HextileSubrectsColoured != 0 {
					col, d = c.pixel(d), d[bpp:]
				}
				x, y := int(d[0]>>4), int(d[0]&15)
				w, h := int(d[1]>>4)+1, int(d[1]&15)+1
				d = d[2:]
				r := image.Rect(x, y, x+w, y+h).Add(tile.Min)
				if !r.In(tile) {
					return corrupt("Hextile subrectangle %d,%d %dx%d outside its tile at %d,%d", x, y, w, h, tx, ty)
				}
				s.fill(r, col)
			}
		}
	}
	if len(d) != 0 {
		return corrupt("%d bytes after the last Hextile tile", len(d))
	}
	return nil
}
