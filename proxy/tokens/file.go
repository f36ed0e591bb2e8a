package tokens

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/wsproxy/wsproxy/internal/filesnap"
	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/proxy"
)

// FileOptions configures a File. The zero value loads the file
// once and logs nothing.
type FileOptions struct {
	// Reload picks up changes to the file, or to the files of the
	// directory, at the next lookup after them (websockify's TokenFile,
	// which reads the whole file again at every lookup). false loads them
	// once (ReadOnlyTokenFile).
	Reload bool

	// Logger receives a warning for each line that cannot be read, and a
	// debug line for each load. nil means no logging.
	Logger *slog.Logger
}

// File resolves tokens from a file, or from every regular file of a
// directory, of lines "token: host:port" (websockify's ReadOnlyTokenFile
// and TokenFile):
//
//   - a line is split where a colon is followed by white space (a tab or a
//     space), and must have exactly one such place;
//   - the target is split on its last colon: "::1:5900" and "[::1]:5900"
//     are IPv6 targets; "unix_socket:/path" names a unix socket;
//   - blank lines and lines starting with "#" are skipped;
//   - a line that cannot be read is skipped with a warning, as websockify
//     does; a token given twice takes its last target (files of a
//     directory are read in name order).
//
// It is safe for concurrent use.
type File struct {
	path   string
	reload bool
	log    *slog.Logger

	mu      sync.Mutex
	targets map[string]proxy.Target
	snap    filesnap.Snapshot // of what targets was read from
}

