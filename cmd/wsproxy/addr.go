package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/wsproxy/wsproxy/cmd/internal/listen"
)

// Addresses as websockify reads them (websocketproxy.py, websockify_init):
// split on the last colon, brackets stripped from the host, a numeric port.

// parseTarget parses "target_addr:target_port".
func parseTarget(s string) (host string, port int, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("target %q: want target_addr:target_port", s)
	}
	host = strings.Trim(s[:i], "[]")
	port, err = strconv.Atoi(s[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("target %q: want target_addr:target_port with a port from 1 to 65535", s)
	}
	return host, port, nil
}

// listen opens the listener the options name: fd 0 (--inetd), a unix
// socket (--unix-listen) or a TCP port. Its connections are followed by
// conns, which also removes the unix socket at the end.
func (c *rootCmd) listen(ctx context.Context, conns *tracker, log *slog.Logger) (net.Listener, error) {
	switch {
	case c.Inetd:
		ln, conn, err := inetdSocket()
		if err != nil {
			return nil, fmt.Errorf("inetd: %w", err)
		}
		if conn != nil {
			return newSingleListener(conns.add(conn)), nil
		}
		return conns.listener(ln), nil
	case c.UnixListen != "":
		mode, err := c.unixListenMode()
		if err != nil {
			return nil, err
		}
		ln, remove, err := listen.Unix(c.UnixListen, mode)
		if err != nil {
			return nil, err
		}
		conns.onEnd(func() {
			if err := remove(); err != nil {
				log.Warn("removing the unix socket", "err", err)
			}
		})
		return conns.listener(ln), nil
	}
	host, port, err := listen.ParseSource(c.Source)
	if err != nil {
		return nil, err
	}
	addr, err := listenAddr(ctx, host, port, c.PreferIPv6)
	if err != nil {
		return nil, err
	}
	network := "tcp"
	if c.Wrap != nil && (host == "" || host == "0.0.0.0") {
		// As websockify, IPv4 only: rebind.so moves only the wrapped
		// command's IPv4 bind of the port, and a command that also binds
		// it on IPv6 (Xvnc does) must not find it taken.
		network = "tcp4"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return conns.listener(ln), nil
}

// listenAddr returns the address to listen on for host and port. A host
// name is resolved here, as websockify does, to its first IPv4 address, or
// with preferIPv6 to its first IPv6 address, when it has both. An empty
// host listens on every address, IPv4 and IPv6.
func listenAddr(ctx context.Context, host string, port int, preferIPv6 bool) (string, error) {
	p := strconv.Itoa(port)
	if host == "" || net.ParseIP(host) != nil {
		return net.JoinHostPort(host, p), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", fmt.Errorf("source address: %w", err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("source address %s: no address", host)
	}
	// Stable, so the resolver's order is kept within a family.
	slices.SortStableFunc(ips, func(a, b net.IPAddr) int {
		av4, bv4 := a.IP.To4() != nil, b.IP.To4() != nil
		if av4 == bv4 {
			return 0
		}
		if av4 != preferIPv6 {
			return -1
		}
		return 1
	})
	return net.JoinHostPort(ips[0].String(), p), nil
}

// errInetd is returned by inetdSocket for a standard input that is not a
// stream socket.
var errInetd = errors.New("standard input is not a stream socket")

// inetdSocket returns the socket on fd 0: a listener (inetd's "wait" mode,
// systemd's Accept=no, what websockify's --inetd takes) or a connection
// (inetd's "nowait", systemd's Accept=yes).
func inetdSocket() (net.Listener, net.Conn, error) {
	listening, err := isListeningSocket(0)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(0, "stdin")
	defer f.Close() // FileListener and FileConn use duplicates
	if listening {
		ln, err := net.FileListener(f)
		return ln, nil, err
	}
	conn, err := net.FileConn(f)
	return nil, conn, err
}

// isListeningSocket reports whether fd is a listening stream socket; it
// returns errInetd if fd is not a stream socket.
func isListeningSocket(fd int) (bool, error) {
	typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errInetd, err)
	}
	if typ != syscall.SOCK_STREAM {
		return false, errInetd
	}
	acc, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errInetd, err)
	}
	return acc != 0, nil
}
