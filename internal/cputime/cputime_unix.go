//go:build unix

package cputime

import (
	"syscall"
	"time"
)

func usage(children bool) time.Duration {
	who := []int{syscall.RUSAGE_SELF}
	if children {
		who = append(who, syscall.RUSAGE_CHILDREN)
	}
	var t time.Duration
	for _, w := range who {
		var ru syscall.Rusage
		if syscall.Getrusage(w, &ru) != nil {
			return 0
		}
		t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return t
}
