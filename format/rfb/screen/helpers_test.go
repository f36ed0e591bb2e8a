package screen

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// Test-only encoders of RFB messages (RFC 6143 §7, rfbproto.rst), written
// from the specification independently of the decoder.

var (
	cat = rfbtest.Cat
	u8  = rfbtest.U8
	u16 = rfbtest.U16
	u32 = rfbtest.U32
)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func pixelFormatBytes(pf rfb.PixelFormat) []byte {
	return cat(u8(int(pf.BitsPerPixel), int(pf.Depth), b2i(pf.BigEndian), b2i(pf.TrueColour)),
		u16(int(pf.RedMax), int(pf.GreenMax), int(pf.BlueMax)), u8(int(pf.RedShift), int(pf.GreenShift), int(pf.BlueShift), 0, 0, 0))
}

// Pixel formats the tests run in.
var (
	rgb888LE  = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8}
	bgr888LE  = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, GreenShift: 8, BlueShift: 16} // noVNC's
	rgb888BE  = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, BigEndian: true, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8}
	rgb888MS  = rfb.PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 24, GreenShift: 16, BlueShift: 8}
	rgb101010 = rfb.PixelFormat{BitsPerPixel: 32, Depth: 30, BigEndian: true, TrueColour: true, RedMax: 1023, GreenMax: 1023, BlueMax: 1023, RedShift: 20, GreenShift: 10}
	rgb565LE  = rfb.PixelFormat{BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}
	rgb555BE  = rfb.PixelFormat{BitsPerPixel: 16, Depth: 15, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 31, BlueMax: 31, RedShift: 10, GreenShift: 5}
	bgr233    = rfb.PixelFormat{BitsPerPixel: 8, Depth: 8, TrueColour: true, RedMax: 7, GreenMax: 7, BlueMax: 3, GreenShift: 3, BlueShift: 6}
	cmap8     = rfb.PixelFormat{BitsPerPixel: 8, Depth: 8}
)

var testFormats = []struct {
	name string
	pf   rfb.PixelFormat
}{{"rgb888LE", rgb888LE}, {"bgr888LE", bgr888LE}, {"rgb888BE", rgb888BE}, {"rgb888MS", rgb888MS}, {"rgb101010BE", rgb101010},
	{"rgb565LE", rgb565LE}, {"rgb555BE", rgb555BE}, {"bgr233", bgr233}, {"colourMap8", cmap8}}

// testColourMap is the colour map of the colour-map tests: entry i has
// red i, green 255-i, blue i*7 (high bytes of the U16s).
func testColourMap() []byte {
	b := cat(u8(1, 0), u16(0, 256))
	for i := range 256 {
		b = append(b, u16(i<<8|i, (255-i)<<8, (i*7%256)<<8|0x7f)...)
	}
	return b
}

// tpix is a pixel of a test image: its PIXEL value in the format and the
// colour a viewer shows for it.
type tpix struct {
	v   uint32
	col [3]uint8
}

// colourOf computes the colour of value v of pf, independently of the
// decoder: each component scaled with floating point.
func colourOf(pf rfb.PixelFormat, v uint32) [3]uint8 {
	if !pf.TrueColour {
		i := int(v)
		return [3]uint8{uint8(i), uint8(255 - i), uint8(i * 7 % 256)}
	}
	c := func(shift uint8, m uint16) uint8 {
		x := (v >> shift) & uint32(m)
		return uint8(math.Round(float64(x) * 255 / float64(m)))
	}
	return [3]uint8{c(pf.RedShift, pf.RedMax), c(pf.GreenShift, pf.GreenMax), c(pf.BlueShift, pf.BlueMax)}
}

// randomPixel returns a random pixel of pf from a small set of colours, so
// that images have runs and palettes.
func randomPixel(r *rand.Rand, pf rfb.PixelFormat, colours int) tpix {
	seed := r.IntN(colours)
	rr := rand.New(rand.NewPCG(uint64(seed), 7))
	var v uint32
	if pf.TrueColour {
		v = uint32(rr.IntN(int(pf.RedMax)+1))<<pf.RedShift | uint32(rr.IntN(int(pf.GreenMax)+1))<<pf.GreenShift |
			uint32(rr.IntN(int(pf.BlueMax)+1))<<pf.BlueShift
	} else {
		v = uint32(rr.IntN(256))
	}
	return tpix{v, colourOf(pf, v)}
}

// testImage is a w×h image of random pixels with runs.
type testImage struct {
	w, h int
	p    []tpix
}

func newTestImage(seed uint64, pf rfb.PixelFormat, w, h, colours int) *testImage {
	r := rand.New(rand.NewPCG(seed, 1))
	img := &testImage{w: w, h: h, p: make([]tpix, w*h)}
	for i := range img.p {
		if i > 0 && r.IntN(3) > 0 {
			img.p[i] = img.p[i-1] // runs
			continue
		}
		img.p[i] = randomPixel(r, pf, colours)
	}
	return img
}

func (t *testImage) at(x, y int) tpix { return t.p[y*t.w+x] }

// sub returns the part of t in r.
func (t *testImage) sub(r image.Rectangle) *testImage {
	s := &testImage{w: r.Dx(), h: r.Dy()}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			s.p = append(s.p, t.at(x, y))
		}
	}
	return s
}

// draw paints t at x, y into the expected framebuffer.
func (t *testImage) draw(dst *image.RGBA, x0, y0 int) {
	for y := range t.h {
		for x := range t.w {
			c := t.at(x, y).col
			i := dst.PixOffset(x0+x, y0+y)
			copy(dst.Pix[i:], []byte{c[0], c[1], c[2], 255})
		}
	}
}

// pixelBytes encodes PIXEL value v in pf.
func pixelBytes(pf rfb.PixelFormat, v uint32) []byte {
	switch pf.BitsPerPixel {
	case 8:
		return []byte{byte(v)}
	case 16:
		if pf.BigEndian {
			return binary.BigEndian.AppendUint16(nil, uint16(v))
		}
		return binary.LittleEndian.AppendUint16(nil, uint16(v))
	}
	if pf.BigEndian {
		return binary.BigEndian.AppendUint32(nil, v)
	}
	return binary.LittleEndian.AppendUint32(nil, v)
}

// cpixelBytes encodes a ZRLE CPIXEL: for 32bpp formats of depth 24 whose
// colours fit in three bytes, the PIXEL without its unused byte.
func cpixelBytes(pf rfb.PixelFormat, v uint32) []byte {
	b := pixelBytes(pf, v)
	if pf.BitsPerPixel != 32 || !pf.TrueColour || pf.Depth > 24 {
		return b
	}
	maxv := uint32(pf.RedMax)<<pf.RedShift | uint32(pf.GreenMax)<<pf.GreenShift | uint32(pf.BlueMax)<<pf.BlueShift
	lsb := maxv < 1<<24 // the most significant byte is unused
	if lsb != pf.BigEndian {
		return b[:3]
	}
	return b[1:]
}

// tpixelBytes encodes a Tight TPIXEL: R, G, B for 888 formats.
func tpixelBytes(pf rfb.PixelFormat, p tpix) []byte {
	if pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth == 24 && pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 {
		return p.col[:]
	}
	return pixelBytes(pf, p.v)
}

func rawBytes(pf rfb.PixelFormat, t *testImage) []byte {
	var b []byte
	for _, p := range t.p {
		b = append(b, pixelBytes(pf, p.v)...)
	}
	return b
}

func rectHeader(x, y, w, h int, e rfb.Encoding) []byte {
	return cat(u16(x, y, w, h), u32(int64(e)))
}

// update is a FramebufferUpdate of the given rectangles (header + data
// each).
func update(rects ...[]byte) []byte {
	return cat(u8(0, 0), u16(len(rects)), cat(rects...))
}

// zlibWriter is a zlib stream of a session, flushed after each rectangle.
type zlibWriter struct {
	buf bytes.Buffer
	w   *zlib.Writer
}

func (z *zlibWriter) compress(p []byte) []byte {
	if z.w == nil {
		z.w = zlib.NewWriter(&z.buf)
	}
	z.w.Write(p)
	z.w.Flush() // Z_SYNC_FLUSH
	out := bytes.Clone(z.buf.Bytes())
	z.buf.Reset()
	return out
}

// session is a hand-built RFB session: the handshake of protocol 3.8 with
// security None, a w×h desktop in pf, then whatever the test sends.
type session struct {
	t    *testing.T
	s    *Screen
	pf   rfb.PixelFormat
	want *image.RGBA
	n    int
}

func newSession(t *testing.T, w, h int, pf rfb.PixelFormat, opts Options) *session {
	t.Helper()
	ss := &session{t: t, s: New(opts), pf: pf, want: image.NewRGBA(image.Rect(0, 0, w, h))}
	for i := 3; i < len(ss.want.Pix); i += 4 {
		ss.want.Pix[i] = 255
	}
	ss.server([]byte("RFB 003.008\n"))
	ss.client([]byte("RFB 003.008\n"))
	ss.server(u8(1, 1))
	ss.client(u8(1))
	ss.server(u32(0))
	ss.client(u8(1))
	ss.server(cat(u16(w, h), pixelFormatBytes(rgb888LE), u32(4), []byte("test")))
	if pf != rgb888LE {
		ss.client(cat(u8(0, 0, 0, 0), pixelFormatBytes(pf)))
	}
	if !pf.TrueColour {
		ss.server(testColourMap())
	}
	return ss
}

func (ss *session) feed(dir format.Direction, p []byte) error {
	ss.n++
	return ss.s.FeedData(dir, time.Duration(ss.n)*time.Millisecond, p)
}

func (ss *session) server(p []byte) {
	ss.t.Helper()
	if err := ss.feed(format.TargetToClient, p); err != nil {
		ss.t.Fatal(err)
	}
}

func (ss *session) client(p []byte) {
	ss.t.Helper()
	if err := ss.feed(format.ClientToTarget, p); err != nil {
		ss.t.Fatal(err)
	}
}

// check compares the framebuffer with the expected one.
func (ss *session) check() {
	ss.t.Helper()
	checkImage(ss.t, ss.s.Image(), ss.want)
}

func checkImage(t *testing.T, got, want *image.RGBA) {
	t.Helper()
	if got == nil {
		t.Fatal("no framebuffer")
	}
	if got.Rect != want.Rect {
		t.Fatalf("framebuffer %v, want %v", got.Rect, want.Rect)
	}
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			g, w := got.RGBAAt(x, y), want.RGBAAt(x, y)
			if g != w {
				t.Fatalf("pixel %d,%d: got %v, want %v", x, y, g, w)
			}
		}
	}
}
