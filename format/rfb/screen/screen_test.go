package screen

import (
	"bytes"
	"compress/zlib"
	"errors"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
)

func TestCopyRect(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		sx, sy int // source
		dx, dy int // destination
	}{{"Down", 2, 3, 6, 9}, {"Up", 6, 9, 2, 3}, {"Right", 1, 5, 4, 5}, {"Left", 4, 5, 1, 5}, {"Same", 3, 3, 3, 3}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pf := rgb565LE
			img := newTestImage(7, pf, 30, 20, 50)
			ss := newSession(t, 30, 20, pf, Options{})
			ss.server(update(cat(rectHeader(0, 0, 30, 20, rfb.EncodingRaw), rawBytes(pf, img))))
			img.draw(ss.want, 0, 0)
			img.sub(image.Rect(tt.sx, tt.sy, tt.sx+20, tt.sy+10)).draw(ss.want, tt.dx, tt.dy)
			ss.server(update(cat(rectHeader(tt.dx, tt.dy, 20, 10, rfb.EncodingCopyRect), u16(tt.sx, tt.sy))))
			ss.check()
		})
	}
}

func TestResize(t *testing.T) {
	t.Parallel()
	pf := rgb888LE
	img := newTestImage(8, pf, 20, 10, 50)
	ss := newSession(t, 20, 10, pf, Options{})
	tr := ss.s.Track()
	ss.server(update(cat(rectHeader(0, 0, 20, 10, rfb.EncodingRaw), rawBytes(pf, img))))
	for _, tt := range []struct {
		name string
		rect []byte
		w, h int
	}{
		{"DesktopSize", rectHeader(0, 0, 12, 30, rfb.PseudoDesktopSize), 12, 30},
		{"ExtendedDesktopSize", cat(rectHeader(0, 0, 25, 8, rfb.PseudoExtendedDesktopSize), u8(1, 0, 0, 0), u32(1), u16(0, 0, 25, 8), u32(0)), 25, 8},
		{"Refused", cat(rectHeader(1, 3, 99, 99, rfb.PseudoExtendedDesktopSize), u8(1, 0, 0, 0), u32(1), u16(0, 0, 25, 8), u32(0)), 25, 8},
	} {
		ss.server(update(tt.rect))
		if got := ss.s.Size(); got != image.Pt(tt.w, tt.h) {
			t.Fatalf("%s: size %v, want %dx%d", tt.name, got, tt.w, tt.h)
		}
	}
	// What all three sizes share keeps its pixels; the rest is black.
	want := image.NewRGBA(image.Rect(0, 0, 25, 8))
	opaque(want.Pix)
	img.sub(image.Rect(0, 0, 12, 8)).draw(want, 0, 0)
	checkImage(t, ss.s.Image(), want)
	if d := tr.Take(); !d.Resized || d.Rect != want.Rect {
		t.Errorf("damage %+v, want a resize to %v", d, want.Rect)
	}
	if d := tr.Take(); d.Resized || !d.Rect.Empty() {
		t.Errorf("second take %+v, want nothing", d)
	}
	tr.Stop()
}

