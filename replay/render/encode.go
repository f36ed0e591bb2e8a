package render

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/klauspost/compress/zlib"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// Encodings that an Encoder writes (RFC 6143 §7.7; rfbproto.rst). CopyRect
// is not among them: it moves pixels that the viewer already has, and a
// screen model's damage never says that pixels moved, so it could only be
// derived by searching for them, which an Encoder does not do.
var Encodings = []rfb.Encoding{rfb.EncodingRaw, rfb.EncodingHextile, rfb.EncodingZRLE, rfb.EncodingTight}

// ErrEncoding is matched by the error of Encoder.AppendRect for an
// encoding it does not write.
var ErrEncoding = fmt.Errorf("render: encoding not supported")

// Limits of the rectangles an Encoder writes.
const (
	hextileTile = 16
	zrleTile    = 64
	// tightTile is the side of the squares a Tight rectangle is cut
	// into, each encoded its own way (fill, palette, JPEG or full
	// colour), so that JPEG blurs only what has many colours. TigerVNC's
	// viewer takes rectangles up to 2048 wide.
	tightTile = 128
	// tightMinToCompress: Tight data shorter than this is sent without
	// zlib (rfbproto.rst, "Tight Encoding").
	tightMinToCompress = 12
	// jpegMinPixels: smaller rectangles are not worth a JPEG header.
	jpegMinPixels = 64 * 64
)

// jpegQuality maps the Tight quality levels 0 to 9 to image/jpeg
// qualities, as TigerVNC maps them.
var jpegQuality = [10]int{15, 29, 41, 42, 62, 77, 79, 86, 92, 100}

// Encoder writes framebuffer rectangles for one viewer: in its pixel
// format, through the zlib streams of ZRLE and Tight that last as long
// as the connection (RFC 6143 §7.7.6). The zero value is not usable;
// create one with NewEncoder. An Encoder is not safe for concurrent use.
type Encoder struct {
	p       *packer
	quality int // Tight JPEG quality level 0 to 9, or -1 for no JPEG
	level   int // zlib level 1 to 9

	zrle  *zstream
	tight [3]*zstream // full colour, two colours, palette

	scratch []byte
	jpegBuf bytes.Buffer
}

// NewEncoder returns an Encoder of pixel format pf, without JPEG and at
// zlib level 1 until SetQuality and SetCompression say otherwise. It
// returns an error matching ErrPixelFormat for a format it cannot write.
func NewEncoder(pf rfb.PixelFormat) (*Encoder, error) {
	p, err := newPacker(pf)
	if err != nil {
		return nil, err
	}
	return &Encoder{p: p, quality: -1, level: 1}, nil
}

// PixelFormat returns the Encoder's pixel format.
func (e *Encoder) PixelFormat() rfb.PixelFormat { return e.p.pf }

// SetQuality sets the JPEG quality level of Tight, 0 to 9 (the viewer's
// quality-level pseudo-encoding); -1 turns JPEG off.
func (e *Encoder) SetQuality(level int) { e.quality = min(max(level, -1), 9) }

// SetCompression sets the zlib level, 0 to 9 (the viewer's
// compression-level pseudo-encoding; 0 counts as 1). It applies to the
// streams that have not started yet.
func (e *Encoder) SetCompression(level int) { e.level = min(max(level, 1), 9) }

