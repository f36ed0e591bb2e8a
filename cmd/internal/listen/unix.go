// Package listen holds the listening code that wsproxy and wsreplay
// share: websockify's --unix-listen and --unix-listen-mode, and systemd's
// socket activation and readiness notification.
package listen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

var (
	// ErrNotSocket is returned by Unix when the path names a file that is
	// not a socket: it is left untouched.
	ErrNotSocket = errors.New("listen: not a socket")
	// ErrInUse is returned by Unix when a process listens on the socket
	// at the path, or another file took the path while Unix made its own.
	ErrInUse = errors.New("listen: address in use")
)

// probeTimeout bounds the connection Unix makes to an existing socket to
// learn whether anyone listens on it.
const probeTimeout = 2 * time.Second

// ParseMode parses file permissions in octal, as websockify reads
// --unix-listen-mode.
func ParseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q is not an octal file mode such as 0600", s)
	}
	return os.FileMode(m), nil
}

// Unix listens on a unix socket at path with the permissions mode.
//
// An existing socket at path is replaced only if it is stale: nobody
// accepts connections on it (connecting is refused). A live one is
// ErrInUse, and any other file (a regular file, a directory, a FIFO, a
// symbolic link, even one to a socket) is ErrNotSocket; both are left as
// they are. websockify unlinks whatever is at the path.
//
// The socket is made in a private directory beside path, given its mode,
// then hard-linked into place, so it is never reachable with other
// permissions (websockify sets the process's umask around bind, which a Go
// program cannot do safely), and a file that appears at path meanwhile is
// not overwritten (ErrInUse).
//
// remove removes the socket if it is still the one Unix made (the same
// inode): a file that took its place since is left alone.
func Unix(path string, mode os.FileMode) (ln net.Listener, remove func() error, err error) {
	path, err = filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unix-listen: %w", err)
	}
	stale, err := staleSocket(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unix-listen %s: %w", path, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".listen-")
	if err != nil {
		return nil, nil, fmt.Errorf("unix-listen: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("unix-listen: %w", err)
	}
	ul.SetUnlinkOnClose(false) // the socket moves: remove does it
	fail := func(err error) (net.Listener, func() error, error) {
		ul.Close()
		return nil, nil, fmt.Errorf("unix-listen %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(tmp)
	if err != nil {
		return fail(err)
	}
	if stale != nil {
		// Only the socket that was probed: not a file that replaced it.
		if now, err := os.Lstat(path); err == nil && os.SameFile(stale, now) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(fmt.Errorf("removing the stale socket: %w", err))
			}
		}
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fail(fmt.Errorf("%w: a file appeared there meanwhile", ErrInUse))
		}
		return fail(err)
	}
	remove = func() error {
		if now, err := os.Lstat(path); err != nil || !os.SameFile(fi, now) {
			return nil // gone, or another file took its place
		}
		return os.Remove(path)
	}
	return &unixListener{UnixListener: ul, path: path}, remove, nil
}

// staleSocket checks what is at path before Unix makes its socket there.
// It returns nil when there is nothing, the file's information when it is
// a socket nobody listens on, and an error (ErrInUse, ErrNotSocket, or
// why it cannot tell) otherwise.
func staleSocket(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return nil, fmt.Errorf("%w: %s is there; it is left untouched", ErrNotSocket, fileKind(fi.Mode()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	switch {
	case err == nil:
		c.Close()
		return nil, fmt.Errorf("%w: a process is listening on the socket", ErrInUse)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fi, nil // nobody listens: left over by a process that ended
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, context.DeadlineExceeded):
		// A listener whose queue of connections is full.
		return nil, fmt.Errorf("%w: a process is listening on the socket (its backlog is full)", ErrInUse)
	}
	return nil, fmt.Errorf("an existing socket that cannot be probed; it is left untouched: %w", err)
}

// fileKind names the type of a file that is not a socket, for errors.
func fileKind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeNamedPipe:
		return "a named pipe (FIFO)"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "a device"
	}
	return "a file of type " + m.Type().String()
}

// unixListener reports the path the socket was linked to as its address.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }
