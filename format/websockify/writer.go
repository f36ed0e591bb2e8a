package websockify

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Sizes of the Writer's buffer: payloads are escaped a chunk at a time, so
// the buffer never outgrows flushAt plus four bytes a byte of one chunk.
const (
	escapeChunk = 8 << 10
	flushAt     = 32 << 10
)

// Writer writes a recording in the format of websockify 0.10.0 and later,
// byte for byte as websockify writes it, which noVNC's playback page reads.
// It writes the header with the first frame (or at Close), each frame as one
// line, and the 'EOF']; trailer at Close.
//
// A binary recording has no encoding line, so a reader that guesses as noVNC
// does takes a recording whose first payload starts with "UkZC" to be base64;
// RFB recordings, which start with the server's "RFB ", never do.
//
// A Writer is not safe for concurrent use. Close must be called to finish
// the recording; it does not close the underlying writer.
type Writer struct {
	w       io.Writer
	buf     []byte
	started bool  // the header has been written
	closed  bool  // Close has been called
	err     error // sticky write error, or the result of Close
}

// NewWriter returns a Writer that writes a recording to w. Each frame
// reaches w before Write returns, in one or more w.Write calls (more only
// for payloads over a few KiB); wrap w in a bufio.Writer to batch them.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write writes f as one line. f.Time is written in whole milliseconds,
// rounded toward zero. Write returns ErrClosed after Close; once a write to
// the underlying writer has failed, it returns that error, wrapped, again.
func (w *Writer) Write(f Frame) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	b := w.lineBuf()
	dir := byte('{')
	if f.FromClient {
		dir = '}'
	}
	b = append(b, '\'', dir)
	b = strconv.AppendInt(b, int64(f.Time/time.Millisecond), 10)
	b = append(b, dir)
	for data := f.Data; len(data) > 0; {
		n := min(len(data), escapeChunk)
		b = appendEscaped(b, data[:n])
		data = data[n:]
		if len(b) >= flushAt {
			if err := w.flush(b); err != nil {
				return err
			}
			b = w.buf[:0]
		}
	}
	b = append(b, "',\n"...)
	return w.flush(b)
}

// Close writes the header if no frame was written, then the trailer
// 'EOF'];\n. It returns the error of that write, or of an earlier failed
// Write; later calls return the same.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	return w.flush(append(w.lineBuf(), "'EOF'];\n"...))
}

// lineBuf returns w's buffer emptied, or holding the header if that is not
// yet written.
func (w *Writer) lineBuf() []byte {
	if w.buf == nil {
		w.buf = make([]byte, 0, flushAt+4*escapeChunk+64)
	}
	b := w.buf[:0]
	if !w.started {
		w.started = true
		b = append(b, dataHeader+"\n"...)
	}
	return b
}

func (w *Writer) flush(b []byte) error {
	w.buf = b[:0]
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("websockify: write: %w", err)
		return w.err
	}
	return nil
}
