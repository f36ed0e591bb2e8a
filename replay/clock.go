package replay

import "time"

// Clock is the time source of playback. A Server uses the system clock
// unless ServerOptions.Clock gives another, such as a fake clock in tests
// that makes speed and idle limits exact.
//
// A Clock must be safe for concurrent use: every replay calls it from its
// own goroutine.
type Clock interface {
	// Now returns the current time. Only differences between its values
	// matter.
	Now() time.Time
	// NewTimer returns a Timer that delivers the time on its channel once
	// d has passed (at once when d <= 0).
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	// C returns the channel on which the time is delivered once.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// systemClock is the Clock of package time. Its timers fire up to about a
// millisecond late on Linux, where the Go runtime waits for timers in
// epoll_wait, whose timeout is in whole milliseconds.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }
