package ui

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/render"
	"github.com/wsproxy/wsproxy/internal/video"
	"github.com/wsproxy/wsproxy/replay"
)

// Bounds of the video export, GET /ui/api/video.
const (
	// DefaultVideoExports is how many videos are made at once when
	// Options.VideoExports is zero: each runs an ffmpeg that takes about
	// a CPU core.
	DefaultVideoExports = 2
	// DefaultVideoCache is the size in bytes of the finished videos kept
	// when Options.VideoCacheBytes is zero.
	DefaultVideoCache = 512 << 20
	// VideoRetryAfter is the Retry-After, in seconds, of the 503 answered
	// when every export slot is taken.
	VideoRetryAfter = 10
)

// errVideoBusy is answered 503 with Retry-After.
var errVideoBusy = errors.New("ui: every video export slot is taken: try again later")

// videoKey identifies a video: a version of a recording and the
// parameters it is made with.
type videoKey struct {
	file       fileKey
	format     string // "mp4" or "webm"
	from, to   time.Duration
	idle       time.Duration
	speed, fps float64
	captions   bool
}

// videoFile is a finished export in the cache.
type videoFile struct {
	key  videoKey
	path string
	size int64
	made time.Time
}

// videoJob is an export being made.
type videoJob struct {
	done  chan struct{} // closed when it ends
	err   error         // its failure, set before done closes
	total time.Duration // session time to cover
	at    atomic.Int64  // session time reached, in ns from the start
}

// videoExports makes the videos, at most len(slots) at once, and keeps
// the finished ones in a directory, the least recently used removed
// beyond max bytes (the newest is always kept, to be served). It is safe
// for concurrent use.
type videoExports struct {
	program string
	parent  string // where dir is made
	slots   chan struct{}
	max     int64

	mu    sync.Mutex
	dir   string                     // made on first use, removed by close
	order *list.List                 // of *videoFile, most recent first
	files map[videoKey]*list.Element // in order
	bytes int64
	jobs  map[videoKey]*videoJob
}

func newVideoExports(opts Options) *videoExports {
	v := &videoExports{program: opts.FFmpeg, parent: opts.VideoDir, max: opts.VideoCacheBytes,
		order: list.New(), files: make(map[videoKey]*list.Element), jobs: make(map[videoKey]*videoJob)}
	if v.program == "" {
		v.program = "ffmpeg"
	}
	if v.max == 0 {
		v.max = DefaultVideoCache
	}
	n := opts.VideoExports
	if n == 0 {
		n = DefaultVideoExports
	}
	if n > 0 {
		v.slots = make(chan struct{}, n)
	}
	return v
}

// close removes the directory of the videos.
func (v *videoExports) close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.dir == "" {
		return nil
	}
	err := os.RemoveAll(v.dir)
	v.dir, v.bytes = "", 0
	v.order.Init()
	clear(v.files)
	return err
}

// workDir returns the directory of the videos, made on first use.
// v.mu is held.
func (v *videoExports) workDir() (string, error) {
	if v.dir == "" {
		d, err := os.MkdirTemp(v.parent, "wsreplay-video-")
		if err != nil {
			return "", fmt.Errorf("ui: video directory: %w", err)
		}
		v.dir = d
	}
	return v.dir, nil
}

// cached opens the finished video of k, if there is one. v.mu is held.
func (v *videoExports) cached(k videoKey) (*os.File, *videoFile) {
	e, ok := v.files[k]
	if !ok {
		return nil, nil
	}
	vf := e.Value.(*videoFile)
	f, err := os.Open(vf.path)
	if err != nil {
		v.drop(e)
		return nil, nil
	}
	v.order.MoveToFront(e)
	return f, vf
}

// drop forgets and removes a cached video. v.mu is held.
func (v *videoExports) drop(e *list.Element) {
	vf := v.order.Remove(e).(*videoFile)
	delete(v.files, vf.key)
	v.bytes -= vf.size
	os.Remove(vf.path)
}

// add caches a finished video, removing the least recently used beyond
// v.max bytes. v.mu is held.
func (v *videoExports) add(vf *videoFile) {
	v.files[vf.key] = v.order.PushFront(vf)
	v.bytes += vf.size
	for v.bytes > v.max && v.order.Len() > 1 {
		v.drop(v.order.Back())
	}
}

