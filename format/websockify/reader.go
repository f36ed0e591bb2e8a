package websockify

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// DefaultMaxLineSize is the line length limit of a Reader whose
// ReaderOptions.MaxLineSize is zero: room for a 64 MiB payload escaped at
// four bytes a byte. websockify 0.10.0 reads at most 64 KiB from the target
// per message, but a client's message has no such bound.
const DefaultMaxLineSize = 256 << 20

// ReaderOptions configures a Reader. The zero value gives the defaults.
type ReaderOptions struct {
	// MaxLineSize is the longest line, in bytes without its line ending,
	// that the Reader accepts; it bounds the Reader's memory, which is about
	// twice this plus the payload handed out. Zero means DefaultMaxLineSize.
	MaxLineSize int

	// Encoding, unless EncodingAuto (the zero value), overrides the file's
	// VNC_frame_encoding line and the Reader's guess.
	Encoding Encoding
}

// Reader reads frames from a websockify recording one line at a time. It is
// not safe for concurrent use.
type Reader struct {
	br       *bufio.Reader
	maxLine  int
	encoding Encoding // EncodingAuto until the header or first frame settles it
	line     int      // number of the last line read
	buf      []byte   // the current line
	started  bool     // the header has been read
	err      error    // sticky: io.EOF after the trailer, or the first error
}

// NewReader returns a Reader that reads the recording from r. It reads r
// through its own buffer, so it may read past the trailer.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	maxLine := opts.MaxLineSize
	if maxLine <= 0 {
		maxLine = DefaultMaxLineSize
	}
	return &Reader{
		br:       bufio.NewReaderSize(r, 64<<10),
		maxLine:  maxLine,
		encoding: opts.Encoding,
	}
}

// Encoding returns the payload encoding in use: the one from ReaderOptions
// or the file's header, else, once Next has returned the first frame, the
// one guessed from it. Before that it may be EncodingAuto.
func (r *Reader) Encoding() Encoding {
	return r.encoding
}

// Next returns the next frame. Frame.Data is newly allocated and belongs to
// the caller.
//
// At the 'EOF'] trailer Next returns io.EOF, without reading what follows
// it. If the input ends without the trailer, Next returns every complete
// frame and then an error matching ErrTruncated (and io.ErrUnexpectedEOF). A
// malformed line gives a *SyntaxError and a line longer than
// ReaderOptions.MaxLineSize an error matching ErrLineTooLong; read errors
// from the underlying reader are returned wrapped. Once Next has returned an
// error it returns the same error again.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	f, err := r.next()
	if err != nil {
		r.err = err
	}
	return f, err
}

func (r *Reader) next() (Frame, error) {
	if !r.started {
		if err := r.readHeader(); err != nil {
			return Frame{}, err
		}
		r.started = true
	}
	for {
		line, complete, err := r.readLine()
		if err != nil {
			return Frame{}, err
		}
		if len(line) == 0 {
			if !complete {
				return Frame{}, r.truncated()
			}
			continue // blank line
		}
		if isTrailer(line) {
			return Frame{}, io.EOF
		}
		f, err := r.parseFrame(line)
		if err != nil && !complete && (line[0] == '\'' || line[0] == '"') {
			// The last line is a string cut short, perhaps in an escape.
			return Frame{}, r.truncated()
		}
		return f, err
	}
}

// readHeader reads the optional VNC_frame_encoding line and the
// VNC_frame_data line.
func (r *Reader) readHeader() error {
	line, complete, err := r.readLine()
	if err != nil {
		return err
	}
	if bytes.HasPrefix(line, []byte(encodingPrefix)) {
		var enc Encoding
		switch string(line) {
		case encodingPrefix + "binary';":
			enc = EncodingBinary
		case encodingPrefix + "base64';":
			enc = EncodingBase64
		default:
			if !complete {
				return r.truncated()
			}
			return r.syntaxError("unknown VNC_frame_encoding")
		}
		if r.encoding == EncodingAuto {
			r.encoding = enc
		}
		if !complete {
			return r.truncated()
		}
		if line, complete, err = r.readLine(); err != nil {
			return err
		}
	}
	switch {
	case string(line) == dataHeader && complete:
		return nil
	case !complete && (bytes.HasPrefix([]byte(dataHeader), line) || bytes.HasPrefix([]byte(encodingPrefix), line)):
		return r.truncated()
	}
	return r.syntaxError("not a websockify recording: want " + dataHeader)
}

