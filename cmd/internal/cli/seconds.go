package cli

import (
	"fmt"
	"strconv"
	"time"
)

// Seconds is a duration option, given in seconds as websockify takes them
// ("30", or "0.5"), or as a Go duration ("500ms", "2m").
type Seconds time.Duration

// MarshalText writes s as a Go duration ("5s", "500ms"), which
// UnmarshalText reads back exactly; --print-config uses it.
func (s Seconds) MarshalText() ([]byte, error) { return []byte(time.Duration(s).String()), nil }

// UnmarshalText parses a number of seconds or a Go duration.
func (s *Seconds) UnmarshalText(b []byte) error {
	text := string(b)
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		if !(f >= 0 && f <= float64(1<<63-1)/float64(time.Second)) {
			return fmt.Errorf("%q: want a number of seconds >= 0", text)
		}
		*s = Seconds(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		return fmt.Errorf("%q: want a number of seconds (30, 0.5) or a duration (500ms, 2m)", text)
	}
	*s = Seconds(d)
	return nil
}