// videoParams reads the query of GET /ui/api/video into a key.
func videoParams(q map[string][]string, rec replay.Recording) (videoKey, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	k := videoKey{file: keyOf(rec), format: "mp4", speed: 1, fps: render.DefaultFPS}
	switch f := get("format"); f {
	case "", "mp4":
	case "webm":
		k.format = f
	default:
		return k, fmt.Errorf("format: want mp4 or webm, not %q", f)
	}
	seconds := func(name string, dst *time.Duration) error {
		s := get(name)
		if s == "" {
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1e9 {
			return fmt.Errorf("%s: want seconds, not %q", name, s)
		}
		*dst = time.Duration(f * float64(time.Second)).Truncate(time.Millisecond)
		return nil
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"from", &k.from}, {"to", &k.to}, {"idle", &k.idle}} {
		if err := seconds(p.name, p.dst); err != nil {
			return k, err
		}
	}
	switch {
	case k.from > rec.Duration:
		return k, fmt.Errorf("from: %v is after the end of the recording, at %v", k.from, rec.Duration)
	case k.to > 0 && k.to <= k.from:
		return k, fmt.Errorf("to: %v is not after from, %v", k.to, k.from)
	}
	if k.to >= rec.Duration {
		k.to = 0 // the end: one video, not one per later time
	}
	number := func(name string, dst *float64, lo, hi float64) error {
		s := get(name)
		if s == "" {
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f >= lo && f <= hi) {
			return fmt.Errorf("%s: want a number from %g to %g, not %q", name, lo, hi, s)
		}
		*dst = f
		return nil
	}
	if err := number("speed", &k.speed, 0.1, 100); err != nil {
		return k, err
	}
	if err := number("fps", &k.fps, 1, 60); err != nil {
		return k, err
	}
	switch c := get("captions"); c {
	case "", "0", "false":
	case "1", "true":
		k.captions = true
	default:
		return k, fmt.Errorf("captions: want 1 or 0, not %q", c)
	}
	return k, nil
}

// videoRequest finds the recording and the key of a video request, or
// answers the error and returns false.
func (h *Handler) videoRequest(w http.ResponseWriter, r *http.Request) (replay.Recording, videoKey, bool) {
	q := r.URL.Query()
	rec, err := h.find(q.Get("name"))
	if err != nil {
		h.fail(w, http.StatusNotFound, err)
		return rec, videoKey{}, false
	}
	k, err := videoParams(q, rec)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return rec, k, false
	}
	return rec, k, true
}

// serveVideo answers GET /ui/api/video?name=NAME[&format=mp4|webm]
// [&from=S][&to=S][&speed=X][&fps=N][&idle=S][&captions=1]: the video
// of the session, made as wsrecord-inspect video makes it, as an
// attachment. The video is written to a file, then served with its
// length and range requests; finished videos are cached per file version
// and parameters. A request for a video being made waits for it. At most
// Options.VideoExports are made at once: beyond, 503 with Retry-After.
// Without ffmpeg: 501. A client that goes away stops its export.
func (h *Handler) serveVideo(w http.ResponseWriter, r *http.Request) {
	v := h.video
	if v.slots == nil {
		h.fail(w, http.StatusNotImplemented, errors.New("video export is disabled on this server"))
		return
	}
	rec, k, ok := h.videoRequest(w, r)
	if !ok {
		return
	}
	if _, err := exec.LookPath(v.program); err != nil {
		h.fail(w, http.StatusNotImplemented, fmt.Errorf("%w (%v)", video.ErrNoFFmpeg, err))
		return
	}
	for {
		v.mu.Lock()
		if f, vf := v.cached(k); f != nil {
			v.mu.Unlock()
			defer f.Close()
			h.sendVideo(w, r, rec, vf, f)
			return
		}
		if job := v.jobs[k]; job != nil {
			v.mu.Unlock()
			select {
			case <-job.done:
			case <-r.Context().Done():
				return
			}
			if job.err != nil && !errors.Is(job.err, context.Canceled) {
				h.failVideo(w, job.err)
				return
			}
			continue // made, or cancelled by its client: look again
		}
		select {
		case v.slots <- struct{}{}:
		default:
			v.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(VideoRetryAfter))
			h.fail(w, http.StatusServiceUnavailable, errVideoBusy)
			return
		}
		job := &videoJob{done: make(chan struct{}), total: rec.Duration - k.from}
		if k.to > 0 {
			job.total = min(k.to, rec.Duration) - k.from
		}
		v.jobs[k] = job
		dir, err := v.workDir()
		v.mu.Unlock()
		var (
			f  *os.File
			vf *videoFile
		)
		if err == nil {
			f, vf, err = h.exportVideo(r.Context(), rec, k, job, dir)
		}
		if err != nil && r.Context().Err() != nil {
			// Stopped for its client, not failed: a request waiting for
			// the same video starts it again.
			err = fmt.Errorf("%w (%v)", context.Canceled, err)
		}
		v.mu.Lock()
		delete(v.jobs, k)
		if err == nil {
			v.add(vf)
		}
		<-v.slots // under v.mu: no job listed, no slot taken
		job.err = err
		close(job.done)
		v.mu.Unlock()
		if err != nil {
			if r.Context().Err() == nil {
				h.failVideo(w, err)
			}
			return
		}
		defer f.Close()
		h.sendVideo(w, r, rec, vf, f)
		return
	}
}

