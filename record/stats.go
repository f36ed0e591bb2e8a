package record

import (
	"errors"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/wsproxy/wsproxy/format"
)

// Stats are a Recorder's running totals, for metrics.
type Stats struct {
	// BytesWritten counts the bytes written to recording files: the sum
	// of their sizes, those still open and those abandoned after an error
	// included.
	BytesWritten int64
	// Errors counts the failures to create, write, sync or close a
	// recording file (under either Policy).
	Errors int64
}

// Stats returns the totals so far. They never decrease. It is safe for
// concurrent use, also after Close.
func (r *Recorder) Stats() Stats {
	return Stats{BytesWritten: r.stats.written.Load(), Errors: r.stats.errors.Load()}
}

// counters are the totals of Stats, updated as files are written.
type counters struct {
	written, errors atomic.Int64
}

// open opens a recording file with r.openFile and counts what is written
// to it and its errors. That the file exists is not counted: create then
// tries another name.
func (r *Recorder) open(dir *os.Root, name string, flag int, perm fs.FileMode) (file, error) {
	f, err := r.openFile(dir, name, flag, perm)
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			r.stats.errors.Add(1)
		}
		return nil, err
	}
	return &countedFile{f: f, c: &r.stats}, nil
}

// countedFile counts the bytes written to a file and its errors.
type countedFile struct {
	f file
	c *counters
}

func (f *countedFile) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	f.c.written.Add(int64(n))
	return n, f.count(err)
}

// WriteBuffers makes countedFile a format.BuffersWriter: a file that is
// one too writes bufs as they are, any other in one Write.
func (f *countedFile) WriteBuffers(bufs [][]byte) (int64, error) {
	var (
		n   int64
		err error
	)
	if bw, ok := f.f.(format.BuffersWriter); ok {
		n, err = bw.WriteBuffers(bufs)
	} else {
		n, err = joinBuffers(f.f, bufs)
	}
	f.c.written.Add(n)
	return n, f.count(err)
}

func (f *countedFile) Sync() error  { return f.count(f.f.Sync()) }
func (f *countedFile) Close() error { return f.count(f.f.Close()) }

func (f *countedFile) fsID() (uint64, bool) {
	if ff, ok := f.f.(fsFile); ok {
		return ff.fsID()
	}
	return 0, false
}

func (f *countedFile) syncFS() error { return f.f.(fsFile).syncFS() }

func (f *countedFile) count(err error) error {
	if err != nil {
		f.c.errors.Add(1)
	}
	return err
}
