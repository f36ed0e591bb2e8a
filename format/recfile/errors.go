package recfile

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrUnknownFormat means the data starts like neither a wsrec nor a
	// websockify recording.
	ErrUnknownFormat = errors.New("recfile: not a recording (neither wsrec nor websockify)")
	// ErrIncomplete is matched by every *IncompleteError.
	ErrIncomplete = errors.New("recfile: recording ends early")
	// ErrClosed means the File was used after Close.
	ErrClosed = errors.New("recfile: use after close")
)

// IncompleteError is what File.Next returns after the last readable record
// of a recording that ends early: an unsealed wsrec file (its writer was
// killed, or the file was cut) or a websockify file without its 'EOF']
// trailer. Every record before it was returned. It matches ErrIncomplete
// and, when set, Err.
type IncompleteError struct {
	Format Format
	// Offset is the file offset where the readable data ends: the end of
	// the last complete chunk (wsrec) or line (websockify).
	Offset int64
	// Lost counts the bytes after Offset that are not a complete chunk or
	// frame: zero when the recording stops cleanly at Offset, as one does
	// whose writer was killed between two chunks.
	Lost int64
	// Err is the underlying reader's error, if it gave one (for websockify,
	// an error matching websockify.ErrTruncated); nil for wsrec.
	Err error
}

func (e *IncompleteError) Error() string {
	switch {
	case e.Format == WSRec && e.Lost == 0:
		return fmt.Sprintf("recfile: unsealed recording: no trailer after the last complete chunk, which ends at offset %d", e.Offset)
	case e.Format == WSRec:
		return fmt.Sprintf("recfile: unsealed recording: the %d bytes at offset %d are not a complete chunk", e.Lost, e.Offset)
	case e.Lost == 0:
		return fmt.Sprintf("recfile: websockify recording without its 'EOF'] trailer: it ends at offset %d", e.Offset)
	}
	return fmt.Sprintf("recfile: websockify recording cut off: the %d bytes at offset %d are not a complete frame", e.Lost, e.Offset)
}

// Unwrap returns ErrIncomplete and Err.
func (e *IncompleteError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrIncomplete}
	}
	return []error{ErrIncomplete, e.Err}
}
