package ui

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
)

// Prefix is the URL path under which a Handler serves its pages and API.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every response: scripts, styles
// and images from the same origin only (thumbnails are same-origin PNGs),
// WebSockets to the same host (the replay and its control), no frames, no
// plugins, no inline code.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// Source is what a Handler shows: a replay.Server satisfies it.
type Source interface {
	// Recordings lists the recordings.
	Recordings() ([]replay.Recording, error)
	// Open opens one by name (see replay.Server.Open).
	Open(name string) (*recfile.File, replay.StoreFile, error)
}

// Options configure a Handler. The zero value serves the pages without
// noVNC (the player then says so) and passes other paths to nothing (404).
type Options struct {
	// NoVNCDir is the directory of noVNC's files: Debian's
	// /usr/share/novnc or the npm package's directory, which holds
	// core/rfb.js. Empty means no player.
	NoVNCDir string
	// Next serves the requests for paths outside Prefix. nil answers 404.
	Next http.Handler
	// Logger logs what cannot be served. nil discards.
	Logger *slog.Logger

	// FFmpeg is the ffmpeg program that makes the videos of GET
	// /ui/api/video. Empty means "ffmpeg" on $PATH.
	FFmpeg string
	// VideoExports bounds the videos made at once; a request beyond is
	// answered 503 with Retry-After. Zero means DefaultVideoExports;
	// negative disables the video export (501).
	VideoExports int
	// VideoCacheBytes bounds the size of the finished videos kept for
	// the next requests (the newest is kept whatever its size). Zero
	// means DefaultVideoCache.
	VideoCacheBytes int64
	// VideoDir is the directory in which a directory of the videos is
	// made, and removed by Close. Empty means os.TempDir().
	VideoDir string
}

// Handler serves the pages, their static files and their JSON API under
// Prefix. Create it with New; it is safe for concurrent use. Close
// releases noVNC's directory.
type Handler struct {
	src   Source
	next  http.Handler
	novnc *proxy.FileHandler
	log   *slog.Logger
	// assets are the embedded files, by name under static/.
	assets map[string]*asset

	mu    sync.Mutex
	cache map[fileKey]*details // by file version
	veri  map[fileKey]string   // integrity, by file version
	thumb *thumbCache
	video *videoExports
	gz    gzipCache // of noVNC's files
}

// New returns the Handler of src. It returns an error if opts.NoVNCDir
// is given but holds no core/rfb.js.
func New(src Source, opts Options) (*Handler, error) {
	h := &Handler{src: src, next: opts.Next, log: opts.Logger,
		cache: make(map[fileKey]*details), veri: make(map[fileKey]string), thumb: newThumbCache(512),
		video: newVideoExports(opts)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if opts.NoVNCDir != "" {
		fi, err := os.Stat(path.Join(opts.NoVNCDir, "core", "rfb.js"))
		if err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("ui: %s is not noVNC's directory: no core/rfb.js", opts.NoVNCDir)
		}
		if h.novnc, err = proxy.NewFileHandler(opts.NoVNCDir, proxy.FileOptions{FileOnly: true}); err != nil {
			return nil, fmt.Errorf("ui: %w", err)
		}
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	if h.assets, err = loadAssets(sub); err != nil {
		return nil, err
	}
	return h, nil
}

// Close releases noVNC's directory and removes the videos made. It is
// idempotent; call it once the Handler serves no more requests.
func (h *Handler) Close() error {
	err := h.video.close()
	if h.novnc != nil {
		err = errors.Join(h.novnc.Close(), err)
	}
	return err
}

// ServeHTTP serves GET and HEAD requests under Prefix, and passes the
// others to Options.Next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path+"/" == Prefix {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		if h.next != nil {
			h.next.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case rest == "" || rest == "index.html":
		h.serveStatic(w, r, "index.html")
	case strings.HasPrefix(rest, "api/"):
		h.serveAPI(w, r, strings.TrimPrefix(rest, "api/"))
	case strings.HasPrefix(rest, "novnc/"):
		if h.novnc == nil {
			http.Error(w, "no noVNC: give wsreplay --novnc-dir", http.StatusNotFound)
			return
		}
		// Revalidate (by Last-Modified): noVNC may be upgraded under us.
		hd.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + strings.TrimPrefix(rest, "novnc/")
		r2.URL.RawPath = ""
		h.gz.serveGzip(w, r2, h.novnc)
	default:
		h.serveStatic(w, r, rest)
	}
}

// errNoRecording is answered 404.
var errNoRecording = errors.New("ui: no such recording")
