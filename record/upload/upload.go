package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsproxy/wsproxy/internal/objstore"
)

// Sizes and times of Options.
const (
	// MinPartSize is S3's smallest part but the last.
	MinPartSize = 5 << 20
	// DefaultPartSize is the part size when Options.PartSize is zero.
	DefaultPartSize = 8 << 20
	// MaxParts is S3's largest number of parts of an object: a recording
	// is at most MaxParts × PartSize bytes (80 000 MiB by default; use
	// the Recorder's MaxSize to split longer sessions into parts).
	MaxParts            = 10000
	DefaultInterval     = time.Second
	DefaultWorkers      = 4
	DefaultMaxBackoff   = time.Minute
	DefaultStaleAge     = 7 * 24 * time.Hour
	defaultVerifyWindow = 1 << 20
)

// ErrSpoolFull is returned (wrapped) by Admit while the spool holds
// Options.MaxSpool bytes or more.
var ErrSpoolFull = errors.New("upload: spool full")

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("upload: uploader closed")

// Options configure an Uploader. Store and Dir must be set; the zero
// values of the others mean their defaults.
type Options struct {
	// Store is the bucket the recordings go to.
	Store *objstore.Store
	// Prefix starts every key: empty or ending in "/".
	Prefix string
	// Dir is the spool: the Recorder's Options.Dir.
	Dir string
	// PartSize is the size of every part but the last, at least
	// MinPartSize. Zero means DefaultPartSize.
	PartSize int64
	// Keep keeps the spool's files once they are stored.
	Keep bool
	// MaxSpool is the size in bytes of the spool's files not yet stored
	// at which new recording files are refused. Zero means no limit.
	MaxSpool int64
	// Interval is how often growing files are looked at. Zero means
	// DefaultInterval.
	Interval time.Duration
	// Workers is the number of files sent at once. Zero means
	// DefaultWorkers.
	Workers int
	// MaxBackoff bounds the wait between two tries of a file. Zero means
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// StaleAge is the age of a multipart upload under Prefix, found at
	// Start and belonging to no file of the spool, that is aborted (it
	// may be another node's: keep this longer than the longest session).
	// Zero means DefaultStaleAge; negative, never.
	StaleAge time.Duration
	// Logger receives the log lines. Zero (nil) means slog.Default().
	Logger *slog.Logger
}

// Stats are an Uploader's totals, for metrics.
type Stats struct {
	Uploaded      int64 // recordings stored and checked
	UploadedBytes int64 // bytes sent in parts and PUTs
	Errors        int64 // failed tries (each is retried)
	Aborted       int64 // stale multipart uploads aborted
	Pending       int64 // files of the spool not yet stored
	SpoolBytes    int64 // their size
	// LastLag is the time from a recording's close to its verified
	// storage, for the last one stored.
	LastLag time.Duration
}

// Uploader sends a spool's recordings to object storage. Use it as the
// Recorder's record.Spool. Its methods are safe for concurrent use. Start
// must be called before the Recorder's first session; Close, once the
// Recorder is closed, waits for the uploads and stops.
type Uploader struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	files    map[string]*file // by name under Dir
	full     bool             // the spool was full at the last look
	started  bool
	closed   bool
	draining bool
	uploads  map[string][]mpUpload // found at Start, by key

	wake   chan struct{}
	work   chan *file
	cancel context.CancelFunc
	wg     sync.WaitGroup

	uploaded, uploadedBytes, errs, aborted atomic.Int64
	spoolBytes, pending, lag               atomic.Int64
}

// New checks opts and returns an Uploader. It makes no request.
func New(opts Options) (*Uploader, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("upload: no store")
	case opts.Dir == "":
		return nil, errors.New("upload: no spool directory")
	case opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/"):
		return nil, fmt.Errorf("upload: prefix %q does not end in /", opts.Prefix)
	case opts.PartSize != 0 && opts.PartSize < MinPartSize:
		return nil, fmt.Errorf("upload: part size %d is below S3's minimum of %d", opts.PartSize, MinPartSize)
	case opts.MaxSpool < 0:
		return nil, fmt.Errorf("upload: negative spool limit %d", opts.MaxSpool)
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.StaleAge == 0 {
		opts.StaleAge = DefaultStaleAge
	}
	u := &Uploader{opts: opts, log: opts.Logger, files: map[string]*file{}, wake: make(chan struct{}, 1)}
	if u.log == nil {
		u.log = slog.Default()
	}
	return u, nil
}

// Start checks that the bucket is reachable with the credentials (an
// error says which is wrong), takes up the files a previous process left
// in the spool, aborts stale multipart uploads, and starts sending.
func (u *Uploader) Start(ctx context.Context) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return ErrClosed
	}
	u.mu.Unlock()
	if err := u.opts.Store.Check(ctx); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	left, err := u.scanSpool()
	if err != nil {
		return err
	}
	uploads, err := u.listUploads(ctx)
	if err != nil {
		return err
	}
	u.abortStale(ctx, uploads, left)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uploads = uploads
	for _, name := range left {
		if u.files[name] == nil {
			u.files[name] = &file{name: name, key: u.opts.Prefix + name, recovered: true, closedAt: time.Now()}
		}
	}
	if len(left) > 0 {
		u.log.Info("upload: recordings left in the spool by a previous run", "count", len(left), "dir", u.opts.Dir)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	u.cancel = cancel
	u.work = make(chan *file)
	u.started = true
	u.wg.Add(1 + u.opts.Workers)
	go u.dispatchLoop(rctx)
	for range u.opts.Workers {
		go u.worker(rctx)
	}
	return nil
}

