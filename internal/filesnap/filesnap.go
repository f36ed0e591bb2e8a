// Package filesnap tells whether files changed since they were read, with
// a stat per file instead of reading them again: the token files, JWT key
// files and htpasswd files that wsproxy's plugins pick up when they
// change.
package filesnap

import (
	"os"
	"time"
)

// Snapshot is what a set of files looked like when they were read. The
// zero value has recorded no file and so reports a change: a caller that
// resets its Snapshot to the zero value reads its files again at the next
// check. A Snapshot is not safe for concurrent use.
type Snapshot struct {
	files []fileState
	// racy is set when a file changed within racyWindow of its reading:
	// a change within the same timestamp tick, of the same size, would
	// not show, so the files are read again until they have settled.
	racy bool
}

type fileState struct {
	path string
	info os.FileInfo
}

// racyWindow is longer than the timestamp granularity of common file
// systems.
const racyWindow = 2 * time.Second

// Stat stats path (through symbolic links) and records it. It returns the
// error of os.Stat.
func (s *Snapshot) Stat(path string) (os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, fileState{path, fi})
	if time.Since(fi.ModTime()) < racyWindow {
		s.racy = true
	}
	return fi, nil
}

// Changed reports whether any recorded file changed, or vanished, since
// it was recorded; a directory changes when entries are added, removed
// or renamed. It is true for a Snapshot that recorded nothing, and while
// a file changed too recently to tell a later change within the same
// timestamp tick.
func (s *Snapshot) Changed() bool {
	if s.racy || len(s.files) == 0 {
		return true
	}
	for _, f := range s.files {
		fi, err := os.Stat(f.path)
		if err != nil || !os.SameFile(fi, f.info) || fi.Size() != f.info.Size() ||
			!fi.ModTime().Equal(f.info.ModTime()) || fi.Mode() != f.info.Mode() {
			return true
		}
	}
	return false
}
