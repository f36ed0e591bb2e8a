package screen

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"slices"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// state is the JSON part of a keyframe (format/SPEC.md, "Seek index"):
// everything but the framebuffer, cursor, colour map and zlib histories,
// which follow it as raw bytes in that order.
type state struct {
	Checkpoint rfb.Checkpoint `json:"checkpoint"`
	Time       time.Duration  `json:"time"`
	Records    int64          `json:"records"`
	Updates    int64          `json:"updates"`
	Name       string         `json:"name"`
	// Framebuffer says there is one (after the ServerInit): Width ×
	// Height RGBA pixels.
	Framebuffer bool        `json:"framebuffer,omitempty"`
	Width       int         `json:"width"`
	Height      int         `json:"height"`
	Pointer     image.Point `json:"pointer"`
	Pointed     bool        `json:"pointed,omitempty"`
	// Cursor is absent when the server sent none; its pixels are
	// CursorWidth × CursorHeight RGBA.
	Cursor       bool        `json:"cursor,omitempty"`
	CursorWidth  int         `json:"cursorWidth,omitempty"`
	CursorHeight int         `json:"cursorHeight,omitempty"`
	Hotspot      image.Point `json:"hotspot"`
	ColourMap    bool        `json:"colourMap,omitempty"`
	// Streams are the zlib streams: Zlib, ZRLE, Tight 0 to 3.
	Streams [6]streamState `json:"streams"`
}

type streamState struct {
	Started bool `json:"started,omitempty"`
	History int  `json:"history,omitempty"` // bytes of history that follow
}

func (s *Screen) streams() [6]*zstream {
	return [6]*zstream{&s.zlib, &s.zrle, &s.tight[0], &s.tight[1], &s.tight[2], &s.tight[3]}
}

// marshal encodes the Screen's state for a keyframe, appended to dst[:0]
// (which it grows once, to the size needed), or returns
// rfb.ErrNotResumable if the rfb.Decoder is inside a message.
func (s *Screen) marshal(dst []byte) ([]byte, error) {
	cp, err := s.dec.Checkpoint()
	if err != nil {
		return nil, err
	}
	st := state{Checkpoint: cp, Time: s.t, Records: s.records, Updates: s.updates, Name: s.name,
		Pointer: s.pointer, Pointed: s.pointed, Hotspot: s.cursor.hot, ColourMap: s.cmap != nil}
	if s.fb != nil {
		st.Framebuffer, st.Width, st.Height = true, s.fb.Rect.Dx(), s.fb.Rect.Dy()
	}
	if c := s.cursor.img; c != nil {
		st.Cursor, st.CursorWidth, st.CursorHeight = true, c.Rect.Dx(), c.Rect.Dy()
	}
	for i, z := range s.streams() {
		st.Streams[i] = streamState{Started: z.started, History: len(z.hist)}
	}
	js, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	n := 4 + len(js)
	if s.fb != nil {
		n += len(s.fb.Pix)
	}
	if s.cursor.img != nil {
		n += len(s.cursor.img.Pix)
	}
	if s.cmap != nil {
		n += 4 * colourMapSize
	}
	for _, z := range s.streams() {
		n += len(z.hist)
	}
	b := binary.LittleEndian.AppendUint32(slices.Grow(dst[:0], n), uint32(len(js)))
	b = append(b, js...)
	if s.fb != nil {
		b = append(b, s.fb.Pix...)
	}
	if s.cursor.img != nil {
		b = append(b, s.cursor.img.Pix...)
	}
	if s.cmap != nil {
		for _, c := range s.cmap {
			b = binary.LittleEndian.AppendUint32(b, uint32(c))
		}
	}
	for _, z := range s.streams() {
		b = append(b, z.hist...)
	}
	return b, nil
}

// unmarshal returns the Screen a keyframe describes.
func unmarshal(b []byte, opts Options) (*Screen, error) {
	bad := func(what string) error { return fmt.Errorf("%w: keyframe %s", ErrIndexCorrupt, what) }
	if len(b) < 4 || int64(binary.LittleEndian.Uint32(b)) > int64(len(b)-4) {
		return nil, bad("state cut off")
	}
	n := binary.LittleEndian.Uint32(b)
	var st state
	if err := json.Unmarshal(b[4:4+n], &st); err != nil {
		return nil, bad("state: " + err.Error())
	}
	b = b[4+n:]
	take := func(n int) ([]byte, bool) {
		if n < 0 || n > len(b) {
			return nil, false
		}
		p := b[:n]
		b = b[n:]
		return p, true
	}
	s := New(opts)
	s.dec = rfb.Resume(s.decoderOptions(), st.Checkpoint)
	s.t, s.records, s.updates, s.name = st.Time, st.Records, st.Updates, st.Name
	s.pointer, s.pointed = st.Pointer, st.Pointed
	if st.Width < 0 || st.Height < 0 || st.Width*st.Height > opts.MaxPixels {
		return nil, bad("framebuffer size")
	}
	if st.Framebuffer {
		p, ok := take(4 * st.Width * st.Height)
		if !ok {
			return nil, bad("framebuffer cut off")
		}
		s.fb = image.NewRGBA(image.Rect(0, 0, st.Width, st.Height))
		copy(s.fb.Pix, p)
	}
	if st.Cursor {
		if st.CursorWidth < 0 || st.CursorHeight < 0 || st.CursorWidth > maxCursorSide || st.CursorHeight > maxCursorSide {
			return nil, bad("cursor size")
		}
		p, ok := take(4 * st.CursorWidth * st.CursorHeight)
		if !ok {
			return nil, bad("cursor cut off")
		}
		s.cursor = cursor{img: image.NewRGBA(image.Rect(0, 0, st.CursorWidth, st.CursorHeight)), hot: st.Hotspot}
		copy(s.cursor.img.Pix, p)
	}
	if st.ColourMap {
		p, ok := take(4 * colourMapSize)
		if !ok {
			return nil, bad("colour map cut off")
		}
		s.cmap = new([colourMapSize]rgba)
		for i := range s.cmap {
			s.cmap[i] = rgba(binary.LittleEndian.Uint32(p[4*i:]))
		}
	}
	for i, z := range s.streams() {
		zs := st.Streams[i]
		if zs.History > historySize {
			return nil, bad("zlib history")
		}
		p, ok := take(zs.History)
		if !ok {
			return nil, bad("zlib history cut off")
		}
		z.started = zs.Started
		if len(p) > 0 {
			z.remember(p)
		}
	}
	if len(b) != 0 {
		return nil, bad("has trailing bytes")
	}
	if s.fb != nil {
		s.dirty.r = s.fb.Rect
	}
	s.dirty.cursor = true
	return s, nil
}
