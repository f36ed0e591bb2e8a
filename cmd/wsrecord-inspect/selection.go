package main

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

// selection is the flags that pick a recording's records by time,
// direction, size and content.
type selection struct {
	From    time.Duration `help:"Only records at or after this time (an offset such as 90s or 1m30s)." placeholder:"TIME"`
	To      time.Duration `help:"Only records before this time; 0, the default, means to the end." placeholder:"TIME"`
	Dir     dirFlag       `help:"Only messages from the client or from the target." placeholder:"client|target"`
	MinSize int           `help:"Only messages of at least this many bytes." placeholder:"BYTES"`
	Grep    string        `help:"Only messages whose payload, and markers whose label, match this regular expression (Go syntax; (?s) lets . match newlines)." placeholder:"REGEXP"`

	re *regexp.Regexp `kong:"-"`
}

// dirFlag is --dir: "client", "target", or "" for both.
type dirFlag string

func (d *dirFlag) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "client", "target":
		*d = dirFlag(s)
		return nil
	}
	return fmt.Errorf("%q: want client or target", b)
}

// validate checks the flags and compiles --grep.
func (s *selection) validate() error {
	if err := checkRange(s.From, s.To); err != nil {
		return err
	}
	if s.MinSize < 0 {
		return errors.New("--min-size must not be negative")
	}
	if s.Grep != "" {
		re, err := regexp.Compile(s.Grep)
		if err != nil {
			return err
		}
		s.re = re
	}
	return nil
}

func checkRange(from, to time.Duration) error {
	switch {
	case from < 0 || to < 0:
		return errors.New("--from and --to must not be negative")
	case to > 0 && to <= from:
		return errors.New("--to must be after --from")
	}
	return nil
}

// seek moves r to the first record at --from, if that is worth it: a wsrec
// file has an index, a websockify file would be read from the start
// anyway. It reports whether it moved, which leaves the number of the
// records before unknown.
func (s *selection) seek(r *recording) (bool, error) {
	if s.From == 0 || r.Format() != recfile.WSRec {
		return false, nil
	}
	return true, r.Seek(s.From)
}

// past reports whether rec, and so every record after it, is past --to.
func (s *selection) past(rec *format.Record) bool {
	return s.To > 0 && rec.Time >= s.To
}

// match reports whether the flags select rec, which is not past --to.
func (s *selection) match(rec *format.Record) bool {
	if rec.Time < s.From {
		return false
	}
	msg := rec.Kind == format.KindMessage
	if s.Dir != "" && (!msg || rec.Dir.String() != string(s.Dir)) {
		return false
	}
	if s.MinSize > 0 && (!msg || len(rec.Payload) < s.MinSize) {
		return false
	}
	if s.re != nil {
		switch rec.Kind {
		case format.KindMessage:
			return s.re.Match(rec.Payload)
		case format.KindMarker:
			return s.re.MatchString(rec.Label)
		}
		return false
	}
	return true
}
