package vnctest

import (
	"os"
	"syscall"
)

// sysProcAttr puts a program in a process group of its own, so that stop
// reaches its children too (websockify forks one per connection, xterm runs
// a shell), and has the kernel kill it if the test binary dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends SIGTERM, or SIGKILL if kill, to the process group of p.
// The group may be gone already.
func signalGroup(p *os.Process, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-p.Pid, sig)
}