// Admit refuses a new recording file while the spool is full
// (record.Spool).
func (u *Uploader) Admit() error {
	if u.opts.MaxSpool > 0 {
		if n := u.spoolBytes.Load(); n >= u.opts.MaxSpool {
			return fmt.Errorf("%w: %d bytes not yet stored, limit %d", ErrSpoolFull, n, u.opts.MaxSpool)
		}
	}
	return nil
}

// Created takes up a new recording file (record.Spool).
func (u *Uploader) Created(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.files[name] = &file{name: name, key: u.opts.Prefix + name, live: true}
	u.pending.Add(1)
}

// Closed marks a file as complete: the rest is sent and the upload
// completed (record.Spool).
func (u *Uploader) Closed(name string, sealed bool) {
	u.mu.Lock()
	if f := u.files[name]; f != nil {
		f.live, f.closedAt = false, time.Now()
	}
	u.mu.Unlock()
	u.poke()
}

// poke wakes the dispatch loop.
func (u *Uploader) poke() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Stats returns the totals so far.
func (u *Uploader) Stats() Stats {
	return Stats{
		Uploaded: u.uploaded.Load(), UploadedBytes: u.uploadedBytes.Load(), Errors: u.errs.Load(),
		Aborted: u.aborted.Load(), Pending: u.pending.Load(), SpoolBytes: u.spoolBytes.Load(),
		LastLag: time.Duration(u.lag.Load()),
	}
}

// Close sends what it can of the files left, until every one is stored or
// ctx ends, then stops and closes the Store's idle connections. Files still in the spool are taken up by the next
// Start; Close then returns an error saying how many. It is idempotent.
func (u *Uploader) Close(ctx context.Context) error {
	u.mu.Lock()
	if u.closed || !u.started {
		u.closed = true
		u.mu.Unlock()
		return nil
	}
	u.closed, u.draining = true, true
	u.mu.Unlock()
	u.poke()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for u.pendingFiles() > 0 {
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	u.cancel()
	u.wg.Wait()
	u.opts.Store.Close()
	if n := u.pendingFiles(); n > 0 {
		return fmt.Errorf("upload: %d recordings not yet stored stay in %s for the next start", n, u.opts.Dir)
	}
	return nil
}

func (u *Uploader) pendingFiles() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.files)
}

// dispatchLoop hands the files due to the workers, every Interval and
// when a file is closed, until ctx ends.
func (u *Uploader) dispatchLoop(ctx context.Context) {
	defer u.wg.Done()
	defer close(u.work)
	t := time.NewTicker(u.opts.Interval)
	defer t.Stop()
	for {
		u.account()
		for _, f := range u.due() {
			select {
			case u.work <- f:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.wake:
		}
	}
}

// due marks busy and returns the files to look at now.
func (u *Uploader) due() []*file {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := time.Now()
	var out []*file
	for _, f := range u.files {
		if !f.busy && !now.Before(f.retryAt) {
			f.busy = true
			out = append(out, f)
		}
	}
	return out
}

// account updates the spool's size and the full state from the files'
// last sizes.
func (u *Uploader) account() {
	u.mu.Lock()
	fs := make([]*file, 0, len(u.files))
	for _, f := range u.files {
		fs = append(fs, f)
	}
	u.mu.Unlock()
	var n int64
	for _, f := range fs {
		if fi, err := os.Stat(filepath.Join(u.opts.Dir, filepath.FromSlash(f.name))); err == nil {
			f.size.Store(fi.Size())
		}
		n += f.size.Load()
	}
	u.mu.Lock()
	u.spoolBytes.Store(n)
	u.pending.Store(int64(len(u.files)))
	full := u.opts.MaxSpool > 0 && n >= u.opts.MaxSpool
	changed := full != u.full
	u.full = full
	u.mu.Unlock()
	if changed && full {
		u.log.Error("upload: spool full: new recordings are refused until the storage catches up", "bytes", n, "limit", u.opts.MaxSpool)
	} else if changed {
		u.log.Info("upload: spool below its limit again", "bytes", n, "limit", u.opts.MaxSpool)
	}
}

// worker sends the files handed to it until work is closed.
func (u *Uploader) worker(ctx context.Context) {
	defer u.wg.Done()
	for f := range u.work {
		u.mu.Lock()
		live := f.live
		u.mu.Unlock()
		done, err := u.step(ctx, f, live)
		u.mu.Lock()
		f.busy = false
		if err != nil && ctx.Err() == nil {
			f.failures++
			attempt := f.failures
			delay := u.backoff(attempt)
			f.retryAt = time.Now().Add(delay)
			u.errs.Add(1)
			u.mu.Unlock()
			u.log.Warn("upload: failed, will retry", "key", f.key, "err", err, "attempt", attempt, "retry_in", delay.Round(time.Millisecond))
			continue
		}
		if err == nil {
			f.failures = 0
		}
		if done {
			delete(u.files, f.name)
		}
		u.mu.Unlock()
		if done {
			u.account()
		}
	}
}

// backoff is the wait before try n+1: Interval doubled each time, up to
// MaxBackoff, give or take a fifth so that nodes do not retry together.
func (u *Uploader) backoff(n int) time.Duration {
	d := u.opts.MaxBackoff
	if n < 30 {
		d = min(d, u.opts.Interval<<n)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