func TestCursor(t *testing.T) {
	t.Parallel()
	pf := rgb888LE
	red, blue := pixelBytes(pf, 0xff0000), pixelBytes(pf, 0x0000ff)
	for _, tt := range []struct {
		name string
		rect []byte
		// The composite at pointer 10,10 over black: the hotspot is 1,1.
		want map[image.Point]color.RGBA
	}{
		{"Cursor", cat(rectHeader(1, 1, 3, 2, rfb.PseudoCursor), red, blue, red, blue, blue, blue, u8(0b10100000, 0b01000000)),
			map[image.Point]color.RGBA{{9, 9}: {255, 0, 0, 255}, {10, 9}: {0, 0, 0, 255}, {11, 9}: {255, 0, 0, 255}, {10, 10}: {0, 0, 255, 255}, {9, 10}: {0, 0, 0, 255}}},
		{"XCursor", cat(rectHeader(1, 1, 3, 2, rfb.PseudoXCursor), u8(255, 255, 255, 0, 0, 0), u8(0b10100000, 0b01000000), u8(0b11100000, 0b01000000)),
			map[image.Point]color.RGBA{{9, 9}: {255, 255, 255, 255}, {10, 9}: {0, 0, 0, 255}, {11, 9}: {255, 255, 255, 255}, {10, 10}: {255, 255, 255, 255}, {11, 10}: {0, 0, 0, 255}}},
		{"CursorWithAlpha", cat(rectHeader(1, 1, 2, 1, rfb.PseudoCursorWithAlpha), u32(0), u8(128, 0, 0, 128, 0, 0, 255, 255)),
			// Premultiplied red at half alpha over black, opaque blue.
			map[image.Point]color.RGBA{{9, 9}: {128, 0, 0, 255}, {10, 9}: {0, 0, 255, 255}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ss := newSession(t, 20, 20, pf, Options{})
			ss.server(update(tt.rect))
			if c := ss.s.Cursor(); c.Visible || c.Image == nil || c.Hotspot != image.Pt(1, 1) {
				t.Fatalf("cursor before any pointer event %+v", c)
			}
			ss.client(cat(u8(5, 0), u16(10, 10)))
			if c := ss.s.Cursor(); !c.Visible || c.Pos != image.Pt(10, 10) {
				t.Fatalf("cursor %+v", c)
			}
			got := ss.s.Composite(nil, true)
			for p, want := range tt.want {
				if g := got.RGBAAt(p.X, p.Y); g != want {
					t.Errorf("composite at %v: %v, want %v", p, g, want)
				}
			}
			checkImage(t, ss.s.Snapshot(false), ss.want) // the framebuffer has no cursor
		})
	}
	t.Run("Hidden", func(t *testing.T) {
		t.Parallel()
		ss := newSession(t, 20, 20, pf, Options{})
		ss.server(update(rectHeader(0, 0, 0, 0, rfb.PseudoXCursor)))
		ss.client(cat(u8(5, 0), u16(10, 10)))
		if c := ss.s.Cursor(); c.Visible {
			t.Errorf("hidden cursor visible: %+v", c)
		}
	})
}

// bomb returns zlib data of n zero bytes, sync-flushed.
func bomb(n int) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(make([]byte, n))
	w.Flush()
	return b.Bytes()
}

func TestErrors(t *testing.T) {
	t.Parallel()
	pf := rgb888LE
	var zfull bytes.Buffer
	zw := zlib.NewWriter(&zfull)
	zw.Write(make([]byte, 16))
	zw.Close() // a final block, no sync flush
	for _, tt := range []struct {
		name    string
		w, h    int
		msg     []byte
		err     error
		enc     rfb.Encoding
		contain string
	}{
		{"ErrUnsupportedTRLE", 20, 20, update(cat(rectHeader(0, 0, 4, 4, rfb.EncodingTRLE), make([]byte, 8))), ErrUnsupported, rfb.EncodingTRLE, "TRLE"},
		{"ErrUnsupportedH264", 20, 20, update(cat(rectHeader(0, 0, 4, 4, rfb.EncodingH264), u32(2, 0), u8(1, 2))), ErrUnsupported, rfb.EncodingH264, "OpenH264"},
		{"ErrOutside", 20, 20, update(cat(rectHeader(10, 10, 11, 1, rfb.EncodingRaw), make([]byte, 44))), ErrOutside, rfb.EncodingRaw, "outside"},
		{"ErrOutsideCopyRect", 20, 20, update(cat(rectHeader(0, 0, 5, 5, rfb.EncodingCopyRect), u16(16, 0))), ErrOutside, rfb.EncodingCopyRect, "source"},
		{"ErrTooLargeDesktop", 65535, 65535, nil, ErrTooLarge, 0, "65535x65535"},
		{"ErrTooLargeResize", 20, 20, update(rectHeader(0, 0, 65535, 65535, rfb.PseudoDesktopSize)), ErrTooLarge, rfb.PseudoDesktopSize, "over the limit"},
		{"ErrCorruptBomb", 20, 20, update(cat(rectHeader(0, 0, 2, 2, rfb.EncodingZlib), lengthPrefixed(bomb(10<<20)))), ErrCorrupt, rfb.EncodingZlib, "more than the 16 bytes"},
		{"ErrCorruptZRLEBomb", 20, 20, update(cat(rectHeader(0, 0, 2, 2, rfb.EncodingZRLE), lengthPrefixed(bomb(10<<20)))), ErrCorrupt, rfb.EncodingZRLE, "more than"},
		{"ErrCorruptNoSyncFlush", 20, 20, update(cat(rectHeader(0, 0, 2, 2, rfb.EncodingZlib), lengthPrefixed(zfull.Bytes()))), ErrCorrupt, rfb.EncodingZlib, "sync flush"},
		{"ErrCorruptZRLEPalette", 20, 20, update(cat(rectHeader(0, 0, 2, 1, rfb.EncodingZRLE), lengthPrefixed((&zlibWriter{}).compress(cat(u8(3), make([]byte, 9), u8(0b00110000)))))), ErrCorrupt, rfb.EncodingZRLE, "palette index 3 of 3"},
		{"ErrCorruptZRLEPaletteRLE", 20, 20, update(cat(rectHeader(0, 0, 2, 1, rfb.EncodingZRLE), lengthPrefixed((&zlibWriter{}).compress(cat(u8(130), make([]byte, 6), u8(5, 0)))))), ErrCorrupt, rfb.EncodingZRLE, "palette index 5 of 2"},
		{"ErrCorruptTightPalette", 20, 20, update(cat(rectHeader(0, 0, 3, 1, rfb.EncodingTight), u8(0x40, 1, 2), make([]byte, 9), u8(0, 1, 3))), ErrCorrupt, rfb.EncodingTight, "palette index 3 of 3"},
		{"ErrCorruptRRE", 20, 20, update(cat(rectHeader(0, 0, 4, 4, rfb.EncodingRRE), u32(1), red(), red(), u16(3, 3, 2, 1))), ErrCorrupt, rfb.EncodingRRE, "outside the rectangle"},
		{"ErrCorruptHextile", 20, 20, update(cat(rectHeader(0, 0, 4, 4, rfb.EncodingHextile), u8(2|8), red(), u8(1, 0x33, 0x10))), ErrCorrupt, rfb.EncodingHextile, "outside its tile"},
		{"ErrCorruptJPEG", 20, 20, update(cat(rectHeader(0, 0, 4, 4, rfb.EncodingTight), u8(0x90, 4), u8(0xff, 0xd8, 0xff, 0xd9))), ErrCorrupt, rfb.EncodingTight, "JPEG"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{MaxPixels: 1 << 20})
			ss := &session{t: t, s: s}
			for _, m := range [][]byte{[]byte("RFB 003.008\n"), u8(1, 1), u32(0), cat(u16(tt.w, tt.h), pixelFormatBytes(pf), u32(0)), tt.msg} {
				ss.feed(format.TargetToClient, m)
			}
			for _, m := range [][]byte{[]byte("RFB 003.008\n"), u8(1), u8(1)} {
				ss.feed(format.ClientToTarget, m)
			}
			err := ss.feed(format.TargetToClient, nil)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want a DecodeError wrapping %v", err, tt.err)
			}
			if tt.enc != 0 && (!de.HasRect || de.Encoding != tt.enc) {
				t.Errorf("error names %v (has rect %v), want %s", de.Encoding, de.HasRect, tt.enc)
			}
			if !strings.Contains(err.Error(), tt.contain) {
				t.Errorf("error %q does not say %q", err, tt.contain)
			}
			if err2 := ss.feed(format.TargetToClient, update()); err2 != err {
				t.Errorf("next feed: %v, want the same error", err2)
			}
		})
	}
}

func red() []byte { return pixelBytes(rgb888LE, 0xff0000) }

func TestColourMapUpdate(t *testing.T) {
	t.Parallel()
	ss := newSession(t, 4, 1, cmap8, Options{})
	ss.server(cat(u8(1, 0), u16(200, 1), u16(0x1200, 0x3400, 0x5600)))
	ss.server(update(cat(rectHeader(0, 0, 4, 1, rfb.EncodingRaw), u8(200, 1, 200, 0))))
	for x, want := range []color.RGBA{{0x12, 0x34, 0x56, 255}, {1, 254, 7, 255}, {0x12, 0x34, 0x56, 255}, {0, 255, 0, 255}} {
		if got := ss.s.Image().RGBAAt(x, 0); got != want {
			t.Errorf("pixel %d: %v, want %v", x, got, want)
		}
	}
}
