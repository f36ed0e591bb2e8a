package format

import (
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrNotRecording means the data does not start with a recording header.
	ErrNotRecording = errors.New("format: not a wsrec recording")
	// ErrVersion means the recording was written by a newer format version
	// or uses flags this package does not know.
	ErrVersion = errors.New("format: unsupported recording version")
	// ErrTruncated means the data ends inside the header, so nothing of the
	// recording can be read. It wraps io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("format: recording truncated in its header: %w", io.ErrUnexpectedEOF)
	// ErrTooLarge means a length is over a configured limit.
	ErrTooLarge = errors.New("format: size over the limit")
	// ErrInvalid means a caller passed a record or header the format cannot
	// hold.
	ErrInvalid = errors.New("format: invalid record")
	// ErrClosed means the Writer or Reader was used after Close.
	ErrClosed = errors.New("format: use after close")
)

// CorruptError reports damage found at a byte offset of a recording.
type CorruptError struct {
	Offset int64 // file offset of the damaged frame
	Chunk  int   // chunk number, or -1 for the header and trailer
	Err    error
}

func (e *CorruptError) Error() string {
	if e.Chunk >= 0 {
		return fmt.Sprintf("format: corrupt recording: chunk %d at offset %d: %v", e.Chunk, e.Offset, e.Err)
	}
	return fmt.Sprintf("format: corrupt recording at offset %d: %v", e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Errors of encrypted recordings. Match them with errors.Is.
var (
	// ErrNoIdentity means the recording is encrypted and the Reader was
	// given no identity: its records, and the metadata kept secret, cannot
	// be read. Its summary and its verification can.
	ErrNoIdentity = errors.New("format: the recording is encrypted: an identity is needed to read it")
	// ErrWrongIdentity means none of the identities given opens the
	// recording's data key. It wraps age's *age.NoIdentityMatchError.
	ErrWrongIdentity = errors.New("format: the recording is encrypted to other recipients than the identities given")
)
