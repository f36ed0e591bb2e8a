package screen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
)

// tightMinToCompress is the data size below which Tight sends basic
// compression data as is, without zlib (rfbproto.rst, "Tight Encoding").
const tightMinToCompress = 12

// Tight filters.
const (
	tightCopy     = 0
	tightPalette  = 1
	tightGradient = 2
)

// tightRect decodes Tight or TightPNG (rfbproto.rst, "Tight Encoding",
// "Tight PNG Encoding"; the layout the rfb package sizes): a compression
// control byte whose low bits reset zlib streams, then a fill colour, a
// JPEG or PNG image, or basic compression: pixels, a palette or gradient
// predictions, in one of four zlib streams.
func (s *Screen) tightRect(c *converter, area image.Rectangle, d []byte, isPNG bool) error {
	if len(d) < 1 {
		return corrupt("Tight data cut off")
	}
	ctl := d[0]
	d = d[1:]
	for i := range s.tight {
		if ctl&(1<<i) != 0 {
			s.tight[i].reset()
		}
	}
	tp888 := tightPixel888(c.pf)
	tpSize := c.bpp
	if tp888 {
		tpSize = 3
	}
	tpixel := func(b []byte) rgba {
		if tp888 {
			return pack(b[0], b[1], b[2], 255)
		}
		return c.pixel(b)
	}
	comp := ctl >> 4
	switch {
	case comp == 0x8: // FillCompression
		if err := wantLen(d, tpSize, "Tight fill"); err != nil {
			return err
		}
		s.fill(area, tpixel(d))
		return nil
	case comp == 0x9: // JpegCompression
		img, err := compact(d, "Tight JPEG")
		if err != nil {
			return err
		}
		return s.drawJPEG(area, img)
	case comp == 0xa && isPNG: // PngCompression
		img, err := compact(d, "TightPNG PNG")
		if err != nil {
			return err
		}
		return s.drawPNG(area, img)
	case isPNG:
		return corrupt("TightPNG compression control %#02x", ctl)
	case comp&0x8 != 0 && comp != 0xa && comp != 0xe:
		return corrupt("Tight compression control %#02x", ctl)
	}

	// BasicCompression.
	noZlib := comp&0x8 != 0 // 0xa and 0xe: TightWithoutZlib
	stream := &s.tight[comp&3]
	filter := tightCopy
	if comp&0x4 != 0 {
		if len(d) < 1 {
			return corrupt("Tight filter cut off")
		}
		filter = int(d[0])
		d = d[1:]
	}
	w, h := area.Dx(), area.Dy()
	var palette [256]rgba
	colours := 0
	size := w * h * tpSize
	switch filter {
	case tightCopy:
	case tightPalette:
		if len(d) < 1 {
			return corrupt("Tight palette cut off")
		}
		colours = int(d[0]) + 1
		d = d[1:]
		if len(d) < colours*tpSize {
			return corrupt("Tight palette cut off")
		}
		for i := range colours {
			palette[i] = tpixel(d[i*tpSize:])
		}
		d = d[colours*tpSize:]
		size = w * h
		if colours <= 2 {
			size = (w + 7) / 8 * h
		}
	case tightGradient:
		if !c.pf.TrueColour {
			return corrupt("Tight gradient filter in a colour-map pixel format")
		}
	default:
		return corrupt("Tight filter %d", filter)
	}

	var data []byte
	if noZlib || size < tightMinToCompress {
		if err := wantLen(d, size, "Tight data"); err != nil {
			return err
		}
		data = d
	} else {
		z, err := compact(d, "Tight zlib data")
		if err != nil {
			return err
		}
		if data, err = stream.inflate(z, size); err != nil {
			return err
		}
		if err := wantLen(data, size, "Tight inflated data"); err != nil {
			return err
		}
	}

	switch {
	case colours > 2:
		for y := range h {
			row := s.fb.Pix[s.fb.PixOffset(area.Min.X, area.Min.Y+y):][:4*w]
			for x, i := range data[y*w : (y+1)*w] {
				if int(i) >= colours {
					return corrupt("Tight palette index %d of %d colours", i, colours)
				}
				binary.LittleEndian.PutUint32(row[4*x:], uint32(palette[i]))
			}
		}
	case colours > 0:
		rowBytes := (w + 7) / 8
		for y := range h {
			row := s.fb.Pix[s.fb.PixOffset(area.Min.X, area.Min.Y+y):][:4*w]
			bits := data[y*rowBytes : (y+1)*rowBytes]
			for x := range w {
				i := int(bits[x>>3]>>(7-x&7)) & 1
				if i >= colours {
					return corrupt("Tight palette index %d of %d colours", i, colours)
				}
				binary.LittleEndian.PutUint32(row[4*x:], uint32(palette[i]))
			}
		}
	case filter == tightGradient:
		s.gradient(c, area, data, tp888)
	default:
		for y := range h {
			row := s.fb.Pix[s.fb.PixOffset(area.Min.X, area.Min.Y+y):][:4*w]
			src := data[y*w*tpSize : (y+1)*w*tpSize]
			for x := 0; x < len(row); x += 4 {
				binary.LittleEndian.PutUint32(row[x:], uint32(tpixel(src)))
				src = src[tpSize:]
			}
		}
	}
	return nil
}