// AppendRect appends rectangle r of img, which must lie inside img, in
// encoding enc: one or more rectangles, each with its 12-byte header
// (RFC 6143 §7.6.1). It returns the bytes and the number of rectangles
// written, or an error matching ErrEncoding.
func (e *Encoder) AppendRect(dst []byte, enc rfb.Encoding, img *image.RGBA, r image.Rectangle) ([]byte, int, error) {
	if r.Empty() {
		return dst, 0, nil
	}
	switch enc {
	case rfb.EncodingRaw:
		return e.raw(header(dst, r, enc), img, r), 1, nil
	case rfb.EncodingHextile:
		return e.hextile(header(dst, r, enc), img, r), 1, nil
	case rfb.EncodingZRLE:
		b, err := e.zrleRect(header(dst, r, enc), img, r)
		return b, 1, err
	case rfb.EncodingTight:
		n := 0
		var err error
		for y := r.Min.Y; y < r.Max.Y; y += tightTile {
			for x := r.Min.X; x < r.Max.X; x += tightTile {
				part := image.Rect(x, y, min(x+tightTile, r.Max.X), min(y+tightTile, r.Max.Y))
				if dst, err = e.tightRect(header(dst, part, enc), img, part); err != nil {
					return dst, n, err
				}
				n++
			}
		}
		return dst, n, nil
	}
	return dst, 0, fmt.Errorf("%w: %s", ErrEncoding, enc)
}

// header appends a rectangle header.
func header(dst []byte, r image.Rectangle, enc rfb.Encoding) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(r.Min.X))
	dst = binary.BigEndian.AppendUint16(dst, uint16(r.Min.Y))
	dst = binary.BigEndian.AppendUint16(dst, uint16(r.Dx()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(r.Dy()))
	return binary.BigEndian.AppendUint32(dst, uint32(enc))
}

// raw appends the pixels of r (RFC 6143 §7.7.1).
func (e *Encoder) raw(dst []byte, img *image.RGBA, r image.Rectangle) []byte {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			dst = e.p.appendPixel(dst, row[i:])
		}
	}
	return dst
}

// colour is a pixel's R, G, B packed in a uint32.
type colour uint32

func colourAt(pix []byte) colour { return colour(pix[0]) | colour(pix[1])<<8 | colour(pix[2])<<16 }

func (e *Encoder) pixelValue(c colour) uint32 { return e.p.value(uint8(c), uint8(c>>8), uint8(c>>16)) }

// palette collects the distinct colours of a region up to a limit, in
// the order they first appear.
type palette struct {
	colours []colour
	index   map[colour]int
	max     int
}

func (p *palette) reset(max int) {
	p.colours = p.colours[:0]
	if p.index == nil {
		p.index = make(map[colour]int)
	}
	clear(p.index)
	p.max = max
}

// fill collects the colours of r; it returns false once there are more
// than p.max.
func (p *palette) fill(img *image.RGBA, r image.Rectangle) bool {
	var last colour = 1 << 31
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			c := colourAt(row[i:])
			if c == last {
				continue
			}
			last = c
			if _, ok := p.index[c]; ok {
				continue
			}
			if len(p.colours) == p.max {
				return false
			}
			p.index[c] = len(p.colours)
			p.colours = append(p.colours, c)
		}
	}
	return true
}

