package screen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"slices"

	"github.com/klauspost/compress/flate"
)

// historySize is deflate's window: the most a back-reference reaches.
const historySize = 32 << 10

// syncFlush ends the data of a deflate stream flushed with Z_SYNC_FLUSH:
// the LEN and NLEN of an empty stored block.
var syncFlush = []byte{0, 0, 0xff, 0xff}

// zstream is one zlib stream of a session (RFC 1950, 1951), which the
// server continues from rectangle to rectangle: the Zlib encoding's, the
// ZRLE encoding's, Tight's four.
//
// Every VNC server flushes its deflate stream with Z_SYNC_FLUSH at the end
// of each rectangle, so each rectangle's data starts a new deflate block
// at a byte boundary, and all a stream carries from one rectangle to the
// next is its last 32 KiB of output, the window back-references reach
// into. zstream keeps only that: it inflates each rectangle with a fresh
// inflater preset with the history (flate.NewReaderDict), which is also
// what a keyframe of the seek index stores. A rectangle whose data does
// not end with a sync flush stops the Screen (ErrCorrupt) rather than
// risk decoding the next one from the middle of a block.
//
// Presetting an inflater copies the whole history, 32 KiB, which for the
// many small rectangles of a busy session took an eighth of the decoding
// time. So when a rectangle's data ends cleanly (all of it read, all
// output returned, the inflater waiting for the next block) the inflater
// is kept, live, and simply reads the next rectangle's data on: its
// window is the history already. Any other end presets a fresh one.
type zstream struct {
	hist    []byte // the last output, at most historySize bytes: buf's tail
	buf     []byte // holds hist: see remember
	started bool   // the 2-byte zlib header has been read
	live    bool   // fr stopped cleanly after the last data: its window is hist
	fr      io.ReadCloser
	br      bytes.Reader
	out     []byte
}

// reset forgets the stream: its next data starts with a zlib header
// (Tight's reset bits).
func (z *zstream) reset() {
	z.hist, z.buf, z.started, z.live = z.hist[:0], z.buf[:0], false, false
}

// inflate decompresses data, one rectangle's part of the stream, and
// returns its output, which must not be longer than max (a bound on what
// the rectangle can need, so that a zlib bomb stops at it). The result is
// valid until the next call.
func (z *zstream) inflate(data []byte, limit int) ([]byte, error) {
	if !z.started {
		if len(data) < 2 {
			return nil, corrupt("zlib header cut off")
		}
		cmf, flg := data[0], data[1]
		if cmf&0x0f != 8 || cmf>>4 > 7 || (uint16(cmf)<<8|uint16(flg))%31 != 0 {
			return nil, corrupt("zlib header %#02x %#02x", cmf, flg)
		}
		if flg&0x20 != 0 {
			return nil, corrupt("zlib stream with a preset dictionary")
		}
		data = data[2:]
		z.started = true
	}
	if !bytes.HasSuffix(data, syncFlush) {
		return nil, corrupt("zlib data of the rectangle does not end with a sync flush")
	}
	z.br.Reset(data)
	switch {
	case z.fr == nil:
		z.fr = flate.NewReaderDict(&z.br, z.hist)
	case !z.live:
		if err := z.fr.(flate.Resetter).Reset(&z.br, z.hist); err != nil {
			return nil, corrupt("zlib: %v", err)
		}
	}
	z.live = false
	out := z.out[:0]
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				return nil, corrupt("zlib data inflates to more than the %d bytes the rectangle can need", limit)
			}
			out = slices.Grow(out, min(limit+1-len(out), max(len(out), 4096)))
		}
		n, err := z.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == nil {
			// A Read that fills less than its buffer has returned all the
			// inflater had; with all input read, the inflater has just
			// handled the sync flush's empty stored block, which ends
			// the data (its last 4 bytes), and waits for a block header.
			// Reading on would fail for want of input: keep it as it is.
			if z.br.Len() == 0 && len(out) < cap(out) {
				z.out, z.live = out, true
				break
			}
			continue
		}
		z.out = out
		if errors.Is(err, io.ErrUnexpectedEOF) { // all input read, as at a sync flush
			break
		}
		if err == io.EOF {
			return nil, corrupt("zlib stream ends (final block) inside the session")
		}
		return nil, corrupt("zlib: %v", err)
	}
	if len(out) > limit {
		return nil, corrupt("zlib data inflates to more than the %d bytes the rectangle can need", limit)
	}
	z.remember(out)
	return out, nil
}

