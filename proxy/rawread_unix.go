//go:build unix

package proxy

import (
	"io"
	"os"
	"syscall"
)

const rawReadSupported = true

// readTargetFD is the syscall.RawConn read function of readTargetRaw: it
// reads without blocking into s.tbuf, taking a buffer from the pool first if
// needed, and returns false (wait for readability) after giving the buffer
// back when there is nothing to read.
func (s *session) readTargetFD(fd uintptr) bool {
	if s.tbuf == nil {
		s.tbuf = s.srv.getBuffer()
	}
	for {
		n, err := syscall.Read(int(fd), s.tbuf[headroom:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			s.srv.putBuffer(s.tbuf)
			s.tbuf = nil
			return false
		case err != nil:
			s.terr = os.NewSyscallError("read", err)
		case n == 0:
			s.terr = io.EOF
		default:
			s.tn = n
		}
		return true
	}
}
