package screen

import (
	"fmt"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// colourMapSize is the number of entries of an RFB colour map: indices
// are U16 (RFC 6143 §7.6.2).
const colourMapSize = 1 << 16

// rgba is a pixel as its four bytes in image.RGBA order, R first, packed
// little-endian so that writing it to memory gives R, G, B, A.
type rgba uint32

func pack(r, g, b, a uint8) rgba {
	return rgba(r) | rgba(g)<<8 | rgba(b)<<16 | rgba(a)<<24
}

// converter turns PIXEL values of one pixel format (RFC 6143 §7.4) into
// rgba. For formats of 16 bits or fewer it uses a table of every value.
type converter struct {
	pf     rfb.PixelFormat
	bpp    int // bytes per PIXEL: 1, 2 or 4
	table  []rgba
	shifts [3]uint8
	maxes  [3]uint32
	fast   bool // 32bpp with 8-bit components at byte shifts: no scaling
	cmap   *[colourMapSize]rgba
	// readers caches reader's results, which every rectangle asks for:
	// [0] for PIXELs, [1] and [2] for CPIXELs without the most or the
	// least significant byte.
	readers [3]*pixelReader
}

// newConverter checks pf and returns a converter for it. A colour-map
// format reads its colours from cmap.
func newConverter(pf rfb.PixelFormat, cmap *[colourMapSize]rgba) (*converter, error) {
	c := &converter{pf: pf, cmap: cmap}
	switch pf.BitsPerPixel {
	case 8, 16, 32:
		c.bpp = int(pf.BitsPerPixel) / 8
	default:
		return nil, fmt.Errorf("%w: %d bits per pixel", ErrPixelFormat, pf.BitsPerPixel)
	}
	if !pf.TrueColour {
		if pf.BitsPerPixel == 32 {
			return nil, fmt.Errorf("%w: colour map with 32 bits per pixel", ErrPixelFormat)
		}
		return c, nil
	}
	c.shifts = [3]uint8{pf.RedShift, pf.GreenShift, pf.BlueShift}
	c.maxes = [3]uint32{uint32(pf.RedMax), uint32(pf.GreenMax), uint32(pf.BlueMax)}
	for i, s := range c.shifts {
		if s >= 32 || c.maxes[i] == 0 {
			return nil, fmt.Errorf("%w: %s", ErrPixelFormat, pf)
		}
	}
	c.fast = c.bpp == 4 && c.maxes == [3]uint32{255, 255, 255} &&
		c.shifts[0]%8 == 0 && c.shifts[1]%8 == 0 && c.shifts[2]%8 == 0 &&
		c.shifts[0] <= 24 && c.shifts[1] <= 24 && c.shifts[2] <= 24
	if c.bpp <= 2 {
		c.table = make([]rgba, 1<<(8*c.bpp))
		for v := range c.table {
			c.table[v] = c.trueColour(uint32(v))
		}
	}
	return c, nil
}

// scale maps component value v of maximum max to 0..255, rounding.
func scale(v, max uint32) uint8 {
	v &= max
	if max == 255 {
		return uint8(v)
	}
	return uint8((v*255 + max/2) / max)
}

func (c *converter) trueColour(v uint32) rgba {
	return pack(scale(v>>c.shifts[0], c.maxes[0]), scale(v>>c.shifts[1], c.maxes[1]),
		scale(v>>c.shifts[2], c.maxes[2]), 255)
}

// value reads one PIXEL of c.bpp bytes from b.
func (c *converter) value(b []byte) uint32 {
	switch c.bpp {
	case 1:
		return uint32(b[0])
	case 2:
		if c.pf.BigEndian {
			return uint32(b[0])<<8 | uint32(b[1])
		}
		return uint32(b[1])<<8 | uint32(b[0])
	}
	if c.pf.BigEndian {
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}

// colour returns the colour of PIXEL value v.
func (c *converter) colour(v uint32) rgba {
	switch {
	case !c.pf.TrueColour:
		return c.cmap[v&0xffff]
	case c.table != nil:
		return c.table[v]
	case c.fast:
		return pack(uint8(v>>c.shifts[0]), uint8(v>>c.shifts[1]), uint8(v>>c.shifts[2]), 255)
	}
	return c.trueColour(v)
}

// pixel reads one PIXEL from b and returns its colour.
func (c *converter) pixel(b []byte) rgba { return c.colour(c.value(b)) }

// cpixelSize returns the size of a ZRLE CPIXEL (RFC 6143 §7.7.6): 3 bytes
// for a 32bpp true-colour format of depth 24 or less whose colour bits all
// lie in the 3 least or the 3 most significant bytes, else a PIXEL.
// dropMS says which of the PIXEL's bytes a CPIXEL leaves out: the most
// significant (true) or the least.
func (c *converter) cpixelSize() (n int, dropMS bool) {
	if !c.pf.TrueColour || c.bpp != 4 || c.pf.Depth > 24 {
		return c.bpp, false
	}
	var all uint64
	for i := range c.maxes {
		all |= uint64(c.maxes[i]) << c.shifts[i]
	}
	switch {
	case all < 1<<24:
		return 3, true
	case all&0xff == 0 && all < 1<<32:
		return 3, false
	}
	return c.bpp, false
}

// compactPixel reads a 3-byte CPIXEL: the PIXEL's bytes in stream order
// without the one that is always zero.
func (c *converter) compactPixel(b []byte, dropMS bool) rgba {
	var p [4]byte
	// Little-endian streams carry the least significant byte first.
	if dropMS == !c.pf.BigEndian {
		copy(p[:3], b[:3]) // the zero byte came last
	} else {
		copy(p[1:], b[:3]) // the zero byte came first
	}
	return c.pixel(p[:])
}

// tightPixel888 reports whether Tight sends TPIXELs of this format as 3
// bytes R, G, B (rfbproto.rst, "Tight Encoding"), as the rfb package sizes
// them.
func tightPixel888(pf rfb.PixelFormat) bool {
	return pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth == 24 &&
		pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 &&
		pf.RedShift%8 == 0 && pf.GreenShift%8 == 0 && pf.BlueShift%8 == 0
}

// pixelReader reads the pixels of one rectangle: PIXELs, or ZRLE's
// 3-byte CPIXELs. For the common formats (32 bpp true colour with 8-bit
// components at byte shifts, either byte order) it copies the three
// colour bytes from where they lie, with no conversion per pixel.
type pixelReader struct {
	c      *converter
	size   int  // bytes read per pixel
	dropMS bool // for a CPIXEL: see converter.cpixelSize
	direct bool // idx locates R, G and B in the size bytes
	idx    [3]uint8
}

// reader returns a pixelReader of pixels of size bytes: c.bpp, or 3 for
// a CPIXEL that leaves out the byte dropMS names.
func (c *converter) reader(size int, dropMS bool) pixelReader {
	k := 0
	if size != c.bpp {
		k = 2
		if dropMS {
			k = 1
		}
	}
	if c.readers[k] == nil {
		r := c.newReader(size, dropMS)
		c.readers[k] = &r
	}
	return *c.readers[k]
}

// newReader makes reader's pixelReader.
func (c *converter) newReader(size int, dropMS bool) pixelReader {
	r := pixelReader{c: c, size: size, dropMS: dropMS}
	if !c.fast {
		return r
	}
	// Find each component's byte by reading one byte set at a time, then
	// make sure the shortcut agrees with the conversion on a mixed value.
	found := 0
	for pos := range size {
		var b [4]byte
		b[pos] = 0xff
		col := r.slow(b[:])
		for k := range 3 {
			if uint8(col>>(8*k)) == 0xff {
				r.idx[k] = uint8(pos)
				found |= 1 << k
			}
		}
	}
	if found != 7 {
		return r
	}
	probe := []byte{0x12, 0x34, 0x56, 0x78}
	r.direct = true
	if r.read(probe) != r.slow(probe) {
		r.direct = false
	}
	return r
}

// slow converts one pixel through the converter.
func (r *pixelReader) slow(b []byte) rgba {
	if r.size == 3 && r.c.bpp == 4 {
		return r.c.compactPixel(b, r.dropMS)
	}
	return r.c.pixel(b)
}

// read returns the colour of the pixel b starts with.
func (r *pixelReader) read(b []byte) rgba {
	if r.direct {
		return rgba(uint32(b[r.idx[0]]) | uint32(b[r.idx[1]])<<8 | uint32(b[r.idx[2]])<<16 | 0xff000000)
	}
	return r.slow(b)
}
