package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// fmtBytes writes a byte count with IEC units: 999 B, 1.2 KiB, 3.4 MiB.
func fmtBytes[T int | int64 | uint64](n T) string {
	if n < 1024 {
		return strconv.FormatInt(int64(n), 10) + " B"
	}
	v := float64(n)
	unit := "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		if v < 1024 {
			break
		}
		v /= 1024
		unit = u
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// fmtBytesExact writes a byte count with IEC units and, from 1 KiB, the
// exact count: 999 B, 1.2 KiB (1234 bytes).
func fmtBytesExact[T int | int64 | uint64](n T) string {
	if n < 1024 {
		return fmtBytes(n)
	}
	return fmt.Sprintf("%s (%d bytes)", fmtBytes(n), n)
}

// fmtDuration writes a duration rounded to the millisecond, or to the
// microsecond below one millisecond.
func fmtDuration(d time.Duration) string {
	if d < time.Millisecond && d > -time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// fmtOffset writes a record's time in seconds with microseconds.
func fmtOffset(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}

// fmtTime writes a wall-clock time in UTC, to the second.
func fmtTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05")
}

// fmtTimeNano writes a wall-clock time in UTC with all its digits.
func fmtTimeNano(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999999 UTC")
}

// previewSize is how many payload bytes a preview shows.
const previewSize = 40

// preview shows the first bytes of p as printable ASCII, others as '.',
// and "…" when p is longer.
func preview(p []byte) string {
	var b strings.Builder
	for i, c := range p {
		if i == previewSize {
			b.WriteString("…")
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// describe says what a record other than a message holds.
func describe(rec *format.Record) string {
	switch rec.Kind {
	case format.KindOpen:
		return "session opened"
	case format.KindMarker:
		return strconv.Quote(rec.Label)
	case format.KindClose:
		c := &rec.Close
		s := "closed by " + c.By.String()
		if c.Code != 0 {
			s += fmt.Sprintf(", code %d", c.Code)
		}
		if c.Reason != "" {
			s += " " + strconv.Quote(c.Reason)
		}
		return s + fmt.Sprintf("; %d bytes client→target, %d target→client in all", c.ClientBytes, c.TargetBytes)
	case format.KindGap:
		g := &rec.Gap
		return fmt.Sprintf("%d records (%d bytes) lost: %q", g.Records, g.Bytes, g.Reason)
	}
	return ""
}

// plural writes n and the noun, with an s unless n is 1.
func plural[T int | int64 | uint64](n T, noun string) string {
	s := strconv.FormatInt(int64(n), 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
