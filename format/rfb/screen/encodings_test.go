package screen

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// Test-only encoders, one per encoding, from RFC 6143 §7.7 and
// rfbproto.rst. Each returns a rectangle's data for image t.

func encodeRRE(pf rfb.PixelFormat, t *testImage, compact bool) []byte {
	bg := t.p[0]
	var subs []byte
	n := 0
	for y := range t.h {
		for x := range t.w {
			p := t.at(x, y)
			if p.v == bg.v {
				continue
			}
			n++
			subs = append(subs, pixelBytes(pf, p.v)...)
			if compact {
				subs = append(subs, u8(x, y, 1, 1)...)
			} else {
				subs = append(subs, u16(x, y, 1, 1)...)
			}
		}
	}
	return cat(u32(int64(n)), pixelBytes(pf, bg.v), subs)
}

// encodeHextile cycles through the tile kinds: raw, background with
// coloured subrectangles, background and foreground with plain ones, and
// background only where a tile is solid.
func encodeHextile(pf rfb.PixelFormat, t *testImage) []byte {
	var out []byte
	k := 0
	for ty := 0; ty < t.h; ty += 16 {
		for tx := 0; tx < t.w; tx += 16 {
			tile := t.sub(image.Rect(tx, ty, min(tx+16, t.w), min(ty+16, t.h)))
			k++
			colours := map[uint32]bool{}
			for _, p := range tile.p {
				colours[p.v] = true
			}
			bg := tile.p[0]
			switch {
			case len(colours) == 1:
				out = append(out, 2)
				out = append(out, pixelBytes(pf, bg.v)...)
			case k%3 == 0:
				out = append(out, 1)
				out = append(out, rawBytes(pf, tile)...)
			case k%3 == 1 || len(colours) > 2:
				var subs []byte
				n := 0
				for y := range tile.h {
					for x := range tile.w {
						if p := tile.at(x, y); p.v != bg.v {
							n++
							subs = append(subs, pixelBytes(pf, p.v)...)
							subs = append(subs, u8(x<<4|y, 0)...)
						}
					}
				}
				if n > 255 {
					out = append(out, 1)
					out = append(out, rawBytes(pf, tile)...)
					continue
				}
				out = append(out, 2|8|16)
				out = append(out, pixelBytes(pf, bg.v)...)
				out = append(out, byte(n))
				out = append(out, subs...)
			default: // two colours: foreground subrectangles of one row each
				var fg tpix
				var subs []byte
				n := 0
				for y := range tile.h {
					for x := 0; x < tile.w; {
						p := tile.at(x, y)
						if p.v == bg.v {
							x++
							continue
						}
						fg = p
						w := 1
						for x+w < tile.w && tile.at(x+w, y).v == p.v {
							w++
						}
						subs = append(subs, u8(x<<4|y, (w-1)<<4)...)
						n++
						x += w
					}
				}
				out = append(out, 2|4|8)
				out = append(out, pixelBytes(pf, bg.v)...)
				out = append(out, pixelBytes(pf, fg.v)...)
				out = append(out, byte(n))
				out = append(out, subs...)
			}
		}
	}
	return out
}

// encodeZRLETiles cycles through the subencodings: raw, packed palette,
// plain RLE, palette RLE; solid tiles as solid.
func encodeZRLETiles(pf rfb.PixelFormat, t *testImage) []byte {
	var out []byte
	k := 0
	for ty := 0; ty < t.h; ty += 64 {
		for tx := 0; tx < t.w; tx += 64 {
			tile := t.sub(image.Rect(tx, ty, min(tx+64, t.w), min(ty+64, t.h)))
			k++
			var pal []uint32
			for _, p := range tile.p {
				if !slices.Contains(pal, p.v) {
					pal = append(pal, p.v)
				}
			}
			runs := func(each func(v uint32, n int)) {
				for i := 0; i < len(tile.p); {
					n := 1
					for i+n < len(tile.p) && tile.p[i+n].v == tile.p[i].v {
						n++
					}
					each(tile.p[i].v, n)
					i += n
				}
			}
			runLength := func(n int) []byte {
				var b []byte
				for n -= 1; n >= 255; n -= 255 {
					b = append(b, 255)
				}
				return append(b, byte(n))
			}
			switch {
			case len(pal) == 1:
				out = append(out, 1)
				out = append(out, cpixelBytes(pf, pal[0])...)
			case k%4 == 1 && len(pal) <= 16:
				out = append(out, byte(len(pal)))
				for _, v := range pal {
					out = append(out, cpixelBytes(pf, v)...)
				}
				bits := 4
				if len(pal) == 2 {
					bits = 1
				} else if len(pal) <= 4 {
					bits = 2
				}
				for y := range tile.h {
					var row []byte
					for x := range tile.w {
						bit := x * bits
						if bit%8 == 0 {
							row = append(row, 0)
						}
						i := slices.Index(pal, tile.at(x, y).v)
						row[len(row)-1] |= byte(i << (8 - bits - bit%8))
					}
					out = append(out, row...)
				}
			case k%4 == 2:
				out = append(out, 128)
				runs(func(v uint32, n int) {
					out = append(out, cpixelBytes(pf, v)...)
					out = append(out, runLength(n)...)
				})
			case k%4 == 3 && len(pal) <= 127:
				out = append(out, byte(128+len(pal)))
				for _, v := range pal {
					out = append(out, cpixelBytes(pf, v)...)
				}
				runs(func(v uint32, n int) {
					i := slices.Index(pal, v)
					if n == 1 {
						out = append(out, byte(i))
						return
					}
					out = append(out, byte(i|128))
					out = append(out, runLength(n)...)
				})
			default:
				out = append(out, 0)
				for _, p := range tile.p {
					out = append(out, cpixelBytes(pf, p.v)...)
				}
			}
		}
	}
	return out
}

