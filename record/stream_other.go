//go:build !linux

package record

import (
	"io/fs"
	"os"
)

// dropBehind does nothing where Linux's sync_file_range is missing: the
// page cache keeps the recording.
func dropBehind(*os.File, int64, int64) {}

func (f *streamFile) fsID() (uint64, bool) { return 0, false }

func (f *streamFile) syncFS() error { return nil }

// WriteBuffers writes bufs in one Write (format.BuffersWriter).
func (f *streamFile) WriteBuffers(bufs [][]byte) (int64, error) { return joinBuffers(f, bufs) }

func device(fs.FileInfo) (uint64, bool) { return 0, false }

func openGuardedFS(*os.Root, uint64) *guardedFS { return nil }
