package rfb

import (
	"errors"
	"time"
)

// DefaultMaxRectData is the most data bytes of one rectangle a Decoder
// collects for DecoderOptions.Rect when MaxRectData is zero.
const DefaultMaxRectData = 256 << 20

// RectData is one FramebufferUpdate rectangle, whole, as given to
// DecoderOptions.Rect: its header and the bytes that followed it in the
// server stream. The Decoder sized the data; the consumer decodes it.
type RectData struct {
	// Time is the time of the record that completed the rectangle.
	Time time.Duration
	// Offset is the position of the rectangle's 12-byte header in the
	// server stream.
	Offset int64
	// Index numbers the rectangles of one FramebufferUpdate from 0.
	Index int
	// Rect is the header; Rect.Bytes is the size of the data.
	Rect Rect
	// PixelFormat is the pixel format the data is in: the client's last
	// SetPixelFormat, or the server's from ServerInit. (CursorWithAlpha
	// data is in its own RGBA format whatever this says.)
	PixelFormat PixelFormat
	// Data is the rectangle's data after the header, Rect.Bytes bytes,
	// unless Truncated. It is valid only during the call.
	Data []byte
	// Truncated is set when the data was longer than
	// DecoderOptions.MaxRectData: Data holds only its first bytes.
	Truncated bool
}

// ColourMapData is the payload of a SetColourMapEntries message (RFC 6143
// §7.6.2), as given to DecoderOptions.ColourMap.
type ColourMapData struct {
	// Time is the time of the record that completed the message.
	Time time.Duration
	// Offset is the position of the message in the server stream.
	Offset int64
	// First is the index of the first colour set.
	First int
	// Data holds 6 bytes per colour: red, green and blue as big-endian
	// U16. It is valid only during the call.
	Data []byte
}

// capture is the collection of a rectangle's data for DecoderOptions.Rect.
type capture struct {
	on   bool
	b    []byte
	max  int
	size int64
	pf   PixelFormat // the format the rectangle was sized with
}

// add appends p to the captured bytes, up to the limit.
func (c *capture) add(p []byte) {
	c.size += int64(len(p))
	if k := min(len(p), c.max-len(c.b)); k > 0 {
		c.b = append(c.b, p[:k]...)
	}
}

// startCapture begins collecting the bytes consumed from s.
func (d *Decoder) startCapture(s *stream) {
	s.cap.on, s.cap.b, s.cap.size = true, s.cap.b[:0], 0
	s.cap.max, s.cap.pf = d.opts.MaxRectData, d.pf
}

// rectDone calls the Rect hook with the rectangle just read and stops
// collecting.
func (d *Decoder) rectDone(s *stream, r Rect, headerAt int64) {
	s.cap.on = false
	// Do not keep a huge buffer for the next rectangle.
	data := s.cap.b
	if cap(s.cap.b) > 1<<20 {
		s.cap.b = nil
	}
	d.opts.Rect(RectData{Time: s.t, Offset: headerAt, Index: len(d.upd.rects) - 1, Rect: r, PixelFormat: s.cap.pf,
		Data: data, Truncated: s.cap.size > int64(len(data))})
}

// ErrNotResumable is returned by Decoder.Checkpoint when a direction is
// inside a message or the handshake is not over.
var ErrNotResumable = errors.New("rfb: decoder not between messages")

// Checkpoint is what a Decoder needs to resume decoding a session at a
// point where both directions are between messages, after the handshake:
// a seek index stores it beside a framebuffer. Its fields are plain values
// that encode to JSON.
type Checkpoint struct {
	Session Session `json:"session"`
	// PixelFormat is the format of the server's pixel data.
	PixelFormat PixelFormat `json:"pixelFormat"`
	// ExtendedMouse is set once the server accepted ExtendedMouseButtons.
	ExtendedMouse bool    `json:"extendedMouse,omitempty"`
	Buttons       Buttons `json:"buttons,omitempty"`
	// ClientOffset and ServerOffset are the positions reached in each
	// direction's byte stream.
	ClientOffset int64 `json:"clientOffset"`
	ServerOffset int64 `json:"serverOffset"`
	// ClientStopped and ServerStopped say a direction's decoding stopped
	// (a KindStop event); it stays stopped after Resume.
	ClientStopped bool `json:"clientStopped,omitempty"`
	ServerStopped bool `json:"serverStopped,omitempty"`
}

// Checkpoint returns the Decoder's state if both directions are between
// messages after the handshake, and ErrNotResumable otherwise (also after
// End). A Decoder from Resume with the result decodes what follows exactly
// as this one would.
func (d *Decoder) Checkpoint() (Checkpoint, error) {
	idle := func(s *stream, state int) bool {
		return s.done || s.state == state && s.pending() == 0 && s.skip == 0 && s.col == nil
	}
	if d.ended || !idle(&d.c, cMessages) || !idle(&d.s, sMessages) {
		return Checkpoint{}, ErrNotResumable
	}
	return Checkpoint{Session: d.Session(), PixelFormat: d.pf, ExtendedMouse: d.extMouse, Buttons: d.buttons,
		ClientOffset: d.c.off, ServerOffset: d.s.off, ClientStopped: d.c.done, ServerStopped: d.s.done}, nil
}

// Resume returns a Decoder that continues a session from a Checkpoint: the
// next byte fed in each direction is the one at the checkpoint's offset.
func Resume(opts DecoderOptions, cp Checkpoint) *Decoder {
	d := NewDecoder(opts)
	d.ses = cp.Session
	d.ses = d.Session() // own copies of its slices and pointers
	d.pf, d.extMouse, d.buttons = cp.PixelFormat, cp.ExtendedMouse, cp.Buttons
	d.minor = 8
	d.c.state, d.s.state = cMessages, sMessages
	d.c.off, d.s.off = cp.ClientOffset, cp.ServerOffset
	d.c.done, d.s.done = cp.ClientStopped, cp.ServerStopped
	return d
}

// InRect returns the rectangle the server stream is inside, if it is: for
// a KindStop event, the rectangle whose data could not be sized.
func (d *Decoder) InRect() (Rect, bool) {
	if d.s.state != sUpdate || !d.upd.inRect {
		return Rect{}, false
	}
	return d.rect.Rect, true
}
