//go:build !linux

package proxy

import (
	"syscall"
	"time"
)

// socketErrorSupported is false where the session does not check the
// client's socket: keepalive alone, without TCP_USER_TIMEOUT, bounds only
// reads of an idle client.
const socketErrorSupported = false

func setUserTimeout(syscall.RawConn, time.Duration) error { return nil }

func setNotSentLowat(syscall.RawConn, int) error { return nil }

func socketError(uintptr) error { return nil }
