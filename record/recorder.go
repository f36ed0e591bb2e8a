package record

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/wsproxy/wsproxy/format"
)

// Format is the file format recordings are written in.
type Format string

// Formats.
const (
	FormatWsrec      Format = "wsrec"      // format/SPEC.md
	FormatWebsockify Format = "websockify" // websockify's --record format, for noVNC's playback page
)

// Policy says what happens to a session whose recording cannot be written.
type Policy string

// Policies.
const (
	// Strict ends the session (the proxy closes it with 1011): no traffic
	// passes unrecorded beyond what was queued when the write failed.
	Strict Policy = "strict"
	// BestEffort keeps the session going, logs the error, and marks the lost
	// records with a gap record when a new part can be opened.
	BestEffort Policy = "best-effort"
)

// Defaults of Options.
const (
	DefaultBufferSize = 2 << 20
	DefaultMode       = 0o600
	DefaultName       = "{start}_{session}"
	// DefaultLevel is zstd's fastest level: recordings are written while
	// the session runs, on the proxy's CPUs, and the faster level costs
	// half the CPU per byte of zstd's default for files a few percent
	// larger (record's BenchmarkFrame).
	DefaultLevel = zstd.SpeedFastest
)

// Options configure a Recorder. The zero value means the defaults, but one
// of Dir and File must be set.
type Options struct {
	// Dir is the directory recordings are created in, with names from Name.
	// Directories are created as needed (mode 0700). Dir may be a symbolic
	// link; no symbolic link below it is followed (ErrUnsafePath).
	Dir string
	// Name is the file name template under Dir; see Name's placeholders in
	// the package documentation. Zero means DefaultName plus the format's
	// extension (".wsrec" or ".txt").
	Name string
	// File is websockify's --record FILE: session N is written to FILE.N,
	// where N counts from 1 and skips names that exist. Used when Dir is
	// empty.
	File string
	// Format is the file format. Zero means FormatWsrec.
	Format Format
	// Mode is the mode of new files. Zero means DefaultMode (0600).
	Mode fs.FileMode
	// FlushInterval is the longest a record stays in memory. Zero means
	// format.DefaultFlushInterval.
	FlushInterval time.Duration
	// SignKey signs each wsrec part's seal. Zero (nil) means unsigned.
	SignKey ed25519.PrivateKey
	// Recipients, if any, encrypt each wsrec part to these age recipients
	// (format/SPEC.md, "Encryption"); each part has its own data key, so
	// changing the list changes the next parts only. Zero (nil) means
	// recordings in the clear.
	Recipients []age.Recipient
	// PublicMeta lists the metadata keys an encrypted recording keeps in
	// the clear. Nil means format.DefaultPublicMeta.
	PublicMeta []string
	// MaxSize starts a new part when a file reaches this many bytes (wsrec
	// only); a part may exceed it by one chunk, a quarter of MaxSize or
	// 1 MiB, whichever is smaller. Zero means no limit.
	MaxSize int64
	// Policy is what a write error does. Zero means Strict.
	Policy Policy
	// BufferSize bounds the bytes queued per session between the proxy and
	// the file. Zero means DefaultBufferSize.
	BufferSize int
	// Level is the zstd level of wsrec chunks. Zero means DefaultLevel.
	Level zstd.EncoderLevel
	// Logger receives errors and the files created. Zero (nil) means
	// slog.Default().
	Logger *slog.Logger
	// Spool, if set, is told of every file created and closed, and
	// admits new files (see Spool). It needs Dir. Zero (nil) means none.
	Spool Spool
}

