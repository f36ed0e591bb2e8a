//go:build !linux

package vnctest

import (
	"os"
	"syscall"
)

// sysProcAttr returns nil: only Linux, where the end-to-end tests run, gets
// process groups and a parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills p; children of p are not reached.
func signalGroup(p *os.Process, kill bool) {
	_ = p.Kill()
}
