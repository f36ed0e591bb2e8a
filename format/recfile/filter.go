package recfile

import (
	"regexp"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// Filter selects the records of a recording by time, direction, size and
// content, as wsrecord-inspect's frames and dump do. The zero Filter
// selects every record.
//
// A Filter is safe for concurrent use once set: its methods do not change
// it.
type Filter struct {
	// From and To select the records at or after From and before To,
	// offsets from the start of the recording. Zero To means to the end.
	From, To time.Duration
	// Dir, if not nil, selects the messages of that direction only (and
	// no other records).
	Dir *format.Direction
	// MinSize, if positive, selects the messages of at least MinSize
	// payload bytes only (and no other records).
	MinSize int
	// Grep, if not nil, selects the messages whose payload and the markers
	// whose label it matches, and no other records.
	Grep *regexp.Regexp
}

// Seek positions f, a File from its start, at the first record at or after
// From when that saves reading: a wsrec file has an index, a websockify
// file would be read from its start anyway. It reports whether it moved f,
// after which the number of the records before is unknown. It returns the
// error of File.Seek.
func (flt *Filter) Seek(f *File) (bool, error) {
	if flt.From == 0 || f.Format() != WSRec {
		return false, nil
	}
	return true, f.Seek(flt.From)
}

// Past reports whether rec, and so every record after it, is at or after
// To.
func (flt *Filter) Past(rec *format.Record) bool {
	return flt.To > 0 && rec.Time >= flt.To
}

// Match reports whether the Filter selects rec, which is not Past.
func (flt *Filter) Match(rec *format.Record) bool {
	if rec.Time < flt.From {
		return false
	}
	msg := rec.Kind == format.KindMessage
	if flt.Dir != nil && (!msg || rec.Dir != *flt.Dir) {
		return false
	}
	if flt.MinSize > 0 && (!msg || len(rec.Payload) < flt.MinSize) {
		return false
	}
	if flt.Grep != nil {
		switch rec.Kind {
		case format.KindMessage:
			return flt.Grep.Match(rec.Payload)
		case format.KindMarker:
			return flt.Grep.MatchString(rec.Label)
		}
		return false
	}
	return true
}