func lengthPrefixed(b []byte) []byte { return cat(u32(int64(len(b))), b) }

// compactLen encodes Tight's compact length.
func compactLen(n int) []byte {
	switch {
	case n < 1<<7:
		return u8(n)
	case n < 1<<14:
		return u8(n&0x7f|0x80, n>>7)
	}
	return u8(n&0x7f|0x80, (n>>7)&0x7f|0x80, n>>14)
}

// tightBasic encodes Tight basic compression of t with a filter in
// stream (ctl's stream bits), through z unless the data is short.
func tightBasic(pf rfb.PixelFormat, t *testImage, filter int, stream int, z *zlibWriter, reset int) []byte {
	var data []byte
	head := []byte{byte((stream|4)<<4 | reset), byte(filter)}
	switch filter {
	case 0:
		for _, p := range t.p {
			data = append(data, tpixelBytes(pf, p)...)
		}
	case 1:
		var pal []tpix
		for _, p := range t.p {
			if !slices.ContainsFunc(pal, func(q tpix) bool { return q.v == p.v }) {
				pal = append(pal, p)
			}
		}
		head = append(head, byte(len(pal)-1))
		for _, p := range pal {
			head = append(head, tpixelBytes(pf, p)...)
		}
		index := func(p tpix) int { return slices.IndexFunc(pal, func(q tpix) bool { return q.v == p.v }) }
		if len(pal) <= 2 {
			for y := range t.h {
				row := make([]byte, (t.w+7)/8)
				for x := range t.w {
					row[x/8] |= byte(index(t.at(x, y)) << (7 - x%8))
				}
				data = append(data, row...)
			}
		} else {
			for _, p := range t.p {
				data = append(data, byte(index(p)))
			}
		}
	case 2: // gradient, 888 only in these tests
		comp := func(x, y, c int) int {
			if x < 0 || y < 0 {
				return 0
			}
			return int(t.at(x, y).col[c])
		}
		for y := range t.h {
			for x := range t.w {
				for c := range 3 {
					est := comp(x-1, y, c) + comp(x, y-1, c) - comp(x-1, y-1, c)
					est = min(max(est, 0), 255)
					data = append(data, byte(comp(x, y, c)-est))
				}
			}
		}
	}
	if len(data) < 12 {
		return cat(head, data)
	}
	zd := z.compress(data)
	return cat(head, compactLen(len(zd)), zd)
}

func TestEncodings(t *testing.T) {
	t.Parallel()
	const w, h = 83, 70 // tiles of Hextile and ZRLE cut at the edges
	area := image.Rect(5, 3, 5+w, 3+h)
	for _, f := range testFormats {
		pf := f.pf
		tests := []struct {
			name string
			enc  rfb.Encoding
			data func(img *testImage) [][]byte // one rectangle's data per update
		}{
			{"Raw", rfb.EncodingRaw, func(img *testImage) [][]byte { return [][]byte{rawBytes(pf, img)} }},
			{"RRE", rfb.EncodingRRE, func(img *testImage) [][]byte { return [][]byte{encodeRRE(pf, img, false)} }},
			{"CoRRE", rfb.EncodingCoRRE, func(img *testImage) [][]byte { return [][]byte{encodeRRE(pf, img, true)} }},
			{"Hextile", rfb.EncodingHextile, func(img *testImage) [][]byte { return [][]byte{encodeHextile(pf, img)} }},
			{"Zlib", rfb.EncodingZlib, func(img *testImage) [][]byte {
				var z zlibWriter
				raw := rawBytes(pf, img)
				// Two rectangles in the same stream: the second refers
				// back into the first.
				return [][]byte{lengthPrefixed(z.compress(raw)), lengthPrefixed(z.compress(raw))}
			}},
			{"ZRLE", rfb.EncodingZRLE, func(img *testImage) [][]byte {
				var z zlibWriter
				tiles := encodeZRLETiles(pf, img)
				return [][]byte{lengthPrefixed(z.compress(tiles)), lengthPrefixed(z.compress(tiles))}
			}},
			{"TightCopy", rfb.EncodingTight, func(img *testImage) [][]byte {
				var z zlibWriter
				return [][]byte{tightBasic(pf, img, 0, 0, &z, 0), tightBasic(pf, img, 0, 0, &z, 0)}
			}},
			{"TightPalette", rfb.EncodingTight, func(img *testImage) [][]byte {
				var z zlibWriter
				return [][]byte{tightBasic(pf, img, 1, 2, &z, 0)}
			}},
		}
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				colours := 40
				if tt.name == "TightPalette" {
					colours = 5
				}
				img := newTestImage(uint64(len(tt.name)), pf, w, h, colours)
				ss := newSession(t, 100, 80, pf, Options{})
				for _, d := range tt.data(img) {
					ss.server(update(cat(rectHeader(area.Min.X, area.Min.Y, w, h, tt.enc), d)))
					img.draw(ss.want, area.Min.X, area.Min.Y)
					ss.check()
				}
				if d := ss.s.Dirty(); !area.In(d.Rect) || d.Resized && d.Rect != ss.want.Rect {
					t.Errorf("dirty %+v, want it to hold %v", d, area)
				}
			})
		}
	}
}