// hextile appends r in Hextile (RFC 6143 §7.7.4): a tile of one colour
// is its background, one of two colours a background and foreground
// subrectangles, any other raw.
func (e *Encoder) hextile(dst []byte, img *image.RGBA, r image.Rectangle) []byte {
	var pal palette
	var bg colour
	bgValid := false
	for ty := r.Min.Y; ty < r.Max.Y; ty += hextileTile {
		for tx := r.Min.X; tx < r.Max.X; tx += hextileTile {
			t := image.Rect(tx, ty, min(tx+hextileTile, r.Max.X), min(ty+hextileTile, r.Max.Y))
			pal.reset(2)
			if !pal.fill(img, t) {
				dst = e.raw(append(dst, rfb.HextileRaw), img, t)
				bgValid = false
				continue
			}
			tileBg, fg := pal.colours[0], colour(0)
			if len(pal.colours) == 2 {
				fg = pal.colours[1]
				// The colour of more pixels is the background.
				if count(img, t, fg)*2 > t.Dx()*t.Dy() {
					tileBg, fg = fg, tileBg
				}
			}
			var sub byte
			mark := len(dst)
			dst = append(dst, 0)
			if !bgValid || tileBg != bg {
				sub |= rfb.HextileBackgroundSpecified
				dst = e.p.appendValue(dst, e.pixelValue(tileBg), e.p.bpp)
				bg, bgValid = tileBg, true
			}
			if len(pal.colours) == 2 {
				sub |= rfb.HextileForegroundSpecified | rfb.HextileAnySubrects
				dst = e.p.appendValue(dst, e.pixelValue(fg), e.p.bpp)
				countAt := len(dst)
				dst = append(dst, 0)
				n := 0
				for y := t.Min.Y; y < t.Max.Y; y++ {
					row := img.Pix[img.PixOffset(t.Min.X, y):img.PixOffset(t.Max.X, y)]
					for x := 0; x < t.Dx(); {
						if colourAt(row[4*x:]) != fg {
							x++
							continue
						}
						x0 := x
						for x < t.Dx() && colourAt(row[4*x:]) == fg {
							x++
						}
						dst = append(dst, byte(x0<<4|(y-t.Min.Y)), byte((x-x0-1)<<4))
						n++
					}
				}
				if rawSize := t.Dx() * t.Dy() * e.p.bpp; n > 255 || len(dst)-mark > rawSize {
					dst = e.raw(append(dst[:mark], rfb.HextileRaw), img, t)
					bgValid = false
					continue
				}
				dst[countAt] = byte(n)
			}
			dst[mark] = sub
		}
	}
	return dst
}

// count returns the number of pixels of colour c in r.
func count(img *image.RGBA, r image.Rectangle, c colour) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			if colourAt(row[i:]) == c {
				n++
			}
		}
	}
	return n
}

// zstream is a zlib stream (RFC 1950) that lasts the connection; each
// rectangle's part ends with a sync flush, as every VNC server does.
type zstream struct {
	buf bytes.Buffer
	w   *zlib.Writer
}

func (e *Encoder) stream(z **zstream) (*zstream, error) {
	if *z == nil {
		s := &zstream{}
		w, err := zlib.NewWriterLevel(&s.buf, e.level)
		if err != nil {
			return nil, err
		}
		s.w = w
		*z = s
	}
	return *z, nil
}

// compress deflates p and returns the bytes of the stream up to a sync
// flush; they are valid until the next call.
func (z *zstream) compress(p []byte) ([]byte, error) {
	z.buf.Reset()
	if _, err := z.w.Write(p); err != nil {
		return nil, err
	}
	if err := z.w.Flush(); err != nil {
		return nil, err
	}
	return z.buf.Bytes(), nil
}

