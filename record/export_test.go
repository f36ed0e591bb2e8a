package record

import (
	"io/fs"
	"os"
)

// FailAfter makes every file r creates fail its writes once n bytes were
// written to it, for the first k files (k < 0: all).
func FailAfter(r *Recorder, n int64, k int) {
	r.openFile = func(dir *os.Root, name string, flag int, perm fs.FileMode) (file, error) {
		f, err := dir.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			return f, nil
		}
		k--
		return &failingFile{File: f, left: n}, nil
	}
}

type failingFile struct {
	*os.File
	left int64
}

var ErrInjected = &fs.PathError{Op: "write", Path: "injected", Err: fs.ErrInvalid}

func (f *failingFile) Write(p []byte) (int, error) {
	if int64(len(p)) > f.left {
		return 0, ErrInjected
	}
	f.left -= int64(len(p))
	return f.File.Write(p)
}

// FailCreate makes r's first k file creations fail with ErrInjected (k < 0:
// all).
func FailCreate(r *Recorder, k int) {
	open := r.openFile
	r.openFile = func(dir *os.Root, name string, flag int, perm fs.FileMode) (file, error) {
		if k == 0 {
			return open(dir, name, flag, perm)
		}
		k--
		return nil, ErrInjected
	}
}

// NoSyncGuard makes r fsync every file it syncs, as without a syncGuard.
func NoSyncGuard(r *Recorder) { r.guard.close() }