// remember appends out to the history, keeping its last historySize
// bytes. The history is the tail of buf, twice its size, so that most
// calls append without moving what is kept.
func (z *zstream) remember(out []byte) {
	if z.buf == nil {
		z.buf = make([]byte, 0, 2*historySize)
	}
	if len(out) >= historySize {
		z.buf = append(z.buf[:0], out[len(out)-historySize:]...)
		z.hist = z.buf
		return
	}
	if len(z.buf)+len(out) > cap(z.buf) {
		z.buf = z.buf[:copy(z.buf[:cap(z.buf)], z.hist)]
	}
	z.buf = append(z.buf, out...)
	z.hist = z.buf[max(0, len(z.buf)-historySize):]
}

// zlibRect decodes the Zlib encoding (rfbproto.rst, "zlib Encoding"): Raw
// pixels in the session's zlib stream.
func (s *Screen) zlibRect(c *converter, area image.Rectangle, d []byte) error {
	if area.Empty() && len(d) == 0 { // the rfb package reads no length for it, as noVNC
		return nil
	}
	if len(d) < 4 || int64(len(d)-4) != int64(be.Uint32(d)) {
		return corrupt("Zlib data of %d bytes", len(d))
	}
	n := area.Dx() * area.Dy() * c.bpp
	out, err := s.zlib.inflate(d[4:], n)
	if err != nil {
		return err
	}
	if err := wantLen(out, n, "Zlib pixels"); err != nil {
		return err
	}
	s.pixels(c, area, out)
	return nil
}

// zrleRect decodes ZRLE (RFC 6143 §7.7.6): 64×64 tiles in the session's
// zlib stream, each raw, solid, packed-palette or run-length encoded, in
// CPIXELs.
func (s *Screen) zrleRect(c *converter, area image.Rectangle, d []byte) error {
	if len(d) < 4 || int64(len(d)-4) != int64(be.Uint32(d)) {
		return corrupt("ZRLE data of %d bytes", len(d))
	}
	cp, dropMS := c.cpixelSize()
	tiles := ((area.Dx() + 63) / 64) * ((area.Dy() + 63) / 64)
	// The most a rectangle can need: a subencoding and a full palette per
	// tile, and a run of one (a CPIXEL and a length) per pixel.
	limit := tiles*(1+127*cp) + area.Dx()*area.Dy()*(cp+1)
	out, err := s.zrle.inflate(d[4:], limit)
	if err != nil {
		return err
	}
	pr := c.reader(cp, dropMS)
	if s.tile == nil {
		s.tile = make([]byte, 64*64*4)
	}
	var palette [128]rgba
	short := func(tx, ty int) error { return corrupt("ZRLE tile at %d,%d cut off", tx, ty) }
	for ty := area.Min.Y; ty < area.Max.Y; ty += 64 {
		for tx := area.Min.X; tx < area.Max.X; tx += 64 {
			tile := image.Rect(tx, ty, min(tx+64, area.Max.X), min(ty+64, area.Max.Y))
			tw, th := tile.Dx(), tile.Dy()
			// Tiles other than solid ones are decoded into tb, row after
			// row, and copied into the framebuffer at the end.
			tb := s.tile[:tw*th*4]
			if len(out) < 1 {
				return short(tx, ty)
			}
			sub := int(out[0])
			out = out[1:]
			switch {
			case sub == 0: // raw CPIXELs
				if len(out) < tw*th*cp {
					return short(tx, ty)
				}
				for i := 0; i < len(tb); i += 4 {
					binary.LittleEndian.PutUint32(tb[i:], uint32(pr.read(out)))
					out = out[cp:]
				}
			case sub == 1: // solid
				if len(out) < cp {
					return short(tx, ty)
				}
				s.fill(tile, pr.read(out))
				out = out[cp:]
				continue
			case sub <= 16: // packed palette
				if len(out) < sub*cp {
					return short(tx, ty)
				}
				for i := range sub {
					palette[i] = pr.read(out[i*cp:])
				}
				out = out[sub*cp:]
				bits := 4
				switch {
				case sub == 2:
					bits = 1
				case sub <= 4:
					bits = 2
				}
				rowBytes := (tw*bits + 7) / 8
				if len(out) < rowBytes*th {
					return short(tx, ty)
				}
				if err := s.unpackPalette(tile, out, bits, sub, &palette); err != nil {
					return corrupt("ZRLE %v in the tile at %d,%d", err, tx, ty)
				}
				out = out[rowBytes*th:]
				continue
			case sub == 128 || sub >= 130: // plain or palette run-length
				n := sub - 128
				if n > 0 {
					if len(out) < n*cp {
						return short(tx, ty)
					}
					for i := range n {
						palette[i] = pr.read(out[i*cp:])
					}
					out = out[n*cp:]
				}
				left := tw * th
				o := 0
				for left > 0 {
					var col rgba
					run := 1
					if n == 0 {
						if len(out) < cp {
							return short(tx, ty)
						}
						col, out = pr.read(out), out[cp:]
						run = -1
					} else {
						if len(out) < 1 {
							return short(tx, ty)
						}
						i := int(out[0] & 0x7f)
						if i >= n {
							return corrupt("ZRLE palette index %d of %d colours in the tile at %d,%d", i, n, tx, ty)
						}
						col = palette[i]
						if out[0]&0x80 != 0 {
							run = -1
						}
						out = out[1:]
					}
					if run < 0 { // a run length: bytes of 255 and a last one
						run = 1
						for {
							if len(out) < 1 {
								return short(tx, ty)
							}
							b := int(out[0])
							out = out[1:]
							run += b
							if run > left {
								return corrupt("ZRLE run of %d pixels where %d are left in the tile at %d,%d", run, left, tx, ty)
							}
							if b != 255 {
								break
							}
						}
					}
					if run > left {
						return corrupt("ZRLE run of %d pixels where %d are left in the tile at %d,%d", run, left, tx, ty)
					}
					span := tb[o : o+4*run]
					for i := 0; i < len(span); i += 4 {
						binary.LittleEndian.PutUint32(span[i:], uint32(col))
					}
					o += 4 * run
					left -= run
				}
			default:
				return corrupt("ZRLE subencoding %d in the tile at %d,%d", sub, tx, ty)
			}
			s.blit(tile, tb)
		}
	}
	if len(out) != 0 {
		return corrupt("%d bytes after the last ZRLE tile", len(out))
	}
	return nil
}

