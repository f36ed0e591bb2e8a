//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// setParentDeathSignal does nothing: only Linux can signal a child when its
// parent dies (see wrap_linux.go).
func setParentDeathSignal(*syscall.SysProcAttr) {}

// groupAlive reports whether process group pgid has members, zombies
// included.
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
