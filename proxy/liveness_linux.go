package proxy

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const socketErrorSupported = true

// setUserTimeout sets TCP_USER_TIMEOUT (RFC 5482; tcp(7)): how long sent
// data may stay unacknowledged, or keepalive probes unanswered, before
// the kernel ends the connection with ETIMEDOUT.
func setUserTimeout(raw syscall.RawConn, d time.Duration) error {
	ms := int(max(min(d.Milliseconds(), 1<<31-1), 1))
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
	})
	if err != nil {
		return err
	}
	return serr
}

// setNotSentLowat sets TCP_NOTSENT_LOWAT (tcp(7)): the socket is writable
// only while less than n bytes are unsent.
func setNotSentLowat(raw syscall.RawConn, n int) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	})
	if err != nil {
		return err
	}
	return serr
}

// socketError returns the error the kernel holds for the socket fd, as a
// syscall.Errno, or nil. Reading it clears it: the caller stops the
// session.
func socketError(fd uintptr) error {
	n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || n == 0 {
		return nil
	}
	return syscall.Errno(n)
}
