package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/cputime"
)

// TestSelf: busy work shows in Self, and WithChildren counts at least as
// much.
func TestSelf(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no getrusage")
	}
	before := cputime.Self()
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	spent := cputime.Self() - before
	if spent < 10*time.Millisecond {
		t.Errorf("50 ms of busy work counted %v of CPU time", spent)
	}
	if self, all := cputime.Self(), cputime.WithChildren(); all < self {
		t.Errorf("WithChildren %v < Self %v", all, self)
	}
}