// errPaletteIndex is unpackPalette's error.
type errPaletteIndex struct{ i, n int }

func (e errPaletteIndex) Error() string {
	return fmt.Sprintf("palette index %d of %d colours", e.i, e.n)
}

// unpackPalette expands the packed palette indices of a ZRLE tile of
// tile, bits each, rows padded to a byte (RFC 6143 §7.7.6), into the
// framebuffer. Whole bytes are expanded by unrolled loops; an index not below n
// is an errPaletteIndex.
func (s *Screen) unpackPalette(tile image.Rectangle, packed []byte, bits, n int, palette *[128]rgba) error {
	tw, th := tile.Dx(), tile.Dy()
	rowBytes := (tw*bits + 7) / 8
	perByte := 8 / bits
	whole := tw / perByte // bytes of a row that hold perByte pixels
	mask := byte(1<<bits - 1)
	put := func(dst []byte, i byte) { binary.LittleEndian.PutUint32(dst, uint32(palette[i])) }
	// Two pixels at a time: pairsN[i] holds the colours of the two
	// indices of bits bits packed in i, first one first in memory.
	var pairs2 [4]uint64
	var pairs4 [16]uint64
	switch bits {
	case 1:
		for i := range pairs2 {
			pairs2[i] = uint64(palette[i>>1]) | uint64(palette[i&1])<<32
		}
	case 2:
		for i := range pairs4 {
			pairs4[i] = uint64(palette[i>>2]) | uint64(palette[i&3])<<32
		}
	}
	for y := range th {
		row := packed[y*rowBytes : (y+1)*rowBytes]
		dst := s.fb.Pix[s.fb.PixOffset(tile.Min.X, tile.Min.Y+y):][:tw*4]
		switch bits {
		case 1: // n is 2: every index is valid
			pairs := &pairs2
			for _, b := range row[:whole] {
				d := dst[:32]
				binary.LittleEndian.PutUint64(d[0:8], pairs[b>>6])
				binary.LittleEndian.PutUint64(d[8:16], pairs[b>>4&3])
				binary.LittleEndian.PutUint64(d[16:24], pairs[b>>2&3])
				binary.LittleEndian.PutUint64(d[24:32], pairs[b&3])
				dst = dst[32:]
			}
		case 2: // n is 3 or 4
			pairs := &pairs4
			for _, b := range row[:whole] {
				if n == 3 && b&(b>>1)&0x55 != 0 {
					return errPaletteIndex{3, n}
				}
				d := dst[:16]
				binary.LittleEndian.PutUint64(d[0:8], pairs[b>>4])
				binary.LittleEndian.PutUint64(d[8:16], pairs[b&15])
				dst = dst[16:]
			}
		default:
			for _, b := range row[:whole] {
				hi, lo := int(b>>4), int(b&15)
				if hi >= n || lo >= n {
					return errPaletteIndex{max(hi, lo), n}
				}
				d := dst[:8]
				put(d[0:4], b>>4)
				put(d[4:8], b&15)
				dst = dst[8:]
			}
		}
		if whole < len(row) { // a last byte with fewer pixels than it holds
			b := row[whole]
			for k := 8 - bits; len(dst) > 0; k -= bits {
				i := b >> uint(k&7) & mask
				if int(i) >= n {
					return errPaletteIndex{int(i), n}
				}
				put(dst[:4], i)
				dst = dst[4:]
			}
		}
	}
	return nil
}
