package render

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// What RefreshIndex did with an index.
const (
	IndexUpToDate = "up-to-date" // a valid index was there
	IndexBuilt    = "built"      // there was none
	IndexRebuilt  = "rebuilt"    // there was a stale or damaged one
)

// ErrNotIndexable: the recording is not one a seek index is made for (a
// websockify recording, decoded from its start instead).
var ErrNotIndexable = errors.New("render: websockify recordings have no seek index")

// IndexResult says what RefreshIndex did.
type IndexResult struct {
	// Action is IndexUpToDate, IndexBuilt or IndexRebuilt.
	Action string `json:"action"`
	// Reason says why an index was rebuilt: the error that rejected it.
	Reason string `json:"reason,omitempty"`
	// Keyframes, Size and RecordingSize describe the index and its
	// recording (sizes in bytes).
	Keyframes     int   `json:"keyframes"`
	Size          int64 `json:"size"`
	RecordingSize int64 `json:"recording_size"`
	// Took is the time spent building it; zero when up to date.
	Took time.Duration `json:"took"`
}

// LoadIndex returns the valid index at idxPath of the recording f, or nil
// and why not: os.ErrNotExist without one, an error wrapping
// screen.ErrIndexStale or screen.ErrIndexCorrupt for a stale or damaged
// one, ErrNotIndexable for a websockify recording.
func LoadIndex(f *recfile.File, ra io.ReaderAt, idxPath string, opts screen.IndexOptions) (*screen.Index, error) {
	if f.Reader() == nil {
		return nil, ErrNotIndexable
	}
	b, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, err
	}
	return screen.ReadIndex(b, ra, f.Size(), opts)
}

// RefreshIndex makes sure the seek index at idxPath of the wsrec
// recording at path is valid: it keeps a valid one, and builds one where
// there is none or where the one there is stale or damaged, writing it
// atomically. It returns ErrNotIndexable for a websockify recording, and
// the errors of reading the recording and of writing the index.
func RefreshIndex(path, idxPath string, opts screen.IndexOptions) (IndexResult, error) {
	var res IndexResult
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, err
	}
	res.RecordingSize = fi.Size()
	rf, err := recfile.New(f, fi.Size(), recfile.Options{})
	if err != nil {
		return res, err
	}
	defer rf.Close()
	x, err := LoadIndex(rf, f, idxPath, opts)
	switch {
	case err == nil:
		res.Action, res.Keyframes = IndexUpToDate, len(x.Keyframes())
		if ifi, err := os.Stat(idxPath); err == nil {
			res.Size = ifi.Size()
		}
		return res, nil
	case errors.Is(err, ErrNotIndexable):
		return res, err
	case errors.Is(err, os.ErrNotExist):
		res.Action = IndexBuilt
	case errors.Is(err, screen.ErrIndexStale), errors.Is(err, screen.ErrIndexCorrupt):
		res.Action, res.Reason = IndexRebuilt, err.Error()
	default:
		return res, err
	}
	start := time.Now()
	x, err = screen.BuildIndex(f, fi.Size(), opts)
	if err != nil {
		return res, err
	}
	n, err := writeIndex(x, idxPath)
	if err != nil {
		return res, err
	}
	res.Took, res.Keyframes, res.Size = time.Since(start), len(x.Keyframes()), n
	return res, nil
}

// writeIndex writes x to path through a temporary file renamed into
// place, so that a reader never sees half an index.
func writeIndex(x *screen.Index, path string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := x.WriteTo(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}
