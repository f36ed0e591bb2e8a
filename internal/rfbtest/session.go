package rfbtest

import (
	"image"
	"image/color"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// LongSession describes a synthesized RFB session: a TigerVNC-like
// server (RFB 3.8, security None, 32-bit little-endian true colour) whose
// screen, of Cols x Rows cells, changes one cell every Interval for
// Duration, each time to a colour of its own, in Raw rectangles (so that
// every picture decoded from it is exact).
type LongSession struct {
	// Width and Height are the screen's size. Zero means 320 and 240.
	Width, Height int
	// Cols and Rows divide the screen into cells. Zero means 10 and 8.
	Cols, Rows int
	// Interval is the time between two updates. Zero means 2 s.
	Interval time.Duration
	// Duration is the session's length. Zero means 35 minutes.
	Duration time.Duration
}

func (s *LongSession) defaults() {
	if s.Width == 0 {
		s.Width, s.Height = 320, 240
	}
	if s.Cols == 0 {
		s.Cols, s.Rows = 10, 8
	}
	if s.Interval == 0 {
		s.Interval = 2 * time.Second
	}
	if s.Duration == 0 {
		s.Duration = 35 * time.Minute
	}
}

// CellColour returns the colour of the cell that the n-th update (from 1)
// paints; update 0 paints the whole screen in CellColour(0).
func CellColour(n int) color.RGBA {
	h := uint32(n)*2654435761 + 0x9e3779b9
	h ^= h >> 13
	h *= 0x85ebca6b
	return color.RGBA{R: uint8(h), G: uint8(h >> 8), B: uint8(h >> 16), A: 0xff}
}

// Records returns the session's records: the handshake at time 0, then
// the client's SetEncodings (Raw) and FramebufferUpdateRequest, then an
// update of the whole screen at time 0 and one of the n-th cell (in
// reading order, wrapping) at each n x Interval, up to Duration.
func (s LongSession) Records() []format.Record {
	s.defaults()
	server := func(at time.Duration, b []byte) format.Record {
		return format.Record{Kind: format.KindMessage, Time: at, Dir: format.TargetToClient, Payload: b}
	}
	client := func(at time.Duration, b []byte) format.Record {
		return format.Record{Kind: format.KindMessage, Time: at, Dir: format.ClientToTarget, Payload: b}
	}
	name := "long session"
	pf := Cat(U8(32, 24, 0, 1), U16(255, 255, 255), U8(16, 8, 0, 0, 0, 0))
	recs := []format.Record{
		server(0, []byte("RFB 003.008\n")),
		client(0, []byte("RFB 003.008\n")),
		server(0, U8(1, 1)),
		client(0, U8(1)),
		server(0, U32(0)),
		client(0, U8(1)),
		server(0, Cat(U16(s.Width, s.Height), pf, U32(int64(len(name))), []byte(name))),
		client(0, Cat(U8(2, 0), U16(1), U32(0))),
		client(0, Cat(U8(3, 0), U16(0, 0, s.Width, s.Height))),
		server(0, rawUpdate(image.Rect(0, 0, s.Width, s.Height), CellColour(0))),
	}
	for n := 1; time.Duration(n)*s.Interval <= s.Duration; n++ {
		at := time.Duration(n) * s.Interval
		recs = append(recs,
			client(at-s.Interval/2, Cat(U8(3, 1), U16(0, 0, s.Width, s.Height))),
			server(at, rawUpdate(s.cell(n), CellColour(n))))
	}
	return recs
}

// cell returns the rectangle that the n-th update paints.
func (s LongSession) cell(n int) image.Rectangle {
	i := (n - 1) % (s.Cols * s.Rows)
	w, h := s.Width/s.Cols, s.Height/s.Rows
	x, y := i%s.Cols*w, i/s.Cols*h
	return image.Rect(x, y, x+w, y+h)
}

// Screen returns the screen at time at, as the session's records paint
// it, computed from their description rather than decoded.
func (s LongSession) Screen(at time.Duration) *image.RGBA {
	s.defaults()
	img := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	fill(img, img.Rect, CellColour(0))
	last := min(int(at/s.Interval), int(s.Duration/s.Interval))
	// Only the last update of each cell shows.
	cells := s.Cols * s.Rows
	for n := max(1, last-cells+1); n <= last; n++ {
		fill(img, s.cell(n), CellColour(n))
	}
	return img
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// rawUpdate returns a FramebufferUpdate of one Raw rectangle r of colour
// c, in the session's pixel format (little-endian, blue in the low byte).
func rawUpdate(r image.Rectangle, c color.RGBA) []byte {
	b := Cat(U8(0, 0), U16(1), U16(r.Min.X, r.Min.Y, r.Dx(), r.Dy()), U32(0))
	for range r.Dx() * r.Dy() {
		b = append(b, c.B, c.G, c.R, 0)
	}
	return b
}

// Write writes the session as a sealed wsrec recording at path.
func (s LongSession) Write(t testing.TB, path string) {
	t.Helper()
	s.WriteWith(t, path, format.WriterOptions{})
}

// WriteWith writes the session as a sealed wsrec recording at path,
// written with opts (such as recipients that encrypt it).
func (s LongSession) WriteWith(t testing.TB, path string, opts format.WriterOptions) {
	t.Helper()
	WriteFile(t, path, format.Header{Meta: map[string]string{"program": "rfbtest.LongSession"}}, opts, s.Records())
}
