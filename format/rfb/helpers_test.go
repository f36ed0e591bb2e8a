package rfb

import (
	"bytes"
	"compress/zlib"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
)

// Builders of RFB messages for the tests and the capture client. They
// follow RFC 6143 §7 and rfbproto.rst, independently of the decoder.

var (
	cat = rfbtest.Cat
	u8  = rfbtest.U8
	u16 = rfbtest.U16
	u32 = rfbtest.U32
)

func str32(s string) []byte { return cat(u32(int64(len(s))), []byte(s)) }

func version(v string) []byte { return []byte("RFB " + v + "\n") }

// noVNCFormat is the pixel format noVNC asks for (core/rfb.js,
// RFB.messages.pixelFormat with depth 24).
var noVNCFormat = PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColour: true,
	RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 0, GreenShift: 8, BlueShift: 16}

func pixelFormat(pf PixelFormat) []byte {
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return cat(u8(int(pf.BitsPerPixel), int(pf.Depth), b2i(pf.BigEndian), b2i(pf.TrueColour)),
		u16(int(pf.RedMax), int(pf.GreenMax), int(pf.BlueMax)),
		u8(int(pf.RedShift), int(pf.GreenShift), int(pf.BlueShift), 0, 0, 0))
}

func serverInit(w, h int, pf PixelFormat, name string) []byte {
	return cat(u16(w, h), pixelFormat(pf), str32(name))
}

// Client messages.

func setPixelFormat(pf PixelFormat) []byte { return cat(u8(0, 0, 0, 0), pixelFormat(pf)) }

func setEncodings(encs ...Encoding) []byte {
	b := cat(u8(2, 0), u16(len(encs)))
	for _, e := range encs {
		b = append(b, u32(int64(e))...)
	}
	return b
}

func updateRequest(incremental bool, x, y, w, h int) []byte {
	inc := 0
	if incremental {
		inc = 1
	}
	return cat(u8(3, inc), u16(x, y, w, h))
}

func keyEvent(down bool, k Keysym) []byte {
	d := 0
	if down {
		d = 1
	}
	return cat(u8(4, d, 0, 0), u32(int64(k)))
}

func qemuKeyEvent(down bool, k Keysym, keycode uint32) []byte {
	d := 0
	if down {
		d = 1
	}
	return cat(u8(255, 0), u16(d), u32(int64(k), int64(keycode)))
}

func pointerEvent(mask Buttons, x, y int) []byte { return cat(u8(5, int(mask)), u16(x, y)) }

func cutText(msgType int, latin1Text string) []byte {
	b := cat(u8(msgType, 0, 0, 0), u32(int64(len([]rune(latin1Text)))))
	for _, r := range latin1Text {
		b = append(b, byte(r))
	}
	return b
}

// extendedCutText builds an extended clipboard message (rfbproto.rst,
// "Extended Clipboard Pseudo-Encoding") with flags and payload.
func extendedCutText(msgType int, flags uint32, payload []byte) []byte {
	return cat(u8(msgType, 0, 0, 0), u32(-int64(4+len(payload))), u32(int64(flags)), payload)
}

// clipboardProvide builds the zlib payload of a provide action carrying
// text, as noVNC does (CRLF line ends, a terminating NUL).
func clipboardProvide(text string) []byte {
	text = strings.ReplaceAll(text, "\n", "\r\n") + "\x00"
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(cat(u32(int64(len(text))), []byte(text)))
	zw.Close()
	return z.Bytes()
}

func fenceMsg(flags uint32, payload []byte) []byte {
	return cat(u8(248, 0, 0, 0), u32(int64(flags)), u8(len(payload)), payload)
}

func enableContinuousUpdates(on bool, x, y, w, h int) []byte {
	e := 0
	if on {
		e = 1
	}
	return cat(u8(150, e), u16(x, y, w, h))
}

func setDesktopSize(w, h int, screens ...Screen) []byte {
	b := cat(u8(251, 0), u16(w, h), u8(len(screens), 0))
	for _, s := range screens {
		b = cat(b, u32(int64(s.ID)), u16(s.X, s.Y, s.Width, s.Height), u32(int64(s.Flags)))
	}
	return b
}

// Server messages.

func updateHeader(n int) []byte { return cat(u8(0, 0), u16(n)) }

func rectHeader(x, y, w, h int, e Encoding) []byte { return cat(u16(x, y, w, h), u32(int64(e))) }

// Decoding helpers.

// chunk is one record of a hand-built session.
type chunk struct {
	dir format.Direction
	b   []byte
}

func client(parts ...[]byte) chunk { return chunk{format.ClientToTarget, cat(parts...)} }
func server(parts ...[]byte) chunk { return chunk{format.TargetToClient, cat(parts...)} }

// decode feeds the chunks, one record each at times 1s, 2s, ..., then ends
// the session, and returns all events.
func decode(t testing.TB, chunks ...chunk) []Event {
	t.Helper()
	d := NewDecoder(DecoderOptions{})
	var evs []Event
	for i, c := range chunks {
		evs = append(evs, feed(t, d, c.dir, time.Duration(i+1)*time.Second, c.b)...)
	}
	return append(evs, end(d, time.Duration(len(chunks)+1)*time.Second)...)
}

// feed feeds one record and returns its events.
func feed(t testing.TB, d *Decoder, dir format.Direction, at time.Duration, p []byte) []Event {
	t.Helper()
	var evs []Event
	if err := d.Feed(dir, at, p, func(e Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

// end ends the session and returns the events.
func end(d *Decoder, at time.Duration) []Event {
	var evs []Event
	d.End(at, func(e Event) { evs = append(evs, e) })
	return evs
}

// summaries returns the events' String forms without times.
func summaries(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = side(e.Dir) + " " + e.Summary()
	}
	return out
}

// ofKind returns the events of the given kinds.
func ofKind(evs []Event, kinds ...Kind) []Event {
	var out []Event
	for _, e := range evs {
		if slices.Contains(kinds, e.Kind) {
			out = append(out, e)
		}
	}
	return out
}
