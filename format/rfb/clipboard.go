package rfb

import (
	"bytes"
	"compress/zlib"
	"io"
	"strings"
	"unicode/utf8"
)

// Extended clipboard flags (rfbproto.rst, "Extended Clipboard
// Pseudo-Encoding").
const (
	clipText    = 1 << 0
	clipCaps    = 1 << 24
	clipRequest = 1 << 25
	clipPeek    = 1 << 26
	clipNotify  = 1 << 27
	clipProvide = 1 << 28
)

var (
	clipFormats = []string{"text", "rtf", "html", "dib", "files"}
	clipActions = []string{"caps", "request", "peek", "notify", "provide"}
)

// cutText reads a ClientCutText or ServerCutText message (RFC 6143 §7.5.6,
// §7.6.4): type, 3 bytes padding, a length and the text. A negative length
// marks the extended clipboard format.
func (d *Decoder) cutText(s *stream, kind Kind) bool {
	h := s.peek(8)
	if h == nil {
		return false
	}
	n := int32(be.Uint32(h[4:]))
	s.consume(8)
	if n >= 0 {
		s.collectThen(int64(n), d.opts.MaxText, func(b []byte, truncated bool) {
			d.emit(s, Event{Kind: kind, Text: latin1(b), Truncated: truncated})
		})
		return true
	}
	s.collectThen(-int64(n), d.opts.MaxText, func(b []byte, truncated bool) {
		d.emit(s, d.extendedClipboard(kind, b, truncated))
	})
	return true
}

// extendedClipboard decodes the payload of an extended clipboard message:
// flags, then for caps the maximum sizes, for provide a zlib stream of
// (size, data) pairs, one per format, in format bit order. Only the text
// format's data is kept (UTF-8, CRLF line ends, NUL-terminated on the
// wire); truncated says the payload was cut at MaxText.
func (d *Decoder) extendedClipboard(kind Kind, b []byte, truncated bool) Event {
	e := Event{Kind: kind, Extended: true, Truncated: truncated}
	if len(b) < 4 {
		return e
	}
	flags := be.Uint32(b)
	e.Flags = flags
	for i, name := range clipFormats {
		if flags&(1<<i) != 0 {
			e.Formats = append(e.Formats, name)
		}
	}
	for i, name := range clipActions {
		if flags&(1<<(24+i)) != 0 {
			e.Actions = append(e.Actions, name)
		}
	}
	if flags&clipCaps == 0 && flags&clipProvide != 0 && flags&clipText != 0 {
		text, cut := inflateText(b[4:], d.opts.MaxText)
		e.Text = text
		e.Truncated = e.Truncated || cut
	}
	return e
}

// inflateText returns the text format's data from an extended clipboard
// provide stream, decompressing at most max bytes of it. cut reports that
// the text was longer than max or the stream ended early.
func inflateText(z []byte, max int) (text string, cut bool) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return "", true
	}
	defer zr.Close()
	var size [4]byte
	if _, err := io.ReadFull(zr, size[:]); err != nil {
		return "", true
	}
	n := int64(be.Uint32(size[:]))
	buf := make([]byte, min(n, int64(max)))
	got, err := io.ReadFull(zr, buf)
	buf = buf[:got]
	cut = err != nil || n > int64(max)
	buf = bytes.TrimSuffix(buf, []byte{0})
	if !utf8.Valid(buf) {
		buf = bytes.ToValidUTF8(buf, []byte("\uFFFD"))
	}
	return strings.ReplaceAll(string(buf), "\r\n", "\n"), cut
}
