package record

import (
	"os"

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