// TestTight covers what TestEncodings does not: fill, two-colour palettes,
// the gradient filter, short uncompressed data, stream resets, JPEG and
// TightPNG's PNG.
func TestTight(t *testing.T) {
	t.Parallel()
	const w, h = 40, 30
	pf := bgr888LE
	img := newTestImage(3, pf, w, h, 2)
	grad := newTestImage(4, pf, w, h, 30)
	tiny := newTestImage(5, pf, 2, 1, 30)
	var z0, z1, z3 zlibWriter
	jpegImg := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range jpegImg.Pix {
		jpegImg.Pix[i] = byte(i * 37)
		if i%4 == 3 {
			jpegImg.Pix[i] = 255
		}
	}
	var jb, pb bytes.Buffer
	if err := jpeg.Encode(&jb, jpegImg, nil); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&pb, jpegImg); err != nil {
		t.Fatal(err)
	}
	jpegWant, _ := jpeg.Decode(bytes.NewReader(jb.Bytes()))

	ss := newSession(t, 64, 48, pf, Options{})
	draw := func(x, y int, enc rfb.Encoding, data []byte, paint func()) {
		t.Helper()
		ss.server(update(cat(rectHeader(x, y, w, h, enc), data)))
		paint()
		ss.check()
	}
	fill := randomPixel(rand.New(rand.NewPCG(9, 9)), pf, 9)
	draw(1, 2, rfb.EncodingTight, cat(u8(0x80), tpixelBytes(pf, fill)), func() {
		for y := 2; y < 2+h; y++ {
			for x := 1; x < 1+w; x++ {
				ss.want.SetRGBA(x, y, rgbaOf(fill))
			}
		}
	})
	draw(0, 0, rfb.EncodingTight, tightBasic(pf, img, 1, 1, &z1, 0), func() { img.draw(ss.want, 0, 0) })
	draw(3, 4, rfb.EncodingTight, tightBasic(pf, grad, 2, 3, &z3, 0), func() { grad.draw(ss.want, 3, 4) })
	draw(7, 1, rfb.EncodingTight, tightBasic(pf, grad, 0, 0, &z0, 0), func() { grad.draw(ss.want, 7, 1) })
	// Reset stream 0 (bit 0) and start it anew.
	z0 = zlibWriter{}
	draw(9, 9, rfb.EncodingTight, tightBasic(pf, img, 0, 0, &z0, 1), func() { img.draw(ss.want, 9, 9) })
	ss.server(update(cat(rectHeader(60, 40, 2, 1, rfb.EncodingTight), tightBasic(pf, tiny, 0, 2, nil, 0))))
	tiny.draw(ss.want, 60, 40)
	ss.check()
	paintImage := func(src image.Image, x0, y0 int) func() {
		return func() {
			for y := range h {
				for x := range w {
					r, g, b, _ := src.At(x, y).RGBA()
					ss.want.SetRGBA(x0+x, y0+y, rgbaOf(tpix{col: [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}}))
				}
			}
		}
	}
	draw(20, 10, rfb.EncodingTight, cat(u8(0x90), compactLen(jb.Len()), jb.Bytes()), paintImage(jpegWant, 20, 10))
	draw(2, 15, rfb.EncodingTightPNG, cat(u8(0xa0), compactLen(pb.Len()), pb.Bytes()), paintImage(jpegImg, 2, 15))
	draw(0, 18, rfb.EncodingJPEG, jb.Bytes(), paintImage(jpegWant, 0, 18))
}

func rgbaOf(p tpix) color.RGBA { return color.RGBA{p.col[0], p.col[1], p.col[2], 255} }