// compact reads Tight's compact length (1 to 3 bytes, 7 bits a byte, low
// bits first; all 8 bits of the third) and returns the data it announces,
// which must be the rest of d.
func compact(d []byte, what string) ([]byte, error) {
	n, i := 0, 0
	for ; i < 3; i++ {
		if i >= len(d) {
			return nil, corrupt("%s: length cut off", what)
		}
		b := int(d[i])
		if i == 2 {
			n |= b << 14
			i++
			break
		}
		n |= (b & 0x7f) << (7 * i)
		if b&0x80 == 0 {
			i++
			break
		}
	}
	if err := wantLen(d[i:], n, what); err != nil {
		return nil, err
	}
	return d[i:], nil
}

// gradient undoes Tight's gradient filter: each component was sent as
// the difference from a prediction, left + above - above-left clamped
// to the component's range, modulo the range (TigerVNC's
// TightDecoder::FilterGradient).
func (s *Screen) gradient(c *converter, area image.Rectangle, data []byte, tp888 bool) {
	w, h := area.Dx(), area.Dy()
	maxes := c.maxes
	size := c.bpp
	if tp888 {
		maxes, size = [3]uint32{255, 255, 255}, 3
	}
	prev := make([]int32, 3*(w+1))
	this := make([]int32, 3*(w+1))
	for y := range h {
		for x := range w {
			p := data[(y*w+x)*size:]
			var comp [3]uint32
			if tp888 {
				comp = [3]uint32{uint32(p[0]), uint32(p[1]), uint32(p[2])}
			} else {
				v := c.value(p)
				for i := range comp {
					comp[i] = v >> c.shifts[i] & maxes[i]
				}
			}
			for i := range 3 {
				// Index x+1 is this pixel; 0 is the zero left of the row.
				est := this[3*x+i] + prev[3*(x+1)+i] - prev[3*x+i]
				est = min(max(est, 0), int32(maxes[i]))
				this[3*(x+1)+i] = int32((comp[i] + uint32(est)) & maxes[i])
			}
			var col rgba
			if tp888 {
				col = pack(uint8(this[3*(x+1)]), uint8(this[3*(x+1)+1]), uint8(this[3*(x+1)+2]), 255)
			} else {
				var v uint32
				for i := range 3 {
					v |= uint32(this[3*(x+1)+i]) << c.shifts[i]
				}
				col = c.colour(v)
			}
			s.set(area.Min.X+x, area.Min.Y+y, col)
		}
		prev, this = this, prev
	}
}

// drawJPEG draws a JPEG image of exactly the area's size (Tight's
// JpegCompression, the JPEG encoding).
func (s *Screen) drawJPEG(area image.Rectangle, b []byte) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: JPEG: %w", ErrCorrupt, err)
	}
	if cfg.Width != area.Dx() || cfg.Height != area.Dy() {
		return corrupt("JPEG of %dx%d in a rectangle of %dx%d", cfg.Width, cfg.Height, area.Dx(), area.Dy())
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: JPEG: %w", ErrCorrupt, err)
	}
	draw.Draw(s.fb, area, img, img.Bounds().Min, draw.Src)
	return nil
}

// drawPNG draws a PNG image of exactly the area's size (TightPNG's
// PngCompression), made opaque.
func (s *Screen) drawPNG(area image.Rectangle, b []byte) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: PNG: %w", ErrCorrupt, err)
	}
	if cfg.Width != area.Dx() || cfg.Height != area.Dy() {
		return corrupt("PNG of %dx%d in a rectangle of %dx%d", cfg.Width, cfg.Height, area.Dx(), area.Dy())
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: PNG: %w", ErrCorrupt, err)
	}
	draw.Draw(s.fb, area, img, img.Bounds().Min, draw.Src)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		opaque(s.fb.Pix[s.fb.PixOffset(area.Min.X, y):s.fb.PixOffset(area.Max.X, y)])
	}
	return nil
}
