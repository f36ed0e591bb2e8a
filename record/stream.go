package record

import (
	"bytes"
	"io"
	"os"
)

// dropWindow is how many bytes of a recording file stay in the page cache
// behind the writer: twice this, at most.
const dropWindow = 8 << 20

// streamFile is a recording file, written once from front to back and
// seldom read soon after. Every dropWindow bytes it starts the writeback of
// the window just written and drops the window before it from the page
// cache (see dropBehind), so that recording keeps no gigabytes of dirty
// pages around. That is also what recording costs least: on the reference
// machine a 1 GiB file took 0.3 s of kernel CPU written this way, and 1 to
// 1.4 s left to the page cache, which had to reclaim memory while the
// writer waited.
type streamFile struct {
	*os.File
	off  int64 // bytes written
	next int64 // offset at which the next window ends
}

func newStreamFile(f *os.File) *streamFile { return &streamFile{File: f, next: dropWindow} }

func (f *streamFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.advance(int64(n))
	return n, err
}

// advance counts n bytes written and drops the windows behind them.
func (f *streamFile) advance(n int64) {
	f.off += n
	for f.off >= f.next {
		dropBehind(f.File, f.next-dropWindow, dropWindow)
		f.next += dropWindow
	}
}

// joinBuffers writes bufs to w in one Write, for a format.BuffersWriter
// whose file cannot write them as they are.
func joinBuffers(w io.Writer, bufs [][]byte) (int64, error) {
	n, err := w.Write(bytes.Join(bufs, nil))
	return int64(n), err
}

// fsFile is a file whose whole file system can be synced (see syncBatch).
type fsFile interface {
	// fsID identifies the file system holding the file; false if unknown.
	fsID() (uint64, bool)
	// syncFS writes out every file of the file system and commits its
	// journal (Linux's syncfs).
	syncFS() error
}
