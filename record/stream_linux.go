package record

import (
	"errors"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// dropBehind starts the writeback of the n bytes at off and drops the n
// bytes before them, written back by now, from the page cache. Both are
// advice: errors are ignored, and a page still dirty stays.
func dropBehind(f *os.File, off, n int64) {
	fd := int(f.Fd())
	_ = unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	if off >= n {
		_ = unix.Fadvise(fd, off-n, n, unix.FADV_DONTNEED)
	}
}

func (f *streamFile) fsID() (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return st.Dev, true
}

func (f *streamFile) syncFS() error { return unix.Syncfs(int(f.Fd())) }

// maxIovecs is IOV_MAX on Linux: the most buffers one writev takes.
const maxIovecs = 1024

// WriteBuffers writes bufs with writev(2) (format.BuffersWriter): a raw
// chunk goes to the file in one system call, without being copied into
// one buffer first.
func (f *streamFile) WriteBuffers(bufs [][]byte) (int64, error) {
	fd := int(f.Fd())
	var total int64
	for len(bufs) > 0 {
		iov := bufs[:min(len(bufs), maxIovecs)]
		n, err := unix.Writev(fd, iov)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			total += int64(n)
			f.advance(int64(n))
		}
		if err != nil {
			runtime.KeepAlive(f.File)
			return total, &os.PathError{Op: "writev", Path: f.Name(), Err: err}
		}
		if n == 0 {
			runtime.KeepAlive(f.File)
			return total, &os.PathError{Op: "writev", Path: f.Name(), Err: unix.EIO}
		}
		// Skip what was written; a short write continues mid-buffer,
		// in a copy of the caller's slice.
		if n < bufsLen(iov) {
			bufs = append([][]byte(nil), bufs...)
		}
		for n > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
			} else {
				bufs[0] = bufs[0][n:]
				n = 0
			}
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	runtime.KeepAlive(f.File)
	return total, nil
}

func bufsLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