// zrleRect appends r in ZRLE (RFC 6143 §7.7.6): 64×64 tiles, each solid,
// a packed palette of up to 16 colours, plain RLE or raw, whichever is
// smallest, all through the connection's zlib stream.
func (e *Encoder) zrleRect(dst []byte, img *image.RGBA, r image.Rectangle) ([]byte, error) {
	z, err := e.stream(&e.zrle)
	if err != nil {
		return dst, err
	}
	cp := e.p.cpixelSize()
	b := e.scratch[:0]
	var pal palette
	for ty := r.Min.Y; ty < r.Max.Y; ty += zrleTile {
		for tx := r.Min.X; tx < r.Max.X; tx += zrleTile {
			t := image.Rect(tx, ty, min(tx+zrleTile, r.Max.X), min(ty+zrleTile, r.Max.Y))
			pal.reset(16)
			small := pal.fill(img, t)
			switch {
			case small && len(pal.colours) == 1:
				b = e.p.appendValue(append(b, 1), e.pixelValue(pal.colours[0]), cp)
			case small:
				b = append(b, byte(len(pal.colours)))
				for _, c := range pal.colours {
					b = e.p.appendValue(b, e.pixelValue(c), cp)
				}
				bits := 4
				switch {
				case len(pal.colours) == 2:
					bits = 1
				case len(pal.colours) <= 4:
					bits = 2
				}
				for y := t.Min.Y; y < t.Max.Y; y++ {
					row := img.Pix[img.PixOffset(t.Min.X, y):img.PixOffset(t.Max.X, y)]
					var acc, n int
					for i := 0; i < len(row); i += 4 {
						acc = acc<<bits | pal.index[colourAt(row[i:])]
						n += bits
						if n == 8 {
							b, acc, n = append(b, byte(acc)), 0, 0
						}
					}
					if n > 0 {
						b = append(b, byte(acc<<(8-n)))
					}
				}
			default:
				mark := len(b)
				b = append(b, 128)
				// Plain RLE runs may cross rows (RFC 6143 §7.7.6).
				var run int
				var cur colour
				flush := func() {
					b = e.p.appendValue(b, e.pixelValue(cur), cp)
					for run--; run >= 255; run -= 255 {
						b = append(b, 255)
					}
					b = append(b, byte(run))
				}
				for y := t.Min.Y; y < t.Max.Y; y++ {
					row := img.Pix[img.PixOffset(t.Min.X, y):img.PixOffset(t.Max.X, y)]
					for i := 0; i < len(row); i += 4 {
						c := colourAt(row[i:])
						if run > 0 && c == cur {
							run++
							continue
						}
						if run > 0 {
							flush()
						}
						cur, run = c, 1
					}
				}
				flush()
				if rawSize := 1 + t.Dx()*t.Dy()*cp; len(b)-mark > rawSize {
					b = append(b[:mark], 0)
					for y := t.Min.Y; y < t.Max.Y; y++ {
						row := img.Pix[img.PixOffset(t.Min.X, y):img.PixOffset(t.Max.X, y)]
						for i := 0; i < len(row); i += 4 {
							b = e.p.appendValue(b, e.pixelValue(colourAt(row[i:])), cp)
						}
					}
				}
			}
		}
	}
	e.scratch = b[:0]
	out, err := z.compress(b)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(out)))
	return append(dst, out...), nil
}

// Tight compression control bytes (rfbproto.rst, "Tight Encoding").
const (
	tightFill           = 0x80
	tightJPEG           = 0x90
	tightExplicitFilter = 0x40
	tightFilterPalette  = 1
)

// tightRect appends one Tight rectangle (rfbproto.rst, "Tight
// Encoding"): a fill for one colour; basic compression with the palette
// filter for up to 256 colours; else JPEG if the viewer set a quality
// level and the format allows it, or basic compression of every pixel.
func (e *Encoder) tightRect(dst []byte, img *image.RGBA, r image.Rectangle) ([]byte, error) {
	var pal palette
	pal.reset(256)
	few := pal.fill(img, r)
	if few && len(pal.colours) == 1 {
		return e.tightPixel(append(dst, tightFill), pal.colours[0]), nil
	}
	if !few && e.quality >= 0 && e.p.tight888() && r.Dx()*r.Dy() >= jpegMinPixels {
		return e.tightJPEG(dst, img, r)
	}
	b := e.scratch[:0]
	var z **zstream
	if few {
		ctl := byte(tightExplicitFilter)
		if len(pal.colours) == 2 {
			ctl |= 1 << 4
			z = &e.tight[1]
		} else {
			ctl |= 2 << 4
			z = &e.tight[2]
		}
		dst = append(dst, ctl, tightFilterPalette, byte(len(pal.colours)-1))
		for _, c := range pal.colours {
			dst = e.tightPixel(dst, c)
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
			if len(pal.colours) > 2 {
				for i := 0; i < len(row); i += 4 {
					b = append(b, byte(pal.index[colourAt(row[i:])]))
				}
				continue
			}
			var acc, n int
			for i := 0; i < len(row); i += 4 {
				acc = acc<<1 | pal.index[colourAt(row[i:])]
				if n++; n == 8 {
					b, acc, n = append(b, byte(acc)), 0, 0
				}
			}
			if n > 0 {
				b = append(b, byte(acc<<(8-n)))
			}
		}
	} else {
		dst = append(dst, 0) // stream 0, copy filter
		z = &e.tight[0]
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				b = e.tightPixel(b, colourAt(row[i:]))
			}
		}
	}
	e.scratch = b[:0]
	if len(b) < tightMinToCompress {
		return append(dst, b...), nil
	}
	s, err := e.stream(z)
	if err != nil {
		return dst, err
	}
	out, err := s.compress(b)
	if err != nil {
		return dst, err
	}
	return append(compactLength(dst, len(out)), out...), nil
}

