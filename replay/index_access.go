package replay

import (
	"errors"
	"fmt"

	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// ErrNoIndex is returned by SeekIndex for a recording that has no seek
// index: one that is not a wsrec file (a legacy websockify recording).
var ErrNoIndex = errors.New("replay: recording has no seek index")

// SeekIndex returns the seek index of the recording called name, the one
// render-mode replays seek with: its sidecar (REC.wsidx) when valid,
// else one built on this first use and cached for the file's version
// (shared with the replays, so a replay that started first has it
// ready). The Index must be used with a Reader of f, where f is the
// recording opened by Open while the file is unchanged. SeekIndex is
// safe for concurrent use; it returns an error matching ErrNotFound
// for an unknown name, ErrNoIndex for a recording without one, and the
// errors of reading the recording.
func (s *Server) SeekIndex(name string) (*screen.Index, error) {
	e, err := s.cat.lookup(name)
	if err != nil {
		return nil, err
	}
	f, osf, err := s.cat.open(e)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	defer f.Close()
	if f.Reader() == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNoIndex)
	}
	x, err := s.idx.get(e, osf)
	if err != nil {
		return nil, fmt.Errorf("%s: seek index: %w", name, err)
	}
	return x, nil
}
