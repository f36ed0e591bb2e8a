package screen

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb"
)

// Errors a DecodeError wraps, for errors.Is.
var (
	// ErrUnsupported: an encoding the Screen cannot decode (Open H.264,
	// TRLE, ZlibHex, ...).
	ErrUnsupported = errors.New("screen: unsupported encoding")
	// ErrCorrupt: data that does not decode (bad zlib, a palette index out
	// of range, a subrectangle outside its rectangle, data of the wrong
	// length, ...).
	ErrCorrupt = errors.New("screen: data does not decode")
	// ErrOutside: a rectangle, or a CopyRect source, outside the
	// framebuffer.
	ErrOutside = errors.New("screen: rectangle outside the framebuffer")
	// ErrTooLarge: a framebuffer over Options.MaxPixels, a cursor over
	// MaxCursor, or rectangle data over Options.MaxRectData.
	ErrTooLarge = errors.New("screen: too large")
	// ErrPixelFormat: a pixel format the Screen cannot decode.
	ErrPixelFormat = errors.New("screen: unsupported pixel format")
	// ErrStopped: the rfb.Decoder stopped following the session (an
	// unknown message or encoding, a gap in the recording, encryption).
	ErrStopped = errors.New("screen: session decoding stopped")
	// ErrNoFramebuffer: pixel data before the ServerInit.
	ErrNoFramebuffer = errors.New("screen: no framebuffer yet")
)

// DecodeError is the error that stops a Screen: where in the recording,
// and in which rectangle, decoding failed. It wraps one of the Err*
// sentinels above, or an error of image/jpeg or image/png.
type DecodeError struct {
	// Time is the session time of the record being fed.
	Time time.Duration
	// Record numbers the records fed to the Screen from 0 (for a Screen
	// from SeekTo, in the whole recording).
	Record int64
	// Offset is the position in the server's byte stream of the
	// rectangle's header, or of the message, that failed.
	Offset int64
	// Encoding is the rectangle's encoding; HasRect says there is one.
	Encoding rfb.Encoding
	Rect     rfb.Rect
	HasRect  bool
	Err      error
}

func (e *DecodeError) Error() string {
	where := fmt.Sprintf("screen: record %d at %.3fs", e.Record, e.Time.Seconds())
	if e.HasRect {
		where += fmt.Sprintf(": %s rectangle %d,%d %dx%d at server offset %d", e.Encoding, e.Rect.X, e.Rect.Y,
			e.Rect.Width, e.Rect.Height, e.Offset)
	}
	return where + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// corrupt returns an ErrCorrupt error with a description.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