// exportVideo makes the video of k in dir and opens it.
func (h *Handler) exportVideo(ctx context.Context, rec replay.Recording, k videoKey, job *videoJob, dir string) (*os.File, *videoFile, error) {
	out, err := os.CreateTemp(dir, "export-*."+k.format)
	if err != nil {
		return nil, nil, err
	}
	out.Close()
	path := out.Name()
	rf, osf, err := h.src.Open(rec.Name)
	if err != nil {
		os.Remove(path)
		return nil, nil, err
	}
	defer osf.Close()
	defer rf.Close()
	start := time.Now()
	p := render.NewPlayer(ctx, rf, nil, screen.Options{})
	_, err = video.Export(ctx, p, rf, video.ExportOptions{
		Frames:   render.FrameOptions{FPS: k.fps, Speed: k.speed, From: k.from, To: k.to, IdleLimit: k.idle, Cursor: true},
		Output:   path,
		Format:   k.format,
		Program:  h.video.program,
		Captions: k.captions,
		Progress: func(t time.Duration) { job.at.Store(int64(t - k.from)) },
	})
	var f *os.File
	var fi os.FileInfo
	if err == nil {
		if f, err = os.Open(path); err == nil {
			if fi, err = f.Stat(); err != nil {
				f.Close()
			}
		}
	}
	if err != nil {
		os.Remove(path)
		return nil, nil, err
	}
	h.log.Info("ui: video export", "recording", rec.Name, "format", k.format, "bytes", fi.Size(), "took", time.Since(start))
	return f, &videoFile{key: k, path: path, size: fi.Size(), made: fi.ModTime()}, nil
}

// failVideo answers an export's failure.
func (h *Handler) failVideo(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, video.ErrNoFFmpeg):
		status = http.StatusNotImplemented
	case errors.Is(err, format.ErrNoIdentity), errors.Is(err, format.ErrWrongIdentity):
		status = http.StatusUnprocessableEntity
		err = fmt.Errorf("no video of this recording: %w (give wsreplay --identity)", err)
	case errors.Is(err, render.ErrNoScreen), errors.Is(err, render.ErrAfterEnd):
		status = http.StatusUnprocessableEntity
		err = fmt.Errorf("no video of this recording: %w", err)
	}
	h.fail(w, status, err)
}

// sendVideo serves a finished video as an attachment.
func (h *Handler) sendVideo(w http.ResponseWriter, r *http.Request, rec replay.Recording, vf *videoFile, f *os.File) {
	base := rec.Name[strings.LastIndexByte(rec.Name, '/')+1:]
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	hd := w.Header()
	hd.Set("Content-Disposition", "attachment; filename="+strconv.Quote(base+"."+vf.key.format))
	hd.Set("Content-Type", "video/"+vf.key.format)
	hd.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", vf.made, f)
}

// VideoStatus is the body of GET /ui/api/videostatus.
type VideoStatus struct {
	// State is "ready" (made and kept: a request is served at once),
	// "exporting" (being made) or "none".
	State string `json:"state"`
	// Progress is the part made, from 0 to 1, while exporting.
	Progress float64 `json:"progress"`
	// Exports counts the videos being made; MaxExports bounds it.
	Exports    int `json:"exports"`
	MaxExports int `json:"max_exports"`
}

// serveVideoStatus answers GET /ui/api/videostatus with the parameters
// of GET /ui/api/video: where the making of that video stands, for the
// page to show while it waits.
func (h *Handler) serveVideoStatus(w http.ResponseWriter, r *http.Request) {
	_, k, ok := h.videoRequest(w, r)
	if !ok {
		return
	}
	v := h.video
	st := VideoStatus{State: "none", MaxExports: cap(v.slots)}
	v.mu.Lock()
	st.Exports = len(v.jobs)
	if _, ok := v.files[k]; ok {
		st.State, st.Progress = "ready", 1
	} else if job := v.jobs[k]; job != nil {
		st.State = "exporting"
		if job.total > 0 {
			st.Progress = min(1, max(0, float64(job.at.Load())/float64(job.total)))
		}
	}
	v.mu.Unlock()
	writeJSON(w, st)
}