// NewFile loads the token file or directory at path. It returns an
// error if path cannot be read.
func NewFile(path string, opts FileOptions) (*File, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &File{path: path, reload: opts.Reload, log: log}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// Lookup returns the target of token. It returns an error wrapping
// proxy.ErrUnknownToken for a token not in the file, and the error of reading
// the file when a reload fails.
func (f *File) Lookup(_ context.Context, token string) (proxy.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reload && f.snap.Changed() {
		if err := f.load(); err != nil {
			f.snap = filesnap.Snapshot{} // try again at the next lookup
			return proxy.Target{}, err
		}
	}
	t, ok := f.targets[token]
	if !ok {
		return proxy.Target{}, proxy.ErrUnknownToken
	}
	return t, nil
}

// load reads the file or directory into f.targets. f.mu is held, or f is
// new.
func (f *File) load() error {
	var snap filesnap.Snapshot
	fi, err := snap.Stat(f.path)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	files := []string{f.path}
	if fi.IsDir() {
		entries, err := os.ReadDir(f.path)
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		files = files[:0]
		for _, e := range entries {
			p := filepath.Join(f.path, e.Name())
			// As websockify's Path.is_file: regular files, through
			// symbolic links.
			if fi, err := snap.Stat(p); err == nil && fi.Mode().IsRegular() {
				files = append(files, p)
			}
		}
	}
	targets := make(map[string]proxy.Target)
	for _, p := range files {
		if err := f.read(p, targets); err != nil {
			return fmt.Errorf("token file: %w", err)
		}
	}
	f.targets, f.snap = targets, snap
	f.log.Debug("token file loaded", "path", f.path, "files", len(files), "tokens", len(targets))
	return nil
}

// read adds the tokens of the file at path to targets. A special file
// (a named pipe, a socket, a device) is an error, and is not opened.
func (f *File) read(path string, targets map[string]proxy.Target) error {
	file, err := regfile.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		token, t, err := parseTokenLine(line)
		if err != nil {
			// The line holds a secret: only its place is logged.
			f.log.Warn("token file: line skipped", "file", path, "line", n, "err", err)
			continue
		}
		if _, dup := targets[token]; dup {
			f.log.Warn("token file: token given again, this line wins", "file", path, "line", n)
		}
		targets[token] = t
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// parseTokenLine parses a "token: host:port" line. websockify splits it
// with re.split(r':\s', line), which must give two parts.
func parseTokenLine(line string) (string, proxy.Target, error) {
	sep := -1
	for i := 0; i < len(line); i++ {
		if line[i] != ':' {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(line[i+1:]); !unicode.IsSpace(r) {
			continue
		}
		if sep >= 0 {
			return "", proxy.Target{}, errors.New(`want "token: host:port": more than one colon followed by a space`)
		}
		sep = i
	}
	if sep < 0 {
		return "", proxy.Target{}, errors.New(`want "token: host:port": no colon followed by a space`)
	}
	token := strings.TrimSpace(line[:sep])
	if token == "" {
		return "", proxy.Target{}, errors.New(`want "token: host:port": empty token`)
	}
	t, err := ParseTarget(strings.TrimSpace(line[sep+1:]))
	return token, t, err
}

// FileName resolves a token from the file of that name in a
// directory, which holds "host:port" or "unix_socket:/path" (websockify's
// TokenFileName). The token must be a plain file name: one with a slash,
// "." and ".." are unknown, as is a name whose symbolic links lead out of
// the directory. It is safe for concurrent use.
type FileName struct {
	dir string // absolute, symbolic links resolved
}

// maxTargetFile bounds what is read of a FileName file.
const maxTargetFile = 4 << 10

// NewFileName returns the plugin for the directory dir. It returns
// an error if dir is not a directory.
func NewFileName(dir string) (*FileName, error) {
	d, err := resolveDir(dir)
	if err != nil {
		return nil, fmt.Errorf("token directory: %w", err)
	}
	return &FileName{dir: d}, nil
}

// Lookup returns the target named in the file token. It returns an error
// wrapping proxy.ErrUnknownToken when there is no such regular file, and other
// errors when it cannot be read or does not hold a target.
func (d *FileName) Lookup(_ context.Context, token string) (proxy.Target, error) {
	if token == "." || token == ".." || strings.ContainsRune(token, '/') || strings.ContainsRune(token, filepath.Separator) {
		return proxy.Target{}, fmt.Errorf("%w: not a plain file name", proxy.ErrUnknownToken)
	}
	path, err := within(d.dir, token, 0)
	if err != nil {
		return proxy.Target{}, err
	}
	// Should the file have become a named pipe since within looked,
	// opening it does not wait for a writer, and fails.
	file, err := regfile.Open(path)
	if err != nil {
		return proxy.Target{}, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, maxTargetFile+1))
	if err != nil {
		return proxy.Target{}, err
	}
	if len(b) > maxTargetFile {
		return proxy.Target{}, fmt.Errorf("%s: larger than %d bytes", path, maxTargetFile)
	}
	t, err := ParseTarget(strings.TrimSpace(string(b)))
	if err != nil {
		return proxy.Target{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// resolveDir returns dir absolute with its symbolic links resolved, or an
// error if it is not a directory.
func resolveDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s: not a directory", dir)
	}
	return real, nil
}

// within returns the path of name inside dir (absolute, its symbolic
// links resolved), with its symbolic links resolved. A name that is not
// local (absolute, or with ".." leading out), whose links lead out of dir,
// that does not exist or whose file type is not typ (0 for a regular
// file) is an unknown token.
func within(dir, name string, typ fs.FileMode) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 || !filepath.IsLocal(name) {
		return "", fmt.Errorf("%w: not a local name", proxy.ErrUnknownToken)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", fmt.Errorf("%w: %w", proxy.ErrUnknownToken, err)
	}
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(dir, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %s leads out of %s", proxy.ErrUnknownToken, name, dir)
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return "", fmt.Errorf("%w: %w", proxy.ErrUnknownToken, err)
	}
	if fi.Mode().Type() != typ {
		what := "a regular file"
		if typ == fs.ModeSocket {
			what = "a socket"
		}
		return "", fmt.Errorf("%w: %s is not %s", proxy.ErrUnknownToken, real, what)
	}
	return real, nil
}
