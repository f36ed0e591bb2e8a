package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The listener options as wsproxy reads them (cmd/wsproxy/addr.go), which
// package main cannot share: a source split on its last colon, brackets
// stripped from the host, a numeric port; a unix socket made with its
// permissions before it is reachable.

// parseSource parses "[source_addr:]source_port". host is empty for a port
// alone: every address.
func parseSource(s string) (host string, port int, err error) {
	host, portStr := "", s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, portStr = strings.Trim(s[:i], "[]"), s[i+1:]
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("source %q: want [source_addr:]source_port with a port from 0 to 65535", s)
	}
	return host, port, nil
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// parseMode parses an octal file mode such as 0600.
func parseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q is not an octal file mode such as 0600", s)
	}
	return os.FileMode(m), nil
}

// listenUnix listens on a unix socket at path with the permissions mode,
// replacing an existing file. The socket is made in a private directory
// beside path, given its mode, then renamed into place, so that it is
// never reachable with other permissions. remove removes the socket if it
// is still the one at path.
func listenUnix(path string, mode os.FileMode) (ln net.Listener, remove func() error, err error) {
	path, err = filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unix-listen: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".wsreplay-")
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
