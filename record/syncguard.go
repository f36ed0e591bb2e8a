package record

import (
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// syncGuard lets syncBatch close the files of a batch without an fsync
// each once one syncfs of their file system has written them, and still
// report every file's write error.
//
// Linux (since 5.8) records a write-back error of any file of a file system
// in the file system too, and syncfs(2) returns it, once, to each open file
// it is called on that had not yet seen it. The guard holds, for each file
// system recordings are created on, a directory of it opened before the
// first of those files, and syncs the file system through it alone. So a
// file whose write failed after it was created makes the guard's syncfs
// fail: the one of its batch, or an earlier one. Every failure counts in
// fails, and a file is closed without its fsync only if its batch's syncfs
// succeeded and fails has not moved since just before the file was
// created (its guardToken); every other file is fsynced alone, which
// reports its own errors. The fsync thus skipped is not free on ext4: it
// finds nothing to write, but still commits or flushes the device's cache.
//
// A file system type whose syncfs is not known to report write-back errors
// (NFS, FUSE, overlayfs and the like) is not guarded: each of its files is
// fsynced, as without a guard. The zero syncGuard is ready; it is safe for
// concurrent use.
type syncGuard struct {
	mu     sync.Mutex
	fss    map[uint64]*guardedFS // by device; nil entry: not guarded
	closed bool

	fails atomic.Uint64 // guard syncfs calls that failed
}

// guardedFS is the directory a syncGuard syncs a file system through.
type guardedFS struct {
	f      *os.File
	syncFS func() error // syncfs(2) on f; tests replace it
}

// guardToken is what a syncGuard knew when a file was created, for
// syncBatch. The zero guardToken guards nothing.
type guardToken struct {
	dev   uint64
	fails uint64 // syncGuard.fails then
	ok    bool
}

// maxGuardedFS bounds the file systems a syncGuard holds open.
const maxGuardedFS = 16

// enter is called just before a file is created in dir: it returns the
// file's token, opening the guard of dir's file system on its first file.
// fi is dir as the caller found it (nil: enter looks). A directory that
// cannot be opened or examined, a file system type not known to report
// write-back errors to syncfs, a kernel older than 5.8 or a closed guard
// make a zero token: the file is fsynced alone.
func (g *syncGuard) enter(dir *os.Root, fi fs.FileInfo) guardToken {
	fails := g.fails.Load() // before the file exists: see syncGuard
	if fi == nil {
		var err error
		if fi, err = dir.Stat("."); err != nil {
			return guardToken{}
		}
	}
	dev, ok := device(fi)
	if !ok {
		return guardToken{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return guardToken{}
	}
	fs, seen := g.fss[dev]
	if !seen {
		if len(g.fss) >= maxGuardedFS {
			return guardToken{}
		}
		fs = openGuardedFS(dir, dev) // nil if not guarded
		if g.fss == nil {
			g.fss = map[uint64]*guardedFS{}
		}
		g.fss[dev] = fs
	}
	if fs == nil {
		return guardToken{}
	}
	return guardToken{dev: dev, fails: fails, ok: true}
}

// sync syncs the file system dev through its guard and reports whether
// that succeeded: whether no file of it created after enter returned a
// token with the current fails failed to be written. A failure is
// counted in fails and returned.
func (g *syncGuard) sync(dev uint64) (bool, error) {
	g.mu.Lock()
	fs := g.fss[dev]
	g.mu.Unlock()
	if fs == nil {
		return false, nil
	}
	if err := fs.syncFS(); err != nil {
		g.fails.Add(1)
		return false, err
	}
	return true, nil
}

// clean reports whether a file with token t need not be fsynced after a
// successful sync of its file system: no guard syncfs has failed since
// the file was created.
func (g *syncGuard) clean(t guardToken) bool {
	return t.ok && g.fails.Load() == t.fails
}

// close closes the guard's directories; enter then returns zero tokens.
func (g *syncGuard) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, fs := range g.fss {
		if fs != nil {
			fs.f.Close()
		}
	}
	g.fss = nil
}
