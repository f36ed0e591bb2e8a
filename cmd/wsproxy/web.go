package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"

	"github.com/wsproxy/wsproxy/proxy"
)

// webHandler serves --web DIR on the WebSocket port, as websockify's
// SimpleHTTPRequestHandler does: files, index.html for a directory, and a
// listing of a directory without one unless --file-only. The proxy answers
// other methods than GET and HEAD with 405 before the handler is called.
//
// Files are opened through an os.Root: no name, ".." or symbolic link
// (relative or absolute) reaches outside DIR; such a link is answered 403.
type webHandler struct {
	root     *os.Root
	files    http.Handler
	fileOnly bool
}

// webHandler returns the handler of --web, or nil without it. Close it.
func (c *rootCmd) webHandler() (*webHandler, error) {
	if c.Web == "" {
		return nil, nil
	}
	root, err := os.OpenRoot(c.Web)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	// The error os.Root returns for a name that escapes it is not exported:
	// learn it from a name that always does.
	_, err = root.Open("..")
	escapes := errors.Unwrap(err)
	if escapes == nil {
		root.Close()
		return nil, fmt.Errorf("web: %s: opening .. did not fail as it should (%v)", c.Web, err)
	}
	fsys := rootFS{FS: root.FS(), escapes: escapes}
	return &webHandler{root: root, files: http.FileServerFS(fsys), fileOnly: c.FileOnly}, nil
}

func (h *webHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.fileOnly {
		// As http.FileServer names it.
		name := path.Clean("/" + r.URL.Path)[1:]
		if name == "" {
			name = "."
		}
		if fi, err := h.root.Stat(name); err == nil && fi.IsDir() {
			if _, err := h.root.Stat(path.Join(name, "index.html")); err != nil {
				http.NotFound(w, r) // websockify's list_directory with --file-only
				return
			}
		}
	}
	h.files.ServeHTTP(w, r)
}

// Close closes DIR.
func (h *webHandler) Close() error { return h.root.Close() }

// rootFS is an os.Root's FS whose "path escapes" errors are permission
// errors, which http.FileServer answers 403 (it answers 500 otherwise).
type rootFS struct {
	fs.FS
	escapes error
}

func (f rootFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil && errors.Is(err, f.escapes) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return file, err
}

// webAuth applies the auth plugin to static files (--web-auth), as the
// proxy applies it to WebSocket upgrades.
type webAuth struct {
	auth proxy.Authenticator
	next http.Handler
}

func (h webAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, err := h.auth.Authenticate(r.Context(), &proxy.Request{HTTP: r})
	if err == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	var he *proxy.HTTPError
	if !errors.As(err, &he) {
		http.Error(w, "authentication failed", http.StatusInternalServerError)
		return
	}
	for k, v := range he.Header {
		w.Header()[k] = v
	}
	http.Error(w, he.Reason, he.Status)
}
