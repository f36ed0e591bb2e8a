package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
)

// webHandler serves --web DIR as wsproxy's --web does (cmd/wsproxy/web.go):
// files, index.html for a directory, a listing of one without it. Files are
// opened through an os.Root: no name, ".." or symbolic link reaches outside
// DIR; such a link is answered 403.
type webHandler struct {
	root  *os.Root
	files http.Handler
}

func newWebHandler(dir string) (*webHandler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	// The error os.Root returns for a name that escapes it is not exported:
	// learn it from a name that always does.
	_, err = root.Open("..")
	escapes := errors.Unwrap(err)
	if escapes == nil {
		root.Close()
		return nil, fmt.Errorf("web: %s: opening .. did not fail as it should (%v)", dir, err)
	}
	return &webHandler{root: root, files: http.FileServerFS(rootFS{FS: root.FS(), escapes: escapes})}, nil
}

func (h *webHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.files.ServeHTTP(w, r) }

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
