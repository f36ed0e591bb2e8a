package websockify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Frame is one WebSocket message of a recording.
type Frame struct {
	// FromClient is true for a message from the WebSocket client to the
	// target (a '}' line) and false for one from the target to the client
	// (a '{' line).
	FromClient bool

	// Time is when websockify read the message, from the start of the
	// session, in whole milliseconds. It may decrease from one frame to the
	// next, or be negative, if the recorder's clock was stepped.
	Time time.Duration

	// Data is the payload, decoded from base64 in base64 recordings.
	Data []byte
}

// Encoding is how a recording stores payloads.
type Encoding int

const (
	// EncodingAuto, in ReaderOptions, has the Reader decide: it follows the
	// file's VNC_frame_encoding line if there is one, else it takes base64
	// if the first payload starts with "UkZC" (base64 of "RFB"), else binary.
	EncodingAuto Encoding = iota
	// EncodingBinary stores each payload byte as a character, escaped where
	// needed.
	EncodingBinary
	// EncodingBase64 stores each payload as base64 text, as websockify
	// before 0.10.0 did when the client spoke base64.
	EncodingBase64
)

// String returns "auto", "binary" or "base64".
func (e Encoding) String() string {
	switch e {
	case EncodingAuto:
		return "auto"
	case EncodingBinary:
		return "binary"
	case EncodingBase64:
		return "base64"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

var (
	// ErrTruncated is returned by Reader.Next, after every complete frame,
	// when the input ends without the 'EOF'] trailer, as it does when
	// websockify was killed. It wraps io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("websockify: truncated recording: %w", io.ErrUnexpectedEOF)

	// ErrLineTooLong is returned by Reader.Next for a line longer than
	// ReaderOptions.MaxLineSize.
	ErrLineTooLong = errors.New("websockify: line too long")

	// ErrClosed is returned by Writer.Write after Close.
	ErrClosed = errors.New("websockify: writer closed")
)

// SyntaxError reports a line that is not part of a websockify recording.
type SyntaxError struct {
	Line int    // 1-based line number
	Msg  string // what is wrong with it
}

func (e *SyntaxError) Error() string {
	return "websockify: line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// The lines that open a recording; see the package documentation.
const (
	dataHeader     = "var VNC_frame_data = ["
	encodingPrefix = "var VNC_frame_encoding = '"
)

// Detect reports whether prefix, the first bytes of a file, starts a
// websockify recording. Give it the first 26 bytes of the file or more; a
// shorter prefix may give false.
func Detect(prefix []byte) bool {
	return bytes.HasPrefix(prefix, []byte(dataHeader)) ||
		bytes.HasPrefix(prefix, []byte(encodingPrefix))
}
