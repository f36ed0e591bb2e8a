//go:build !linux

package replay

import "net"

// limitUnsent does nothing: TCP_NOTSENT_LOWAT is set on Linux only.
func limitUnsent(net.Conn, int) {}