// Recorder creates one recording per session. It is safe for concurrent
// use. Close seals every open recording.
type Recorder struct {
	opts Options
	log  *slog.Logger
	enc  *zstd.Encoder // shared by all sessions

	// openFile creates files; tests replace it to inject faults.
	openFile func(dir *os.Root, name string, flag int, perm fs.FileMode) (file, error)
	stats    counters // see stats.go
	dirs     dirCache // see subdir

	queues sync.Pool // *queue, see Session

	syncMu     sync.Mutex    // held while a file is handed to syncLoop
	syncs      chan syncJob  // sealed files to sync and close, see syncLoop; nil until the first
	synced     chan struct{} // closed when syncLoop has returned
	syncClosed bool          // Close has stopped syncLoop
	guard      syncGuard     // lets syncLoop skip fsyncs, see syncBatch

	mu       sync.Mutex
	sessions map[*Session]struct{}
	next     int // websockify-style counter for File
	closed   bool
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("record: recorder closed")

// New checks opts and returns a Recorder. It creates nothing on disk until
// the first session starts.
func New(opts Options) (*Recorder, error) {
	if opts.Dir == "" && opts.File == "" {
		return nil, errors.New("record: neither a directory nor a file name given")
	}
	if opts.Format == "" {
		opts.Format = FormatWsrec
	}
	if opts.Format != FormatWsrec && opts.Format != FormatWebsockify {
		return nil, fmt.Errorf("record: unknown format %q (want wsrec or websockify)", opts.Format)
	}
	if opts.Policy == "" {
		opts.Policy = Strict
	}
	if opts.Policy != Strict && opts.Policy != BestEffort {
		return nil, fmt.Errorf("record: unknown policy %q (want strict or best-effort)", opts.Policy)
	}
	if opts.Mode == 0 {
		opts.Mode = DefaultMode
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = format.DefaultFlushInterval
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.Name == "" {
		opts.Name = DefaultName + opts.Format.ext()
	}
	if err := checkTemplate(opts.Name); err != nil {
		return nil, err
	}
	if opts.Spool != nil && opts.Dir == "" {
		return nil, errors.New("record: a spool needs a directory")
	}
	if opts.MaxSize < 0 {
		return nil, fmt.Errorf("record: negative maximum size %d", opts.MaxSize)
	}
	if opts.MaxSize > 0 && opts.Format != FormatWsrec {
		return nil, errors.New("record: a maximum size needs the wsrec format")
	}
	if opts.SignKey != nil && opts.Format != FormatWsrec {
		return nil, errors.New("record: signing needs the wsrec format")
	}
	if len(opts.Recipients) > 0 && opts.Format != FormatWsrec {
		return nil, errors.New("record: encryption needs the wsrec format")
	}
	r := &Recorder{opts: opts, log: opts.Logger, sessions: map[*Session]struct{}{}, openFile: openOSFile}
	r.queues.New = func() any { return new(queue) }
	if r.log == nil {
		r.log = slog.Default()
	}
	if opts.Level == 0 {
		opts.Level = DefaultLevel
	}
	if opts.Format == FormatWsrec {
		enc, err := format.NewEncoder(opts.Level, 0)
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		r.enc = enc
	}
	return r, nil
}

// chunkSize keeps parts within about a quarter of MaxSize of it: a part
// ends at the first chunk that reaches MaxSize.
func (r *Recorder) chunkSize() int {
	if r.opts.MaxSize == 0 {
		return format.DefaultChunkSize
	}
	return int(min(format.DefaultChunkSize, max(r.opts.MaxSize/4, 64<<10)))
}

func (f Format) ext() string {
	if f == FormatWebsockify {
		return ".txt"
	}
	return ".wsrec"
}

// file is what a recording is written to: an *os.File but in tests.
type file interface {
	Write([]byte) (int, error)
	Sync() error
	Close() error
}

func openOSFile(dir *os.Root, name string, flag int, perm fs.FileMode) (file, error) {
	f, err := dir.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return newStreamFile(f), nil
}

// ErrUnsafePath is returned (wrapped) by Start when a directory element of a
// recording's name under Options.Dir exists as something other than a
// plain directory: a symbolic link, a FIFO, a device, a file. Recordings
// are never written through a symbolic link below Options.Dir.
var ErrUnsafePath = errors.New("record: unsafe recording path")

// created is a new recording file.
type created struct {
	f       file
	tok     guardToken // for syncBatch
	name    string     // its path, for logs
	dir     *os.Root   // the directory holding it; released by done
	release func()     // releases dir
	base    string     // its name in dir
}

// done releases the directory; remove also deletes the file, which must
// have been closed.
func (c *created) done(remove bool) {
	if remove {
		c.dir.Remove(c.base)
	}
	c.release()
}

// place is where the file of a part is to be created: its directory,
// checked and held open, and the name to try first.
type place struct {
	dir      *os.Root
	dirInfo  fs.FileInfo // dir as subdir checked it; nil: not checked (Options.File)
	release  func()      // releases dir
	shown    string      // dir's path, for logs
	base     string      // the name to try first
	part     int
	numbered bool // Options.File: the name is numbered by createAt
}

// place checks and opens the directory of part of a session, making it
// as needed (see subdir), and names the file, without creating it.
func (r *Recorder) place(h *format.Header, part int) (*place, error) {
	if r.opts.Dir == "" {
		dir, err := os.OpenRoot(filepath.Dir(r.opts.File))
		if err != nil {
			r.stats.errors.Add(1)
			return nil, fmt.Errorf("record: %w", err)
		}
		return &place{dir: dir, release: func() { dir.Close() }, shown: filepath.Dir(r.opts.File), part: part, numbered: true}, nil
	}
	if r.opts.Spool != nil {
		if err := r.opts.Spool.Admit(); err != nil {
			r.stats.errors.Add(1)
			return nil, fmt.Errorf("record: %w", err)
		}
	}
	rel := filepath.Clean(expand(r.opts.Name, h))
	if part > 0 {
		ext := filepath.Ext(rel)
		rel = fmt.Sprintf("%s.part%d%s", rel[:len(rel)-len(ext)], part, ext)
	}
	d, err := r.subdir(filepath.Dir(rel))
	if err != nil {
		r.stats.errors.Add(1)
		return nil, err
	}
	return &place{
		dir: d.root, dirInfo: d.fi, release: func() { r.dirs.release(d) },
		shown: filepath.Join(r.opts.Dir, filepath.Dir(rel)), base: filepath.Base(rel), part: part,
	}, nil
}

// createAt makes the file at p, never replacing anything that exists
// (O_EXCL: a name taken by a file, a symbolic link or a FIFO is skipped,
// never opened). p is released by the result's done, or now on an error.
func (r *Recorder) createAt(p *place) (*created, error) {
	if p.numbered {
		return r.createNumbered(p)
	}
	name := p.base
	tok := r.guard.enter(p.dir, p.dirInfo)
	for i := 1; ; i++ {
		f, err := r.open(p.dir, name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, r.opts.Mode)
		if err == nil {
			return &created{f: f, tok: tok, name: filepath.Join(p.shown, name), dir: p.dir, release: p.release, base: name}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			p.release()
			return nil, fmt.Errorf("record: create %s: %w", filepath.Join(p.shown, name), unwrapPath(err))
		}
		ext := filepath.Ext(p.base)
		name = fmt.Sprintf("%s-%d%s", p.base[:len(p.base)-len(ext)], i, ext)
	}
}

// createNumbered makes FILE.N for Options.File, N counting on from the last
// session's and skipping names that exist.
func (r *Recorder) createNumbered(p *place) (*created, error) {
	tok := r.guard.enter(p.dir, p.dirInfo)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		r.next++
		base := fmt.Sprintf("%s.%d", filepath.Base(r.opts.File), r.next)
		if p.part > 0 {
			base = fmt.Sprintf("%s.part%d", base, p.part)
		}
		name := filepath.Join(p.shown, base)
		f, err := r.open(p.dir, base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, r.opts.Mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			r.next--
			p.release()
			return nil, fmt.Errorf("record: create %s: %w", name, unwrapPath(err))
		}
		return &created{f: f, tok: tok, name: name, dir: p.dir, release: p.release, base: base}, nil
	}
}

// subdir creates the directories of rel (a cleaned relative path, "." for
// none) below Options.Dir, which is created as needed, and opens the last.
// Options.Dir itself may be a symbolic link; nothing below it is followed:
// an element that exists as anything but a directory is ErrUnsafePath,
// and one replaced by a symbolic link while it is opened is caught by
// comparing the opened directory with what was checked.
//
// The directories stay open in r.dirs for the next sessions: each is then
// checked with one lstat (of Options.Dir, one stat), which must find the
// directory that is open (an open directory's inode number cannot be
// reused), instead of being made, checked and opened again. The caller
// releases the result with r.dirs.release.
func (r *Recorder) subdir(rel string) (*openDir, error) {
	c := &r.dirs
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	elems := strings.Split(rel, string(filepath.Separator))
	if rel == "." {
		elems = nil
	}
	fi, err := os.Stat(r.opts.Dir)
	if c.top == nil || err != nil || !os.SameFile(fi, c.top.fi) {
		if err := os.MkdirAll(r.opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		root, err := os.OpenRoot(r.opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		fi, err := root.Stat(".")
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("record: %w", err)
		}
		c.reset(&openDir{root: root, fi: fi})
	}
	if len(c.subs)+len(elems) > maxOpenDirs {
		c.reset(c.top)
	}
	d := c.top
	if len(elems) > 0 {
		done, prefix := r.opts.Dir, ""
		for _, elem := range elems {
			done = filepath.Join(done, elem)
			prefix = filepath.Join(prefix, elem)
			next := c.subs[prefix]
			if next != nil {
				if fi, err := d.root.Lstat(elem); err != nil || !os.SameFile(fi, next.fi) {
					c.evict(prefix)
					next = nil
				}
			}
			if next == nil {
				root, fi, err := openSubdir(d.root, elem, done)
				if err != nil {
					return nil, err
				}
				next = &openDir{root: root, fi: fi}
				c.subs[prefix] = next
			}
			d = next
		}
	}
	d.refs++
	return d, nil
}

// maxOpenDirs bounds the directories below Options.Dir kept open.
const maxOpenDirs = 64

// dirCache holds the directories recordings were created in, open, for
// Recorder.subdir. Its zero value is empty.
type dirCache struct {
	mu     sync.Mutex
	top    *openDir            // Options.Dir
	subs   map[string]*openDir // below it, by relative path
	closed bool                // by close
}

// openDir is a directory of dirCache.
type openDir struct {
	root    *os.Root
	fi      fs.FileInfo // what was checked before it was opened
	refs    int         // files being created in it
	evicted bool        // out of the cache: closed once refs is 0
}

// release ends a use of d that subdir returned.
func (c *dirCache) release(d *openDir) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d.refs--
	if d.refs == 0 && d.evicted {
		d.root.Close()
	}
}

// reset empties the cache but for top, which becomes its top. c.mu is
// held.
func (c *dirCache) reset(top *openDir) {
	for prefix := range c.subs {
		c.evict(prefix)
	}
	if c.top != nil && c.top != top {
		c.drop(c.top)
	}
	c.top, c.subs = top, map[string]*openDir{}
}

// evict takes the directory at prefix and those below it out of the
// cache. c.mu is held.
func (c *dirCache) evict(prefix string) {
	for p, d := range c.subs {
		if p == prefix || strings.HasPrefix(p, prefix+string(filepath.Separator)) {
			delete(c.subs, p)
			c.drop(d)
		}
	}
}

// drop closes d once it is no longer used. c.mu is held.
func (c *dirCache) drop(d *openDir) {
	d.evicted = true
	if d.refs == 0 {
		d.root.Close()
	}
}

// close closes every directory of the cache, once no file is being
// created in it, and makes Recorder.subdir fail.
func (c *dirCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.reset(nil)
}

// openSubdir creates elem in dir unless it exists, and opens it, refusing
// anything but a plain directory. shown is its path for errors. It
// returns what it checked with the directory.
func openSubdir(dir *os.Root, elem, shown string) (*os.Root, fs.FileInfo, error) {
	if err := dir.Mkdir(elem, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, nil, fmt.Errorf("record: %s: %w", shown, unwrapPath(err))
	}
	fi, err := dir.Lstat(elem)
	if err != nil {
		return nil, nil, fmt.Errorf("record: %s: %w", shown, unwrapPath(err))
	}
	if t := fi.Mode().Type(); t != fs.ModeDir {
		return nil, nil, fmt.Errorf("%w: %s is %s, not a directory", ErrUnsafePath, shown, describeType(t))
	}
	sub, err := dir.OpenRoot(elem)
	if err != nil {
		return nil, nil, fmt.Errorf("record: %s: %w", shown, unwrapPath(err))
	}
	if opened, err := sub.Stat("."); err != nil || !os.SameFile(fi, opened) {
		sub.Close()
		return nil, nil, fmt.Errorf("%w: %s was replaced while it was opened", ErrUnsafePath, shown)
	}
	return sub, fi, nil
}

// describeType names a file type for an error message.
func describeType(t fs.FileMode) string {
	switch {
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t == 0:
		return "a regular file"
	}
	return "a special file"
}

// unwrapPath drops the *fs.PathError around err, whose path is relative to
// a directory the caller names itself.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// Close seals every open recording as if its session had ended now, waits
// for the files to be written, and makes Start fail. It returns the first
// error. It is idempotent.
func (r *Recorder) Close() error {
	r.mu.Lock()
	r.closed = true
	open := make([]*Session, 0, len(r.sessions))
	for s := range r.sessions {
		open = append(open, s)
	}
	r.mu.Unlock()
	var first error
	for _, s := range open {
		err := s.Close(0, format.CloseInfo{By: format.ClosedByProxy, Code: 1001, Reason: "Recorder shut down"})
		if first == nil && err != nil {
			first = err
		}
	}
	// Every session has now finished writing (Session.Close waits), and
	// Start refuses new ones: the shared encoder is free, and no file
	// comes to be synced any more.
	r.mu.Lock()
	if r.enc != nil {
		r.enc.Close()
		r.enc = nil
	}
	r.mu.Unlock()
	r.dirs.close()
	r.syncMu.Lock()
	r.syncClosed = true
	syncs := r.syncs
	r.syncMu.Unlock()
	if syncs != nil {
		close(syncs)
		<-r.synced
	}
	r.guard.close()
	return first
}

// syncJob is a sealed file for syncLoop.
type syncJob struct {
	f    file
	name string
	tok  guardToken // from its creation
}

// syncer returns the function a sink calls with its file, named name,
// once sealed: the file is synced and closed by the Recorder's syncLoop,
// off the session's path. A session's end thus costs it no fsync, and the
// fsyncs of sessions that end together share the file system's journal
// commits. Close waits for every file to be synced. A failure is logged
// and counted in Stats.Errors; the file stays as written.
func (r *Recorder) syncer(name string, tok guardToken) func(file) {
	return func(f file) {
		r.syncMu.Lock()
		defer r.syncMu.Unlock()
		if r.syncClosed { // no syncLoop any more: sync here
			syncFile(r.log, syncJob{f, name, tok})
			return
		}
		if r.syncs == nil {
			r.syncs, r.synced = make(chan syncJob, 256), make(chan struct{})
			go r.syncLoop(r.syncs)
		}
		r.syncs <- syncJob{f, name, tok}
	}
}

// maxSyncBatch bounds the files syncLoop syncs together.
const maxSyncBatch = 256

// syncLoop syncs and closes the files sent to syncs until it is closed.
// The files that wait together are synced as a batch (see syncBatch).
func (r *Recorder) syncLoop(syncs <-chan syncJob) {
	defer close(r.synced)
	var batch []syncJob
	for j := range syncs {
		batch = append(batch[:0], j)
	more:
		for len(batch) < maxSyncBatch {
			select {
			case j, ok := <-syncs:
				if !ok {
					break more
				}
				batch = append(batch, j)
			default:
				break more
			}
		}
		syncBatch(r.log, &r.guard, batch)
		clear(batch)
	}
}

// syncBatch syncs and closes the files of jobs. Two or more files on one
// file system are written out together by one syncfs, which commits the
// journal once for all of them, where one fsync each would commit it once
// per file: on ext4, a short session's file then costs about 50 µs of CPU
// instead of 200.
//
// Where guard vouches for the file system (see syncGuard), that syncfs,
// made through the guard, also proves that none of those files failed to
// be written, and they are closed without an fsync each. Elsewhere, and
// after a failed syncfs, each file is still fsynced afterwards, which then
// finds nothing to write, so that its own write errors are reported for
// it, as fsync alone would. A file whose file system cannot be synced as a
// whole is fsynced alone.
func syncBatch(log *slog.Logger, guard *syncGuard, jobs []syncJob) {
	clean := map[uint64]bool{} // guarded file systems synced without error
	if len(jobs) > 1 {
		guarded := map[uint64]int{}
		type group struct {
			first file
			n     int
		}
		groups := map[uint64]*group{}
		for _, j := range jobs {
			if j.tok.ok {
				guarded[j.tok.dev]++
				continue
			}
			if ff, ok := j.f.(fsFile); ok {
				if dev, ok := ff.fsID(); ok {
					g := groups[dev]
					if g == nil {
						g = &group{first: j.f}
						groups[dev] = g
					}
					g.n++
				}
			}
		}
		for dev, n := range guarded {
			if n < 2 {
				continue
			}
			ok, err := guard.sync(dev)
			if err != nil {
				log.Warn("recording: syncfs failed: syncing each file alone", "err", err)
			}
			clean[dev] = ok
		}
		for _, g := range groups {
			if g.n > 1 {
				_ = g.first.(fsFile).syncFS() // an error shows again in each file's fsync
			}
		}
	}
	for _, j := range jobs {
		if j.tok.ok && clean[j.tok.dev] && guard.clean(j.tok) {
			closeFile(log, j)
		} else {
			syncFile(log, j)
		}
	}
}

// closeFile closes the file of j, which a syncfs has written out.
func closeFile(log *slog.Logger, j syncJob) {
	if err := j.f.Close(); err != nil {
		log.Error("recording: sync", "file", j.name, "err", err)
	}
}

func syncFile(log *slog.Logger, j syncJob) {
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Error("recording: sync", "file", j.name, "err", err)
	}
}

func (r *Recorder) add(s *Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.sessions[s] = struct{}{}
	return nil
}

func (r *Recorder) remove(s *Session) {
	r.mu.Lock()
	delete(r.sessions, s)
	r.mu.Unlock()
}