// tightPixel appends a TPIXEL: R, G, B for 888 formats, else a PIXEL.
func (e *Encoder) tightPixel(dst []byte, c colour) []byte {
	if e.p.tight888() {
		return append(dst, byte(c), byte(c>>8), byte(c>>16))
	}
	return e.p.appendValue(dst, e.pixelValue(c), e.p.bpp)
}

// compactLength appends a Tight compact length: 7 bits a byte, up to 3.
func compactLength(dst []byte, n int) []byte {
	for i := 0; i < 2 && n >= 0x80; i++ {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

func (e *Encoder) tightJPEG(dst []byte, img *image.RGBA, r image.Rectangle) ([]byte, error) {
	e.jpegBuf.Reset()
	sub := img.SubImage(r)
	if err := jpeg.Encode(&e.jpegBuf, sub, &jpeg.Options{Quality: jpegQuality[e.quality]}); err != nil {
		return dst, err
	}
	dst = compactLength(append(dst, tightJPEG), e.jpegBuf.Len())
	return append(dst, e.jpegBuf.Bytes()...), nil
}

// AppendCursor appends a Cursor pseudo-encoding rectangle (RFC 6143
// §7.8.1) of cursor image img, alpha-premultiplied, with its hotspot:
// pixels whose alpha is at least half are opaque. An empty img is an
// invisible cursor, sent as one transparent pixel, which every viewer
// accepts.
func (e *Encoder) AppendCursor(dst []byte, img *image.RGBA, hot image.Point) []byte {
	if img == nil || img.Rect.Empty() {
		dst = header(dst, image.Rect(0, 0, 1, 1), rfb.PseudoCursor)
		return append(e.p.appendValue(dst, 0, e.p.bpp), 0)
	}
	b := img.Rect
	dst = header(dst, image.Rect(hot.X, hot.Y, hot.X+b.Dx(), hot.Y+b.Dy()), rfb.PseudoCursor)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst = e.p.appendPixel(dst, img.Pix[img.PixOffset(x, y):])
		}
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		var acc byte
		for x := 0; x < b.Dx(); x++ {
			if img.Pix[img.PixOffset(b.Min.X+x, y)+3] >= 128 {
				acc |= 0x80 >> (x % 8)
			}
			if x%8 == 7 || x == b.Dx()-1 {
				dst, acc = append(dst, acc), 0
			}
		}
	}
	return dst
}

// AppendDesktopSize appends a DesktopSize pseudo-encoding rectangle (RFC
// 6143 §7.8.2) that gives the framebuffer size.
func AppendDesktopSize(dst []byte, size image.Point) []byte {
	return header(dst, image.Rect(0, 0, size.X, size.Y), rfb.PseudoDesktopSize)
}

// AppendExtendedDesktopSize appends an ExtendedDesktopSize
// pseudo-encoding rectangle (rfbproto.rst, "ExtendedDesktopSize
// Pseudo-encoding") of one screen covering size, as a change made by
// the server (reason 0, status 0).
func AppendExtendedDesktopSize(dst []byte, size image.Point) []byte {
	dst = header(dst, image.Rect(0, 0, size.X, size.Y), rfb.PseudoExtendedDesktopSize)
	dst = append(dst, 1, 0, 0, 0) // one screen, padding
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(size.X))
	dst = binary.BigEndian.AppendUint16(dst, uint16(size.Y))
	return binary.BigEndian.AppendUint32(dst, 0)
}
