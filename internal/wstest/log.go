package wstest

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogBuffer collects what a server or a command writes (typically slog's
// text output), for a test to read and wait on while it is being written.
// The zero value is an empty buffer ready to use; it is safe for concurrent
// use and must not be copied after first use.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // made on first use; has a value after a Write
}

// Write appends p. It never fails.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changedLocked() <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

// changedLocked returns the channel that Write signals; b.mu must be held.
func (b *LogBuffer) changedLocked() chan struct{} {
	if b.changed == nil {
		b.changed = make(chan struct{}, 1)
	}
	return b.changed
}

// Changed returns a channel that receives a value after a Write, for a
// test that waits on the buffer and on something else at once. Writes
// that come before the value is received do not queue further values.
func (b *LogBuffer) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changedLocked()
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the complete lines written so far, without their newlines.
func (b *LogBuffer) Lines() []string {
	s := b.String()
	s = s[:strings.LastIndexByte(s, '\n')+1]
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Logger returns a logger that writes slog's text format, at every level
// from debug up, into b.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Wait waits up to Timeout until the buffer matches re and returns the
// submatches of the first match; it fails the test with the buffer if it
// does not.
func (b *LogBuffer) Wait(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	b.waitUntil(t, Timeout, func(s string) bool {
		m = re.FindStringSubmatch(s)
		return m != nil
	}, "%q", re)
	return m
}

// WaitFor waits up to Timeout until the buffer contains s.
func (b *LogBuffer) WaitFor(t testing.TB, s string) {
	t.Helper()
	b.waitUntil(t, Timeout, func(got string) bool { return strings.Contains(got, s) }, "%q", s)
}

// WaitForN waits up to timeout until the buffer contains s n times.
func (b *LogBuffer) WaitForN(t testing.TB, s string, n int, timeout time.Duration) {
	t.Helper()
	b.waitUntil(t, timeout, func(got string) bool { return strings.Count(got, s) >= n }, "%q %d times", s, n)
}

// waitUntil waits up to timeout until ok holds for the buffer's content,
// waking at each Write and at least every 5 ms; it fails the test with
// the buffer, naming what it waited for with format and args, if ok never
// holds.
func (b *LogBuffer) waitUntil(t testing.TB, timeout time.Duration, ok func(string) bool, format string, args ...any) {
	t.Helper()
	changed := b.Changed()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s := b.String()
		if ok(s) {
			return
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for "+format+" in the log:\n%s", append([]any{timeout}, append(args, s)...)...)
		}
	}
}
