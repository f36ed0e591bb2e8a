package record

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

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

// device returns the device of the file system holding the file of fi.
func device(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Dev, true
}

// openGuardedFS opens dir, on device dev, as the guard of its file system
// (see syncGuard), or returns nil if the kernel or the file system type
// does not report write-back errors to syncfs.
func openGuardedFS(dir *os.Root, dev uint64) *guardedFS {
	if !syncfsReportsErrors() {
		return nil
	}
	f, err := dir.Open(".")
	if err != nil {
		return nil
	}
	fd := int(f.Fd())
	var st unix.Stat_t
	var sfs unix.Statfs_t
	if unix.Fstat(fd, &st) != nil || st.Dev != dev || unix.Fstatfs(fd, &sfs) != nil || !errorReportingFS[int64(sfs.Type)] {
		f.Close()
		return nil
	}
	return &guardedFS{f: f, syncFS: func() error {
		err := unix.Syncfs(int(f.Fd()))
		runtime.KeepAlive(f)
		return err
	}}
}

// errorReportingFS are the file system types (statfs f_type) whose syncfs
// writes every file out and reports write-back errors through the VFS:
// ext2/3/4, XFS, Btrfs and tmpfs (which writes nothing back). Network,
// FUSE and stacked file systems keep errors of their own.
var errorReportingFS = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true,
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
	unix.TMPFS_MAGIC:       true,
}

// syncfsReportsErrors reports whether the kernel is Linux 5.8 or later,
// whose syncfs returns write-back errors (commit 735e4ae5ba28, "vfs: track
// per-sb writeback errors and report them to syncfs").
var syncfsReportsErrors = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
})

// kernelAtLeast reports whether a kernel release string ("6.1.0-18-amd64")
// is major.minor or later; false if it cannot be read.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	minStr := parts[1]
	if i := strings.IndexFunc(minStr, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minStr = minStr[:i]
	}
	mnr, err2 := strconv.Atoi(minStr)
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

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
