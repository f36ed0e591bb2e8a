package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/wsproxy/wsproxy/replay"
	"github.com/wsproxy/wsproxy/replay/ui"

	"github.com/wsproxy/wsproxy/cmd/internal/authflags"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// defaultNoVNCDir is Debian's novnc package, used by --ui when it exists.
const defaultNoVNCDir = "/usr/share/novnc"

// uiFlags are the options of the web player and recordings browser.
type uiFlags struct {
	UI       bool   `env:"WSREPLAY_UI" group:"Web UI" help:"Serve a recordings browser and player on the same port, at /ui/: the list of recordings with filters and typed-text search, and a player with a timeline, speed, and the typed lines, clicks and clipboard texts beside the picture."`
	NoVNCDir string `name:"novnc-dir" env:"WSREPLAY_NOVNC_DIR" type:"path" placeholder:"DIR" group:"Web UI" help:"noVNC's directory for the --ui player (the one holding core/rfb.js): Debian's /usr/share/novnc, or the npm package @novnc/novnc's. Default: /usr/share/novnc if it exists."`

	FFmpeg       string `name:"ffmpeg" default:"ffmpeg" env:"WSREPLAY_FFMPEG" placeholder:"PROGRAM" group:"Web UI" help:"The ffmpeg program that makes the player's video downloads (Debian package ffmpeg)."`
	VideoExports int    `default:"2" env:"WSREPLAY_VIDEO_EXPORTS" placeholder:"N" group:"Web UI" help:"Videos made at once for the player's downloads, each an ffmpeg taking about a CPU core; a request beyond is answered 503 with Retry-After. 0 turns the video download off."`
	VideoCache   string `default:"512M" env:"WSREPLAY_VIDEO_CACHE" placeholder:"SIZE" group:"Web UI" help:"Size of the finished videos kept for the next downloads (such as 512M or 2G), in a directory under $TMPDIR removed at exit."`
}

// lazyHandler is the HTTP handler given to the replay.Server before the
// --ui handler, which needs the Server, exists.
type lazyHandler struct {
	h    atomic.Pointer[http.Handler]
	next http.Handler // before the --ui handler is set; may be nil
}

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if l.next != nil {
		l.next.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// hookUI prepares opts for --ui: it returns a function that, given the
// Server, starts serving the pages, and returns their Handler to close.
// Without --ui it returns nil.
func (c *rootCmd) hookUI(opts *replay.ServerOptions, log *slog.Logger) func(*replay.Server) (*ui.Handler, error) {
	if !c.UI {
		return nil
	}
	lazy := &lazyHandler{next: opts.Proxy.Handler}
	opts.Proxy.Handler = lazy
	return func(srv *replay.Server) (*ui.Handler, error) {
		dir := c.NoVNCDir
		if dir == "" {
			if _, err := os.Stat(defaultNoVNCDir + "/core/rfb.js"); err == nil {
				dir = defaultNoVNCDir
			} else {
				log.Warn("--ui: no noVNC found at " + defaultNoVNCDir + ": the player needs --novnc-dir")
			}
		}
		exports := c.VideoExports
		if exports == 0 {
			exports = -1 // off
		}
		cache, _ := cli.ParseSize(c.VideoCache) // checked by validateUI
		h, err := ui.New(srv, ui.Options{NoVNCDir: dir, Next: lazy.next, Logger: log,
			FFmpeg: c.FFmpeg, VideoExports: exports, VideoCacheBytes: cache})
		if err != nil {
			return nil, fmt.Errorf("--novnc-dir: %w", err)
		}
		var hh http.Handler = h
		if opts.Proxy.Authenticator != nil {
			hh = uiAuth{pages: authflags.Guard(opts.Proxy.Authenticator, h, log), next: h}
		}
		lazy.h.Store(&hh)
		return h, nil
	}
}

// validateUI checks the --ui options.
func (c *rootCmd) validateUI() error {
	if c.NoVNCDir != "" && !c.UI {
		return errors.New("--novnc-dir needs --ui")
	}
	if c.VideoExports < 0 {
		return errors.New("--video-exports must not be negative (0 turns the video download off)")
	}
	if _, err := cli.ParseSize(c.VideoCache); err != nil {
		return fmt.Errorf("--video-cache: %w", err)
	}
	return nil
}

// uiAuth puts the --ui pages and their JSON (everything under ui.Prefix,
// and the redirect of /ui) behind the auth plugin, whatever --web-auth
// says: they show every recording and what was typed in it. Other paths
// go to next as they are (ui.Handler passes them on to --web).
type uiAuth struct {
	pages http.Handler // the ui.Handler behind authflags.Guard
	next  http.Handler // the ui.Handler itself
}

func (h uiAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path+"/" == ui.Prefix || strings.HasPrefix(r.URL.Path, ui.Prefix) {
		h.pages.ServeHTTP(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// validateAuth checks the auth plugin options with the others.
func (c *rootCmd) validateAuth() error {
	if err := c.Auth.Check(c.VerifyClient); err != nil {
		return err
	}
	switch {
	case c.WebAuth && c.Auth.AuthPlugin == "":
		return errors.New("--web-auth needs --auth-plugin")
	case c.WebAuth && c.Web == "" && !c.UI:
		return errors.New("--web-auth needs --web (or --ui, whose pages are behind the auth plugin anyway)")
	case c.Auth.AuthPlugin != "" && c.RFBListen != "" && c.Password == "" && c.PasswordFile == "":
		return errors.New("--rfb-listen would bypass --auth-plugin (a VNC viewer speaks no HTTP): give --password-file so that its viewers authenticate too")
	case c.UI && c.Auth.Class() == authflags.ExpectOrigin:
		return errors.New("--auth-plugin ExpectOrigin cannot guard the --ui pages: a browser sends no Origin header when it opens a page; use BasicHTTPAuth or ClientCertCNAuth")
	}
	return nil
}
