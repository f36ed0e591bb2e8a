package replay

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is Linux's TCP_NOTSENT_LOWAT socket option (tcp(7)),
// which the syscall package does not name.
const tcpNotSentLowat = 25

// limitUnsent caps the data that the kernel holds unsent for a
// render-mode viewer's TCP connection at n bytes: a write waits until
// less is unsent. Without the cap, the send buffer grows (autotuning) to
// megabytes, and a slow viewer sees frames seconds old even though the
// player merges the changes it has not taken; with it, what waits for
// the viewer is at most one update, and the viewer's receive window, in
// flight. Errors are ignored: the cap is an optimization.
func limitUnsent(c net.Conn, n int) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, n)
	})
}
