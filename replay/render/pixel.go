package render

import (
	"encoding/binary"
	"fmt"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// NativeFormat is the pixel format a Session announces in its ServerInit:
// 32 bits per pixel, depth 24, little-endian, red at bit 16, green at 8,
// blue at 0, the format of TigerVNC's and most servers' framebuffers.
var NativeFormat = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true,
	RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8, BlueShift: 0}

// ErrPixelFormat is matched by the error for a pixel format a Session
// cannot send: bits per pixel other than 8, 16 or 32, a zero maximum, a
// shift of 32 or more, or a colour map with 32 bits per pixel.
var ErrPixelFormat = fmt.Errorf("render: unusable pixel format")

// packer turns RGBA colours into PIXEL values of one pixel format (RFC
// 6143 §7.4). A colour-map format is served with a fixed palette of 3
// bits of red, 3 of green and 2 of blue (index rrrgggbb), which the
// Session sends with SetColourMapEntries.
type packer struct {
	pf    rfb.PixelFormat
	bpp   int // bytes per PIXEL
	fast  bool
	order interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
}

func newPacker(pf rfb.PixelFormat) (*packer, error) {
	p := &packer{pf: pf, order: binary.LittleEndian}
	if pf.BigEndian {
		p.order = binary.BigEndian
	}
	switch pf.BitsPerPixel {
	case 8, 16, 32:
		p.bpp = int(pf.BitsPerPixel) / 8
	default:
		return nil, fmt.Errorf("%w: %d bits per pixel", ErrPixelFormat, pf.BitsPerPixel)
	}
	if !pf.TrueColour {
		if pf.BitsPerPixel == 32 {
			return nil, fmt.Errorf("%w: colour map with 32 bits per pixel", ErrPixelFormat)
		}
		return p, nil
	}
	if pf.RedMax == 0 || pf.GreenMax == 0 || pf.BlueMax == 0 || pf.RedShift >= 32 || pf.GreenShift >= 32 || pf.BlueShift >= 32 {
		return nil, fmt.Errorf("%w: %s", ErrPixelFormat, pf)
	}
	p.fast = pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255
	return p, nil
}

// value returns the PIXEL value of colour r, g, b.
func (p *packer) value(r, g, b uint8) uint32 {
	if !p.pf.TrueColour {
		return uint32(r>>5)<<5 | uint32(g>>5)<<2 | uint32(b>>6)
	}
	if p.fast {
		return uint32(r)<<p.pf.RedShift | uint32(g)<<p.pf.GreenShift | uint32(b)<<p.pf.BlueShift
	}
	return down(r, p.pf.RedMax)<<p.pf.RedShift | down(g, p.pf.GreenMax)<<p.pf.GreenShift | down(b, p.pf.BlueMax)<<p.pf.BlueShift
}

// down scales component c of 0..255 to 0..max, rounding.
func down(c uint8, max uint16) uint32 {
	return (uint32(c)*uint32(max) + 127) / 255
}

// appendValue appends PIXEL value v in n bytes of the format's byte order.
func (p *packer) appendValue(dst []byte, v uint32, n int) []byte {
	switch n {
	case 1:
		return append(dst, byte(v))
	case 2:
		return p.order.AppendUint16(dst, uint16(v))
	case 3: // a ZRLE CPIXEL: the PIXEL without its byte that is always zero
		var full [4]byte
		p.order.PutUint32(full[:], v)
		if p.pf.BigEndian != p.cpixelDropsMS() {
			return append(dst, full[:3]...) // the zero byte comes last
		}
		return append(dst, full[1:]...)
	}
	return p.order.AppendUint32(dst, v)
}

// appendPixel appends the PIXEL of the colour at offset i of pix.
func (p *packer) appendPixel(dst []byte, pix []byte) []byte {
	return p.appendValue(dst, p.value(pix[0], pix[1], pix[2]), p.bpp)
}

// cpixelSize returns the size of a ZRLE CPIXEL (RFC 6143 §7.7.6): 3 bytes
// for a 32bpp true-colour format of depth 24 or less whose colour bits lie
// in the 3 least or the 3 most significant bytes, else a PIXEL.
func (p *packer) cpixelSize() int {
	if !p.pf.TrueColour || p.bpp != 4 || p.pf.Depth > 24 {
		return p.bpp
	}
	all := p.allBits()
	if all < 1<<24 || all&0xff == 0 {
		return 3
	}
	return p.bpp
}

func (p *packer) allBits() uint64 {
	return uint64(p.pf.RedMax)<<p.pf.RedShift | uint64(p.pf.GreenMax)<<p.pf.GreenShift | uint64(p.pf.BlueMax)<<p.pf.BlueShift
}

// cpixelDropsMS says a CPIXEL leaves out the PIXEL's most significant
// byte (its colour fits in the three least significant ones).
func (p *packer) cpixelDropsMS() bool { return p.allBits() < 1<<24 }

// tight888 reports whether Tight sends TPIXELs of this format as 3 bytes
// R, G, B (rfbproto.rst, "Tight Encoding").
func (p *packer) tight888() bool {
	pf := p.pf
	return pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth == 24 &&
		pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 &&
		pf.RedShift%8 == 0 && pf.GreenShift%8 == 0 && pf.BlueShift%8 == 0
}

// colourMap returns the SetColourMapEntries message of the fixed palette
// of colour-map formats (RFC 6143 §7.6.2): 256 entries, index rrrgggbb.
func colourMap() []byte {
	b := []byte{1, 0, 0, 0, 1, 0} // type, padding, first colour 0, 256 colours
	for i := range 256 {
		r, g, bl := uint16(i>>5*0xffff/7), uint16(i>>2&7*0xffff/7), uint16(i&3*0xffff/3)
		b = binary.BigEndian.AppendUint16(b, r)
		b = binary.BigEndian.AppendUint16(b, g)
		b = binary.BigEndian.AppendUint16(b, bl)
	}
	return b
}
