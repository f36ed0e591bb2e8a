package recfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// Format is the file format of a recording.
type Format int

// Formats.
const (
	Unknown    Format = iota
	WSRec             // wsproxy's format (package format)
	Websockify        // websockify's --record text file (package format/websockify)
)

// String returns "unknown", "wsrec" or "websockify".
func (f Format) String() string {
	switch f {
	case Unknown:
		return "unknown"
	case WSRec:
		return "wsrec"
	case Websockify:
		return "websockify"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// PrefixSize is the number of leading bytes Detect needs to be sure.
const PrefixSize = 32

// wsrecMagic starts every wsrec file: a zstd skippable frame (magic
// 0x184D2A57, little-endian) whose payload starts with the tag WRHD
// (format/SPEC.md, "File structure" and "Header frame").
var wsrecMagic = []byte{0x57, 0x2A, 0x4D, 0x18}

const wsrecTag = "WRHD"

// Detect returns the format of a file that starts with prefix, or Unknown.
// Give it the first PrefixSize bytes of the file, or the whole file if it is
// shorter.
func Detect(prefix []byte) Format {
	switch {
	case len(prefix) >= 12 && bytes.HasPrefix(prefix, wsrecMagic) && string(prefix[8:12]) == wsrecTag:
		return WSRec
	case websockify.Detect(prefix):
		return Websockify
	}
	return Unknown
}

// Options configure how a File reads. The zero value means the defaults.
type Options struct {
	// Format limits what a wsrec Reader allocates; zero means its defaults.
	Format format.ReaderOptions
	// Websockify configures the websockify Reader; zero means its defaults
	// (which guess the payload encoding as noVNC does).
	Websockify websockify.ReaderOptions
}

// File is an open recording of either format.
//
// A File is not safe for concurrent use. Close must be called to release
// it; it is idempotent.
type File struct {
	format Format
	size   int64
	closer io.Closer // the *os.File of Open
	wsrec  *format.Reader
	ws     *wsReader
	closed bool
}

// Open opens the named file. It returns an error matching ErrUnknownFormat
// for a file that is neither format, the errors of format.NewReader for a
// wsrec file whose header cannot be read (format.ErrTruncated, a
// *format.CorruptError, format.ErrVersion), or the error of opening or
// reading the file. Errors are prefixed with name.
func Open(name string, opts Options) (*File, error) {
	osf, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := osf.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s: is a directory", name)
	}
	if err != nil {
		osf.Close()
		return nil, err
	}
	f, err := New(osf, fi.Size(), opts)
	if err != nil {
		osf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.closer = osf
	return f, nil
}

// New reads the recording in the size bytes of ra, detecting its format
// from the first bytes. It returns the errors of Open, without a name.
func New(ra io.ReaderAt, size int64, opts Options) (*File, error) {
	prefix := make([]byte, min(size, PrefixSize))
	if _, err := ra.ReadAt(prefix, 0); err != nil && !(err == io.EOF && int64(len(prefix)) == size) {
		return nil, fmt.Errorf("recfile: read: %w", err)
	}
	f := &File{size: size, format: Detect(prefix)}
	if f.format == Unknown && len(prefix) > 0 && len(prefix) < 12 && bytes.HasPrefix(wsrecMagic, prefix[:min(len(prefix), 4)]) {
		f.format = WSRec // a wsrec file cut inside its header: let format say so
	}
	switch f.format {
	case WSRec:
		r, err := format.NewReader(ra, size, opts.Format)
		if err != nil {
			return nil, err
		}
		f.wsrec = r
	case Websockify:
		f.ws = newWSReader(ra, size, opts.Websockify)
	default:
		return nil, ErrUnknownFormat
	}
	return f, nil
}

// Format returns the file's format.
func (f *File) Format() Format { return f.format }

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return f.size }

// Header returns the recording's header. A websockify recording has none:
// its Header is the zero Header (no session ID, an unknown start, no
// metadata).
func (f *File) Header() format.Header {
	if f.wsrec != nil {
		return f.wsrec.Header()
	}
	return format.Header{}
}

// Reader returns the wsrec Reader of a wsrec file, for its Summary, Sealed
// and Verify, or nil for a websockify file. Reading records through it
// moves the File's position too.
func (f *File) Reader() *format.Reader { return f.wsrec }

// Clamped returns how many websockify frames read so far had a time before
// the previous record's, and were read at that time after a marker record
// (see the package documentation). It is always zero for wsrec.
func (f *File) Clamped() int {
	if f.ws == nil {
		return 0
	}
	return f.ws.clamped
}

// Next returns the next record. The record's Payload is valid until the
// next call on the File.
//
// After the last record Next returns io.EOF if the recording is complete (a
// sealed wsrec file, a websockify file with its trailer) and an
// *IncompleteError if it ends early. Damaged data gives the underlying
// reader's error after every record before it: a *format.CorruptError
// (with the file offset), a *websockify.SyntaxError (with the line) or an
// error matching websockify.ErrLineTooLong. Once Next has returned an error
// it returns it again. It returns ErrClosed after Close.
func (f *File) Next() (format.Record, error) {
	if f.closed {
		return format.Record{}, ErrClosed
	}
	if f.ws != nil {
		return f.ws.next()
	}
	rec, err := f.wsrec.Next()
	if err == io.EOF && !f.wsrec.Sealed() {
		s, serr := f.wsrec.Summary()
		if serr != nil {
			return format.Record{}, serr
		}
		return format.Record{}, &IncompleteError{Format: WSRec, Offset: s.Size - s.Unreadable, Lost: s.Unreadable}
	}
	return rec, err
}

// Seek positions the File so that Next returns the first record at or
// after time t. For a wsrec file it decompresses at most one chunk (see
// format.Reader.Seek); a websockify file has no index, so it is read again
// from the start up to t. Seeking past the last record makes Next return
// what it returns at the end. Seek returns the errors of reading the
// records before t that Next would return, but for the end of the data.
func (f *File) Seek(t time.Duration) error {
	if f.closed {
		return ErrClosed
	}
	if f.ws != nil {
		return f.ws.seek(t)
	}
	return f.wsrec.Seek(t)
}

// Close releases the File and, for one from Open, closes the file. It is
// idempotent.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.wsrec != nil {
		err = f.wsrec.Close()
	}
	if f.closer != nil {
		err = errors.Join(err, f.closer.Close())
	}
	return err
}
