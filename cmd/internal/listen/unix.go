// Package listen holds the listening code that wsproxy and wsreplay
// share: websockify's --unix-listen and --unix-listen-mode, and systemd's
// socket activation and readiness notification.
package listen

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// ParseMode parses file permissions in octal, as websockify reads
// --unix-listen-mode.
func ParseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q is not an octal file mode such as 0600", s)
	}
	return os.FileMode(m), nil
}

// Unix listens on a unix socket at path with the permissions mode. An
// existing file at path is replaced, as websockify does. The socket is made
// in a private directory beside path, given its mode, then renamed into
// place, so it is never reachable with other permissions (websockify sets
// the process's umask around bind, which a Go program cannot do safely).
// remove removes the socket if it is still the one at path.
func Unix(path string, mode os.FileMode) (ln net.Listener, remove func() error, err error) {
	path, err = filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unix-listen: %w", err)
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
		return nil, nil, fmt.Errorf("unix-listen: %w", err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(tmp)
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	remove = func() error {
		if now, err := os.Lstat(path); err != nil || !os.SameFile(fi, now) {
			return nil // gone, or another socket took its place
		}
		return os.Remove(path)
	}
	return &unixListener{UnixListener: ul, path: path}, remove, nil
}

// unixListener reports the path the socket was renamed to as its address.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }
