package main

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// setParentDeathSignal has the kernel send SIGTERM to the wrapped command
// when wsproxy dies without stopping it (SIGKILL, the OOM killer), which
// would otherwise leave it running, holding its port and display, as
// websockify leaves it. Linux sends the signal when the thread that started
// the command exits, not the process: Go's threads outlive goroutines unless
// one ends while locked to its thread (runtime.LockOSThread), which wsproxy
// does not do.
func setParentDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGTERM }

// groupAlive reports whether process group pgid has a member that has not
// exited. Zombies do not count: the members that outlive the group's leader
// are reparented to init, which may take its time to reap them (seconds, in
// some containers), and until then signal 0 still finds the group.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid pgrp ...", where comm may hold anything.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 || bytes.Equal(f[0], []byte("Z")) || bytes.Equal(f[0], []byte("X")) {
			continue
		}
		if pg, err := strconv.Atoi(string(f[2])); err == nil && pg == pgid {
			return true
		}
	}
	return false
}
