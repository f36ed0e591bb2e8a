package proxy

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wsproxy/wsproxy/internal/regfile"
)

// FileHandler serves the files under a directory, as websockify's --web
// does with Python's SimpleHTTPRequestHandler: a file, index.html for a
// directory, and a listing of a directory without one unless
// FileOptions.FileOnly. It is what wsproxy and wsreplay give
// ServerOptions.Handler for --web; it answers any method as GET, the
// Server answering the others with 405 before it is called.
//
// Files are opened through an os.Root: no name, ".." or symbolic link
// (relative or absolute) reaches outside the directory; such a link is
// answered 403 Forbidden. Only regular files and directories are served:
// a named pipe, socket or device is answered 403 without being opened
// (opening a named pipe waits for a writer, on an OS thread, with no
// deadline to end it), and so is a link that loops.
//
// A FileHandler is safe for concurrent use. Close it once the server that
// uses it has stopped.
type FileHandler struct {
	root     *os.Root
	files    http.Handler
	fileOnly bool
}

// FileOptions configures a FileHandler. The zero value lists directories
// that have no index.html.
type FileOptions struct {
	// FileOnly answers 404 Not Found for a directory without index.html
	// instead of listing it (websockify's --file-only). false lists it.
	FileOnly bool
}

// NewFileHandler returns the handler of the files under dir. It returns
// an error if dir cannot be opened as a directory.
func NewFileHandler(dir string, opts FileOptions) (*FileHandler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	// The error os.Root returns for a name that escapes it is not
	// exported: learn it from a name that always does.
	_, err = root.Stat("..")
	escapes := errors.Unwrap(err)
	if escapes == nil {
		root.Close()
		return nil, fmt.Errorf("web: %s: .. did not escape it as it should (%v)", dir, err)
	}
	return &FileHandler{
		root:     root,
		files:    http.FileServer(rootFiles{root: root, escapes: escapes}),
		fileOnly: opts.FileOnly,
	}, nil
}

// ServeHTTP serves the file or directory of r.URL.Path.
func (h *FileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.IndexByte(r.URL.Path, 0) >= 0 {
		// No file has a NUL in its name; a Server rejects these first.
		http.Error(w, "400 Bad Request: malformed request path", http.StatusBadRequest)
		return
	}
	if h.fileOnly && !h.listable(r.URL.Path) {
		http.NotFound(w, r) // websockify's list_directory with --file-only
		return
	}
	h.files.ServeHTTP(w, r)
}

// listable reports whether the URL path p may be served with --file-only:
// anything but a directory without index.html.
func (h *FileHandler) listable(p string) bool {
	// As http.FileServer names it.
	name := path.Clean("/" + p)[1:]
	if name == "" {
		name = "."
	}
	name = filepath.FromSlash(name)
	if fi, err := h.root.Stat(name); err != nil || !fi.IsDir() {
		return true
	}
	fi, err := h.root.Stat(filepath.Join(name, "index.html"))
	return err == nil && fi.Mode().IsRegular()
}

// Close closes the directory. Later requests are answered with errors.
func (h *FileHandler) Close() error { return h.root.Close() }

// rootFiles is the http.FileSystem of a FileHandler. Its errors are those
// http.FileServer answers with 403 or 404 for what a client may ask;
// anything else is a 500.
type rootFiles struct {
	root    *os.Root
	escapes error // os.Root's "path escapes from parent"
}

// Open opens the file of name, a cleaned path starting with "/" (as
// http.FileServer gives it).
func (f rootFiles) Open(name string) (http.File, error) {
	rel := strings.TrimPrefix(name, "/")
	if rel == "" {
		rel = "."
	}
	file, err := regfile.OpenIn(f.root, filepath.FromSlash(rel))
	switch {
	case err == nil:
		return file, nil
	case errors.Is(err, f.escapes), errors.Is(err, regfile.ErrSpecial), errors.Is(err, syscall.ELOOP):
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENAMETOOLONG):
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return nil, err
}
