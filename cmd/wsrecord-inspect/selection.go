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
// direction, size and content: a recfile.Filter.
type selection struct {
	From    time.Duration `help:"Only records at or after this time (an offset such as 90s or 1m30s)." placeholder:"TIME"`
	To      time.Duration `help:"Only records before this time; 0, the default, means to the end." placeholder:"TIME"`
	Dir     dirFlag       `help:"Only messages from the client or from the target." placeholder:"client|target"`
	MinSize int           `help:"Only messages of at least this many bytes." placeholder:"BYTES"`
	Grep    string        `help:"Only messages whose payload, and markers whose label, match this regular expression (Go syntax; (?s) lets . match newlines)." placeholder:"REGEXP"`

	filter recfile.Filter `kong:"-"`
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

// validate checks the flags and sets the Filter.
func (s *selection) validate() error {
	if err := checkRange(s.From, s.To); err != nil {
		return err
	}
	if s.MinSize < 0 {
		return errors.New("--min-size must not be negative")
	}
	s.filter = recfile.Filter{From: s.From, To: s.To, MinSize: s.MinSize}
	switch s.Dir {
	case "client":
		s.filter.Dir = new(format.ClientToTarget)
	case "target":
		s.filter.Dir = new(format.TargetToClient)
	}
	if s.Grep != "" {
		re, err := regexp.Compile(s.Grep)
		if err != nil {
			return err
		}
		s.filter.Grep = re
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