// isTrailer reports whether line is 'EOF']; or, as websockify before 0.3.0
// wrote it, 'EOF'].
func isTrailer(line []byte) bool {
	return string(line) == "'EOF'];" || string(line) == "'EOF']"
}

// maxMillis is the largest time in milliseconds that fits a time.Duration.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

// parseFrame parses one array element, 'DmsDdata', (D is { or }), decoding
// the payload in place in line.
func (r *Reader) parseFrame(line []byte) (Frame, error) {
	if len(line) < 2 || (line[0] != '\'' && line[0] != '"') {
		return Frame{}, r.syntaxError("want a quoted string")
	}
	quote := line[0]
	if !bytes.HasSuffix(line, []byte{quote, ','}) || len(line) < 3 {
		return Frame{}, r.syntaxError("want " + string(quote) + ", at the end of the line")
	}
	s := line[1 : len(line)-2]

	if len(s) == 0 || (s[0] != '{' && s[0] != '}') {
		return Frame{}, r.syntaxError("want { or } at the start of the string")
	}
	dir := s[0]
	i := 1
	neg := i < len(s) && s[i] == '-'
	if neg {
		i++
	}
	start := i
	var ms int64
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		ms = ms*10 + int64(s[i]-'0')
		if ms > maxMillis {
			return Frame{}, r.syntaxError("time out of range")
		}
	}
	if i == start {
		return Frame{}, r.syntaxError("want a time in milliseconds")
	}
	if i == len(s) || s[i] != dir {
		return Frame{}, r.syntaxError("want " + string(dir) + " after the time")
	}
	if neg {
		ms = -ms
	}

	data, err := unescape(s[i+1:], quote)
	if err != nil {
		return Frame{}, r.syntaxError(err.Error())
	}
	if r.encoding == EncodingAuto {
		// noVNC's guess (tests/playback-ui.js): base64 of "RFB".
		r.encoding = EncodingBinary
		if bytes.HasPrefix(data, []byte("UkZC")) {
			r.encoding = EncodingBase64
		}
	}
	var payload []byte
	if r.encoding == EncodingBase64 {
		payload = make([]byte, base64.StdEncoding.DecodedLen(len(data)))
		n, err := base64.StdEncoding.Decode(payload, data)
		if err != nil {
			return Frame{}, r.syntaxError("base64 payload: " + err.Error())
		}
		payload = payload[:n]
	} else {
		payload = make([]byte, len(data))
		copy(payload, data)
	}
	return Frame{
		FromClient: dir == '}',
		Time:       time.Duration(ms) * time.Millisecond,
		Data:       payload,
	}, nil
}

// readLine reads the next line into r.buf and returns it without its line
// ending and surrounding spaces and tabs. complete is false for a last line
// with no '\n'. An input that ends before the line starts gives
// ErrTruncated.
func (r *Reader) readLine() (line []byte, complete bool, err error) {
	r.line++
	r.buf = r.buf[:0]
	for {
		chunk, rerr := r.br.ReadSlice('\n')
		n := len(chunk)
		if rerr == nil {
			n-- // the '\n' does not count
		}
		if len(r.buf)+n > r.maxLine {
			return nil, false, fmt.Errorf("%w (line %d, limit %d bytes)", ErrLineTooLong, r.line, r.maxLine)
		}
		r.buf = append(r.buf, chunk...)
		switch {
		case rerr == nil:
			return bytes.Trim(r.buf[:len(r.buf)-1], " \t\r"), true, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF) && len(r.buf) == 0:
			r.line--
			return nil, false, r.truncated()
		case errors.Is(rerr, io.EOF):
			return bytes.Trim(r.buf, " \t\r"), false, nil
		default:
			return nil, false, fmt.Errorf("websockify: line %d: %w", r.line, rerr)
		}
	}
}

func (r *Reader) truncated() error {
	return fmt.Errorf("%w (after line %d)", ErrTruncated, r.line)
}

func (r *Reader) syntaxError(msg string) error {
	return &SyntaxError{Line: r.line, Msg: msg}
}
