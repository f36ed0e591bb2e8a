//go:build !unix

package proxy

// rawReadSupported is false where non-blocking reads through
// syscall.RawConn are not implemented: the target is read with its own
// Read, which holds a buffer while the target is silent.
const rawReadSupported = false

func (s *session) readTargetFD(uintptr) bool { return true }
