package render

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrOutOfSession wraps the errors of ParseTime for a well-formed time
// that the recording cannot show: before its start, or a wall-clock time
// of a recording without a start time.
var ErrOutOfSession = errors.New("render: time not in the session")

// ParseTime parses a time of a recording given on a command line: an
// offset from the session start (a Go duration such as 90s, 12m30s or
// 1h2m3.5s), or a wall-clock time (RFC 3339, or 15:04:05 or 15:04 in UTC
// on the day the session started; for a time of day before the start, on
// the next day if that falls within length, the session's duration: a
// session past midnight). Wall-clock times need the recording's start
// time, which websockify recordings lack: start is then the zero Time and
// ParseTime says so. It returns the offset from start; a time before the
// start is an error.
func ParseTime(s string, start time.Time, length time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("%q: negative offset", s)
		}
		return d, nil
	}
	var wall time.Time
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		wall = t
	} else {
		var tod time.Time
		for _, layout := range []string{"15:04:05.999999999", "15:04"} {
			if tod, err = time.Parse(layout, s); err == nil {
				break
			}
		}
		if err != nil {
			return 0, fmt.Errorf("%q: not an offset (such as 90s or 12m30s), an RFC 3339 time or a time of day (15:04:05)", s)
		}
		if start.IsZero() {
			return 0, fmt.Errorf("%q: %w: %w", s, ErrOutOfSession, errNoStart)
		}
		day := start.UTC().Truncate(24 * time.Hour)
		wall = day.Add(time.Duration(tod.Hour())*time.Hour + time.Duration(tod.Minute())*time.Minute +
			time.Duration(tod.Second())*time.Second + time.Duration(tod.Nanosecond()))
		if next := wall.Add(24 * time.Hour); wall.Before(start) && next.Sub(start) <= length {
			wall = next // past midnight
		}
	}
	if start.IsZero() {
		return 0, fmt.Errorf("%q: %w: %w", s, ErrOutOfSession, errNoStart)
	}
	if wall.Before(start) {
		return 0, fmt.Errorf("%q: %w: before the session's start (%s)", s, ErrOutOfSession, start.UTC().Format(time.RFC3339))
	}
	return wall.Sub(start), nil
}

var errNoStart = errors.New("the recording has no start time (websockify's have none): give an offset such as 12m30s")

// Every returns the times 0, step, 2·step, ... up to and including end.
// It returns at most max times (max > 0), and an error past that.
func Every(step, end time.Duration, max int) ([]time.Duration, error) {
	if step <= 0 {
		return nil, errors.New("the interval must be positive")
	}
	if n := end / step; n >= time.Duration(max) {
		return nil, fmt.Errorf("%d times of %v in %v, over the limit of %d", n+1, step, end, max)
	}
	var ts []time.Duration
	for t := time.Duration(0); t <= end; t += step {
		ts = append(ts, t)
	}
	return ts, nil
}

// Spread returns n times that divide (from, to] evenly, the last at to:
// the times of a contact sheet's thumbnails.
func Spread(from, to time.Duration, n int) []time.Duration {
	ts := make([]time.Duration, n)
	for i := range ts {
		ts[i] = from + (to-from)*time.Duration(i+1)/time.Duration(n)
	}
	return ts
}

// Label formats session offset t for a thumbnail or a file listing:
// 1:02:03.4, 2:03.4 or 3.4s; with start, the wall-clock time (UTC)
// follows.
func Label(t time.Duration, start time.Time) string {
	t = t.Round(100 * time.Millisecond)
	h, m := int(t/time.Hour), int(t/time.Minute)%60
	sec := float64(t%time.Minute) / float64(time.Second)
	var l string
	switch {
	case h > 0:
		l = fmt.Sprintf("%d:%02d:%04.1f", h, m, sec)
	case m > 0:
		l = fmt.Sprintf("%d:%04.1f", m, sec)
	default:
		l = fmt.Sprintf("%.1fs", sec)
	}
	if !start.IsZero() {
		l += " " + start.Add(t).UTC().Format("15:04:05Z")
	}
	return l
}
