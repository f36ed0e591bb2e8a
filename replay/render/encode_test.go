package render

import (
	"encoding/binary"
	"image"
	"image/color"
	"testing"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// testFormats are the pixel formats the encoders are checked in.
var testFormats = map[string]rfb.PixelFormat{
	"native":     NativeFormat,
	"bgr32be":    {BitsPerPixel: 32, Depth: 24, BigEndian: true, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 0, GreenShift: 8, BlueShift: 16},
	"rgb32high":  {BitsPerPixel: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 24, GreenShift: 16, BlueShift: 8},
	"rgb565":     {BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5, BlueShift: 0},
	"rgb555be":   {BitsPerPixel: 16, Depth: 15, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 31, BlueMax: 31, RedShift: 10, GreenShift: 5, BlueShift: 0},
	"bgr233":     {BitsPerPixel: 8, Depth: 8, TrueColour: true, RedMax: 7, GreenMax: 7, BlueMax: 3, RedShift: 0, GreenShift: 3, BlueShift: 6},
	"colour-map": {BitsPerPixel: 8, Depth: 8},
}

// testImage returns an image with a solid area, two-colour text-like
// strokes, a few-colour area and a gradient of many colours.
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{0x20, 0x40, 0x80, 255}
			switch {
			case x < w/3 && y < h/2:
				if (x/3+y)%7 == 0 || (x*y)%11 == 0 {
					c = color.RGBA{255, 255, 255, 255}
				}
			case x < w/3:
				c = color.RGBA{uint8(x * 40 % 256), uint8(y % 5 * 50), 10, 255}
			case x >= 2*w/3:
				c = color.RGBA{uint8(x * 3), uint8(y * 5), uint8(x + y), 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// session returns the server and client bytes of an RFB 3.8 session
// without security, up to the ServerInit of w×h and the client's
// SetPixelFormat of pf.
func session(w, h int, pf rfb.PixelFormat) (server, client []byte) {
	server = append([]byte("RFB 003.008\n"), 1, 1, 0, 0, 0, 0)
	server = appendServerInit(server, image.Pt(w, h), "test")
	client = append([]byte("RFB 003.008\n"), 1, 1)
	client = append(client, 0, 0, 0, 0)
	client = appendPixelFormat(client, pf)
	return server, client
}

// decode feeds a Screen the session's handshake, then each of msgs from
// the server, and returns it.
func decode(t *testing.T, w, h int, pf rfb.PixelFormat, msgs ...[]byte) *screen.Screen {
	t.Helper()
	server, client := session(w, h, pf)
	s := screen.New(screen.Options{})
	feed := func(dir format.Direction, p []byte) {
		t.Helper()
		if err := s.FeedData(dir, 0, p); err != nil {
			t.Fatalf("screen: %v", err)
		}
	}
	feed(format.TargetToClient, server[:12])
	feed(format.ClientToTarget, client[:12])
	feed(format.TargetToClient, server[12:14])
	feed(format.ClientToTarget, client[12:13])
	feed(format.TargetToClient, server[14:18])
	feed(format.ClientToTarget, client[13:14])
	feed(format.TargetToClient, server[18:])
	feed(format.ClientToTarget, client[14:])
	for _, m := range msgs {
		feed(format.TargetToClient, m)
	}
	return s
}

// want returns the colour a viewer of pf shows for c.
func want(pf rfb.PixelFormat, c color.RGBA) color.RGBA {
	p, _ := newPacker(pf)
	v := p.value(c.R, c.G, c.B)
	if !pf.TrueColour {
		return color.RGBA{uint8(uint32(v>>5) * 0xffff / 7 >> 8), uint8(uint32(v>>2&7) * 0xffff / 7 >> 8), uint8(uint32(v&3) * 0xffff / 3 >> 8), 255}
	}
	up := func(v uint32, max uint16) uint8 {
		v &= uint32(max)
		return uint8((v*255 + uint32(max)/2) / uint32(max))
	}
	return color.RGBA{up(v>>pf.RedShift, pf.RedMax), up(v>>pf.GreenShift, pf.GreenMax), up(v>>pf.BlueShift, pf.BlueMax), 255}
}

// update wraps rectangles in a FramebufferUpdate.
func update(n int, rects []byte) []byte {
	return append([]byte{0, 0, byte(n >> 8), byte(n)}, rects...)
}

// TestEncodersRoundTrip encodes an image in each encoding and pixel
// format, feeds the bytes to the screen model as a server's, and
// compares the pixels it decodes with the source's.
func TestEncodersRoundTrip(t *testing.T) {
	t.Parallel()
	const w, h = 150, 100
	src := testImage(w, h)
	for name, pf := range testFormats {
		for _, enc := range []rfb.Encoding{rfb.EncodingRaw, rfb.EncodingHextile, rfb.EncodingZRLE, rfb.EncodingTight} {
			for _, quality := range []int{-1, 9} {
				if quality >= 0 && enc != rfb.EncodingTight {
					continue
				}
				t.Run(name+"/"+enc.String()+map[bool]string{true: "/jpeg"}[quality >= 0], func(t *testing.T) {
					t.Parallel()
					e, err := NewEncoder(pf)
					if err != nil {
						t.Fatal(err)
					}
					e.SetQuality(quality)
					var msgs [][]byte
					if !pf.TrueColour {
						msgs = append(msgs, colourMap())
					}
					// Two updates: the whole screen, then a part, so that
					// the zlib streams carry over.
					for _, r := range []image.Rectangle{src.Rect, image.Rect(7, 13, 140, 99)} {
						b, n, err := e.AppendRect(nil, enc, src, r)
						if err != nil {
							t.Fatal(err)
						}
						msgs = append(msgs, update(n, b))
					}
					s := decode(t, w, h, pf, msgs...)
					p, _ := newPacker(pf)
					jpegUsed := quality >= 0 && p.tight888()
					diff := 0
					for y := range h {
						for x := range w {
							got, exp := s.Image().RGBAAt(x, y), want(pf, src.RGBAAt(x, y))
							if jpegUsed {
								if absDiff(got.R, exp.R) > 48 || absDiff(got.G, exp.G) > 48 || absDiff(got.B, exp.B) > 48 {
									diff++
								}
								continue
							}
							if got != exp {
								if diff == 0 {
									t.Errorf("pixel %d,%d: got %v, want %v", x, y, got, exp)
								}
								diff++
							}
						}
					}
					// JPEG blurs sharp edges where a tile has many colours:
					// most pixels stay within 48 of each component.
					if limit := map[bool]int{true: w * h / 10}[jpegUsed]; diff > limit {
						t.Errorf("%d of %d pixels differ, want at most %d", diff, w*h, limit)
					}
				})
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestPseudoEncodingsRoundTrip sends a cursor and a resize.
func TestPseudoEncodingsRoundTrip(t *testing.T) {
	t.Parallel()
	e, _ := NewEncoder(NativeFormat)
	cur := image.NewRGBA(image.Rect(0, 0, 9, 5))
	for i := range 9 {
		cur.SetRGBA(i, i%5, color.RGBA{255, 0, 0, 255})
	}
	var b []byte
	b = e.AppendCursor(b, cur, image.Pt(2, 3))
	b = AppendExtendedDesktopSize(b, image.Pt(64, 48))
	b = AppendDesktopSize(b, image.Pt(32, 16))
	s := decode(t, 20, 10, NativeFormat, update(3, b))
	if got := s.Size(); got != image.Pt(32, 16) {
		t.Errorf("size %v, want 32x16", got)
	}
	c := s.Cursor()
	if c.Image == nil || c.Image.Rect.Size() != image.Pt(9, 5) || c.Hotspot != image.Pt(2, 3) {
		t.Fatalf("cursor %+v", c)
	}
	if got := c.Image.RGBAAt(4, 4); got != (color.RGBA{255, 0, 0, 255}) {
		t.Errorf("cursor pixel 4,4: %v", got)
	}
	if got := c.Image.RGBAAt(4, 3); got.A != 0 {
		t.Errorf("cursor pixel 4,3 not transparent: %v", got)
	}
	_ = binary.BigEndian
}
