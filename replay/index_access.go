package replay

import (
	"errors"
	"fmt"

	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// ErrNoIndex is returned by SeekIndex and SeekIndexOf for a recording
// that has no seek index: one that is not a wsrec file (a legacy
// websockify recording).
var ErrNoIndex = errors.New("replay: recording has no seek index")

// ErrNotOpened is returned by SeekIndexOf for a StoreFile that is not
// one that the same Server's Open returned.
var ErrNotOpened = errors.New("replay: file not opened by this Server's Open")

// SeekIndex returns the seek index of the recording called name, the one
// render-mode replays seek with: its sidecar (REC.wsidx) when valid,
// else one built on this first use and cached for the file's version
// (shared with the replays, so a replay that started first has it
// ready). The Index must be used with a Reader of the same version of
// the recording: a reader that opens the recording as well should call
// Open, then SeekIndexOf, which reads the index of the file it has
// instead of opening the recording a second time. SeekIndex is safe for
// concurrent use; it returns an error matching ErrNotFound for an
// unknown name, ErrNoIndex for a recording without one, and the errors
// of reading the recording.
func (s *Server) SeekIndex(name string) (*screen.Index, error) {
	f, osf, err := s.Open(name)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	defer f.Close()
	return s.SeekIndexOf(osf)
}

// SeekIndexOf returns the seek index of the recording open as f, a
// StoreFile that s.Open returned and that is not closed yet, as
// SeekIndex does for a name but without opening the recording again:
// the index is of the version of the recording that f and the File
// opened with it read. It is safe for concurrent use; it returns an
// error matching ErrNotOpened for another StoreFile, ErrNoIndex for a
// recording without an index, and the errors of reading f.
func (s *Server) SeekIndexOf(f StoreFile) (*screen.Index, error) {
	o, ok := f.(*opened)
	if !ok || o.srv != s {
		return nil, ErrNotOpened
	}
	if !o.wsrec {
		return nil, fmt.Errorf("%s: %w", o.e.name, ErrNoIndex)
	}
	x, err := s.idx.get(o.e, o.StoreFile)
	if err != nil {
		return nil, fmt.Errorf("%s: seek index: %w", o.e.name, err)
	}
	return x, nil
}
