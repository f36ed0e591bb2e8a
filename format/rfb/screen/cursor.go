package screen

import (
	"fmt"
	"image"
	"image/draw"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// cursor is the cursor image the server sent; nil img for none yet, an
// empty one for a hidden cursor.
type cursor struct {
	img *image.RGBA
	hot image.Point
}

// Cursor describes the cursor as the client would draw it.
type Cursor struct {
	// Image is the cursor image, alpha-premultiplied, nil if the server
	// sent none (it then draws the cursor into the framebuffer itself).
	// It is the Screen's own: do not modify it.
	Image *image.RGBA
	// Hotspot is the point of Image at the pointer position.
	Hotspot image.Point
	// Pos is the pointer position the client last sent (or the server
	// set with PointerPos); Known says there is one.
	Pos   image.Point
	Known bool
	// Visible says Composite with the cursor draws something: an image
	// that is not empty and a known position.
	Visible bool
}

// Cursor returns the cursor and pointer position.
func (s *Screen) Cursor() Cursor {
	c := Cursor{Image: s.cursor.img, Hotspot: s.cursor.hot, Pos: s.pointer, Known: s.pointed}
	c.Visible = c.Image != nil && !c.Image.Rect.Empty() && s.pointed
	return c
}

// checkCursor bounds a cursor rectangle.
func checkCursor(r rfb.Rect) error {
	if r.Width > maxCursorSide || r.Height > maxCursorSide {
		return fmt.Errorf("%w: cursor of %dx%d, over %d on a side", ErrTooLarge, r.Width, r.Height, maxCursorSide)
	}
	return nil
}

// setCursor installs a new cursor image.
func (s *Screen) setCursor(img *image.RGBA, r rfb.Rect) {
	s.cursor = cursor{img: img, hot: image.Pt(r.X, r.Y)}
	s.damageCursor()
}

// richCursor decodes the Cursor pseudo-encoding (RFC 6143 §7.8.1): PIXELs
// of the session's format, then a bit mask of the opaque ones.
func (s *Screen) richCursor(rd rfb.RectData) error {
	r := rd.Rect
	if err := checkCursor(r); err != nil {
		return err
	}
	c, err := s.converter(rd.PixelFormat)
	if err != nil {
		return err
	}
	w, h := r.Width, r.Height
	n, rowBytes := w*h*c.bpp, (w+7)/8
	if err := wantLen(rd.Data, n+rowBytes*h, "Cursor data"); err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	mask := rd.Data[n:]
	for y := range h {
		for x := range w {
			if mask[y*rowBytes+x/8]&(0x80>>(x%8)) == 0 {
				continue // transparent: zero
			}
			col := c.pixel(rd.Data[(y*w+x)*c.bpp:])
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = byte(col), byte(col>>8), byte(col>>16), 255
		}
	}
	s.setCursor(img, r)
	return nil
}

// xCursor decodes the XCursor pseudo-encoding (rfbproto.rst, "X Cursor
// Pseudo-encoding"): two colours, a bitmap choosing between them and a
// mask; no data for a hidden cursor.
func (s *Screen) xCursor(rd rfb.RectData) error {
	r := rd.Rect
	if err := checkCursor(r); err != nil {
		return err
	}
	w, h := r.Width, r.Height
	if w == 0 || h == 0 {
		s.setCursor(image.NewRGBA(image.Rectangle{}), r)
		return nil
	}
	rowBytes := (w + 7) / 8
	if err := wantLen(rd.Data, 6+2*rowBytes*h, "XCursor data"); err != nil {
		return err
	}
	d := rd.Data
	fore, back := d[0:3], d[3:6]
	bitmap, mask := d[6:6+rowBytes*h], d[6+rowBytes*h:]
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			bit := byte(0x80 >> (x % 8))
			if mask[y*rowBytes+x/8]&bit == 0 {
				continue
			}
			col := back
			if bitmap[y*rowBytes+x/8]&bit != 0 {
				col = fore
			}
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = col[0], col[1], col[2], 255
		}
	}
	s.setCursor(img, r)
	return nil
}

// alphaCursor decodes the CursorWithAlpha pseudo-encoding (rfbproto.rst,
// "Cursor With Alpha Pseudo-encoding"): an encoding, then the image in it
// as premultiplied R, G, B, A bytes. Servers (TigerVNC, QEMU) send it Raw,
// the only encoding supported here.
func (s *Screen) alphaCursor(rd rfb.RectData) error {
	r := rd.Rect
	if err := checkCursor(r); err != nil {
		return err
	}
	if len(rd.Data) < 4 {
		return corrupt("CursorWithAlpha data cut off")
	}
	if enc := rfb.Encoding(be.Uint32(rd.Data)); enc != rfb.EncodingRaw {
		return fmt.Errorf("%w: CursorWithAlpha in encoding %s", ErrUnsupported, enc)
	}
	d := rd.Data[4:]
	if err := wantLen(d, 4*r.Width*r.Height, "CursorWithAlpha pixels"); err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, r.Width, r.Height))
	copy(img.Pix, d)
	for i := 0; i < len(img.Pix); i += 4 { // keep it premultiplied whatever was sent
		a := img.Pix[i+3]
		img.Pix[i], img.Pix[i+1], img.Pix[i+2] = min(img.Pix[i], a), min(img.Pix[i+1], a), min(img.Pix[i+2], a)
	}
	s.setCursor(img, r)
	return nil
}

// Snapshot returns a copy of the framebuffer, with the cursor drawn at
// the pointer position if withCursor and it is visible; nil before the
// ServerInit.
func (s *Screen) Snapshot(withCursor bool) *image.RGBA {
	if s.fb == nil {
		return nil
	}
	return s.Composite(nil, withCursor)
}

// Composite copies the framebuffer into dst, with the cursor drawn over
// it at the pointer position if withCursor and it is visible, and
// returns dst. A nil dst, or one whose bounds are not the framebuffer's,
// is replaced by a new image. Before the ServerInit it returns dst
// unchanged.
func (s *Screen) Composite(dst *image.RGBA, withCursor bool) *image.RGBA {
	if s.fb == nil {
		return dst
	}
	if dst == nil || dst.Rect != s.fb.Rect {
		dst = image.NewRGBA(s.fb.Rect)
	}
	if dst.Stride == s.fb.Stride {
		copy(dst.Pix, s.fb.Pix)
	} else {
		draw.Draw(dst, dst.Rect, s.fb, image.Point{}, draw.Src)
	}
	if c := s.Cursor(); withCursor && c.Visible {
		at := c.Pos.Sub(c.Hotspot)
		draw.Draw(dst, c.Image.Rect.Add(at), c.Image, image.Point{}, draw.Over)
	}
	return dst
}
