package vnctest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/bits"
	"testing"
)

// Screenshot returns the X display's screen as the X server has it, read
// with xwd -root. It skips the test (fails it when CI is set) if xwd is
// missing.
func (x *Xvnc) Screenshot(t testing.TB) *image.RGBA {
	t.Helper()
	Require(t, "xwd", "x11-apps")
	img, err := decodeXWD(x.Run(t, "xwd", "-root", "-silent"))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// WindowShot returns the contents of the X window id (as xdotool prints
// it, decimal) without its frame, read with xwd -id. It skips the test
// (fails it when CI is set) if xwd is missing.
func (x *Xvnc) WindowShot(t testing.TB, id string) *image.RGBA {
	t.Helper()
	Require(t, "xwd", "x11-apps")
	img, err := decodeXWD(x.Run(t, "xwd", "-id", id, "-silent"))
	if err != nil {
		t.Fatalf("screenshot of window %s: %v", id, err)
	}
	return img
}

// xwdHeader is the header of an X Window Dump, version 7 (X11's XWDFile.h):
// 25 big-endian 32-bit fields; the window's name follows up to HeaderSize,
// then NColors colour entries of 12 bytes, then the pixels.
type xwdHeader struct {
	HeaderSize, FileVersion, PixmapFormat, PixmapDepth  uint32
	PixmapWidth, PixmapHeight, XOffset, ByteOrder       uint32
	BitmapUnit, BitmapBitOrder, BitmapPad, BitsPerPixel uint32
	BytesPerLine, VisualClass                           uint32
	RedMask, GreenMask, BlueMask                        uint32
	BitsPerRGB, ColormapEntries, NColors                uint32
	WindowWidth, WindowHeight, WindowX, WindowY         uint32
	WindowBorderWidth                                   uint32
}

// decodeXWD decodes what xwd writes for a 24-bit TrueColor screen: a
// ZPixmap of 32 bits per pixel with 8-bit colour masks. It returns an error
// for any other kind of dump.
func decodeXWD(b []byte) (*image.RGBA, error) {
	var h xwdHeader
	const headerSize = 25 * 4
	if len(b) < headerSize {
		return nil, errors.New("xwd: truncated header")
	}
	if _, err := binary.Decode(b, binary.BigEndian, &h); err != nil {
		return nil, fmt.Errorf("xwd: %w", err)
	}
	const zPixmap, trueColor = 2, 4
	if h.FileVersion != 7 || h.PixmapFormat != zPixmap || h.VisualClass != trueColor || h.BitsPerPixel != 32 {
		return nil, fmt.Errorf("xwd: version %d, format %d, visual class %d, %d bits per pixel: want 7, ZPixmap (2), TrueColor (4), 32",
			h.FileVersion, h.PixmapFormat, h.VisualClass, h.BitsPerPixel)
	}
	const maxSide = 1 << 14
	w, ht := int(h.PixmapWidth), int(h.PixmapHeight)
	if w > maxSide || ht > maxSide || int(h.BytesPerLine) < 4*w || h.NColors > 1<<16 {
		return nil, fmt.Errorf("xwd: implausible size %dx%d, %d bytes per line, %d colours", w, ht, h.BytesPerLine, h.NColors)
	}
	start := int(h.HeaderSize) + 12*int(h.NColors)
	end := start + int(h.BytesPerLine)*ht
	if h.HeaderSize < headerSize || end > len(b) {
		return nil, fmt.Errorf("xwd: %d bytes, want %d", len(b), end)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if h.ByteOrder == 1 { // MSBFirst
		order = binary.BigEndian
	}
	channel := func(p, mask uint32) uint8 { return uint8((p & mask) >> bits.TrailingZeros32(mask)) }
	img := image.NewRGBA(image.Rect(0, 0, w, ht))
	for y := range ht {
		line := b[start+y*int(h.BytesPerLine):]
		for x := range w {
			p := order.Uint32(line[4*x:])
			img.SetRGBA(x, y, color.RGBA{
				R: channel(p, h.RedMask), G: channel(p, h.GreenMask), B: channel(p, h.BlueMask), A: 0xff,
			})
		}
	}
	return img, nil
}
