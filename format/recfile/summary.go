package recfile

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// Status says how a recording ends: whether it is whole, ends early but
// cleanly, or is cut off or damaged. These are the words of
// wsrecord-inspect info and of wsreplay's GET /recordings, one vocabulary
// for both formats; StatusOf decides it from the error that ends reading.
//
// The format of a recording names its whole and its clean-but-early end:
// a wsrec file is Sealed or Unsealed (its trailer, format/SPEC.md "Trailer
// frame", is there or not), a websockify file is Complete or Incomplete
// (its 'EOF'] line). The rest is shared:
//
//   - Truncated is a recording cut inside a unit its writer writes whole:
//     a wsrec chunk or header frame (format/SPEC.md, "Crash safety": a
//     reader "fails with 'truncated' only if the header itself is
//     incomplete", and reports the bytes after the last complete chunk),
//     a websockify frame line. Bytes are lost, but nothing that was
//     written whole is wrong. This covers format.ErrTruncated (the header
//     is cut off) and an *IncompleteError whose Lost is not zero. Before
//     this type, wsrecord-inspect and wsreplay called a cut header
//     "damaged"; the specification's word is the right one.
//   - Damaged is data that is there but wrong: a *format.CorruptError (a
//     checksum, a hash or a count disagrees, a frame runs past the
//     trailer), a *websockify.SyntaxError, websockify.ErrLineTooLong, and
//     format.ErrTooLarge, a length over a limit: a conforming writer
//     enforces the same limits (format/SPEC.md, "Limits a reader
//     enforces"), so a larger one is damage, not something this reader
//     fails to read (wsreplay said so; wsrecord-inspect relied on the
//     reader wrapping it in a *format.CorruptError, which it does today).
//   - Unreadable is everything else: an I/O error, a file that is not a
//     recording (ErrUnknownFormat), a newer format (format.ErrVersion).
//     Nothing is known to be wrong with the data; it could not be read.
//     The reader reports a newer header's version inside a
//     *format.CorruptError, but only once the header's checksum is good:
//     such a file was written so, not damaged, and both programs were
//     wrong to call it damaged.
//
// There is no "tampered": that is format.Reader.Verify's verdict, which
// checks the hash chain and the seal. A Summary of a sealed file taken
// from its trailer alone is Sealed even if a chunk was changed.
//
// The zero Status is Unreadable.
type Status int

// Statuses.
const (
	// Unreadable: the recording could not be opened or read.
	Unreadable Status = iota
	// Sealed: a wsrec recording with its trailer.
	Sealed
	// Complete: a websockify recording with its 'EOF'] trailer.
	Complete
	// Unsealed: a wsrec recording that stops cleanly after its last
	// complete chunk, without a trailer: its writer was killed, or still
	// writes.
	Unsealed
	// Incomplete: a websockify recording that stops cleanly after a whole
	// frame, without its trailer.
	Incomplete
	// Truncated: a recording cut inside its header, a chunk or a line.
	Truncated
	// Damaged: a recording whose data is corrupt.
	Damaged
)

var statusNames = [...]string{
	Unreadable: "unreadable",
	Sealed:     "sealed",
	Complete:   "complete",
	Unsealed:   "unsealed",
	Incomplete: "incomplete",
	Truncated:  "truncated",
	Damaged:    "damaged",
}

// String returns the status's word: "sealed", "complete", "unsealed",
// "incomplete", "truncated", "damaged" or "unreadable".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText returns String, for JSON.
func (s Status) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("recfile: invalid status %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses the word of String.
func (s *Status) UnmarshalText(b []byte) error {
	for i, name := range statusNames {
		if string(b) == name {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("recfile: unknown status %q", b)
}

// Whole reports Sealed or Complete: the recording was read to its trailer.
func (s Status) Whole() bool { return s == Sealed || s == Complete }

// Clean reports a recording whose every byte that was written whole can be
// read and that stops on a record boundary: Whole, Unsealed or Incomplete.
// A replay plays such a recording through; the others only up to the
// damage.
func (s Status) Clean() bool { return s.Whole() || s == Unsealed || s == Incomplete }

// StatusOf returns the status of a recording of format f whose reading
// ended with err: an error of Open or New (f is then Unknown, or the
// format New detected), or what File.Next returned last. A nil err and
// io.EOF give Complete for Websockify and Sealed otherwise. See Status for
// which error gives which status.
func StatusOf(f Format, err error) Status {
	if err == nil || err == io.EOF {
		if f == Websockify {
			return Complete
		}
		return Sealed
	}
	if inc, ok := errors.AsType[*IncompleteError](err); ok {
		switch {
		case inc.Lost > 0:
			return Truncated
		case inc.Format == Websockify:
			return Incomplete
		}
		return Unsealed
	}
	switch {
	case errors.Is(err, format.ErrTruncated):
		return Truncated
	case errors.Is(err, format.ErrVersion): // in a *format.CorruptError, behind a good checksum
		return Unreadable
	}
	_, corrupt := errors.AsType[*format.CorruptError](err)
	_, syntax := errors.AsType[*websockify.SyntaxError](err)
	if corrupt || syntax || errors.Is(err, websockify.ErrLineTooLong) || errors.Is(err, format.ErrTooLarge) {
		return Damaged
	}
	return Unreadable
}

// SummaryOptions configure Summarize. The zero value means the defaults.
type SummaryOptions struct {
	// Scan reads every record of a wsrec recording, as Summarize always
	// does for a websockify one: the totals are then counted, damage in
	// the chunks is found (Damaged), and Markers are collected. Zero
	// (false) means a wsrec recording is summarised from its index
	// alone: the header and trailer of a sealed file, however large, or
	// the chunk headers of an unsealed one, without decompressing them.
	Scan bool
	// MaxMarkers is how many marker records Summary.Markers holds. Zero
	// means none: they are only counted in MarkersOmitted.
	MaxMarkers int
}

// Marker is a marker record: its time and label.
type Marker struct {
	Time  time.Duration
	Label string
}

// Summary describes a recording: what it is, how it ends, and its totals.
type Summary struct {
	Format Format
	// Header is a wsrec recording's header; a websockify one has none (the
	// zero Header: no session ID, an unknown start, no metadata).
	Header format.Header
	// Size is the file's size in bytes.
	Size int64
	// Status says how the recording ends, and Err why when it is not
	// Whole: the error of File.Next (an *IncompleteError when the
	// recording ends early, clean or not) or of reading the index. Err is
	// nil for a whole recording.
	Status Status
	Err    error

	// Records counts the records, Duration is the time of the last one,
	// and the rest count the messages each way and their payload bytes.
	// Read from a wsrec index, they are the recording's; counted, they
	// are those before the end or the damage.
	Records                        uint64
	Duration                       time.Duration
	ClientMessages, TargetMessages uint64
	ClientBytes, TargetBytes       uint64

	// Chunks, Uncompressed (the size of the records, uncompressed) and
	// PublicKey (the key that signed the seal; nil if unsigned) come from
	// a wsrec recording's index; they are zero for websockify, and when the
	// index cannot be read.
	Chunks       int
	Uncompressed int64
	PublicKey    ed25519.PublicKey

	// Clamped counts the websockify frames read at an earlier record's
	// time (see File.Clamped).
	Clamped int
	// Markers are the first SummaryOptions.MaxMarkers marker records read,
	// in order; MarkersOmitted counts the others. A wsrec recording
	// summarised from its index has none read.
	Markers        []Marker
	MarkersOmitted int
}

// Summarize summarises the recording f, which must not have been read from
// yet: a websockify recording, or a wsrec one with opts.Scan, is read
// through; a wsrec one otherwise only its index. What is wrong with the
// recording is in the Summary's Status and Err, not an error: Summarize
// returns an error only when ctx ends first, with the Summary of what was
// read.
//
// Summarize reads f, which is not safe for concurrent use: calls on
// different Files may run concurrently.
func Summarize(ctx context.Context, f *File, opts SummaryOptions) (Summary, error) {
	s := Summary{Format: f.Format(), Header: f.Header(), Size: f.Size()}
	if f.closed {
		s.end(ErrClosed)
		return s, nil
	}
	if f.wsrec != nil {
		ws, err := f.wsrec.Summary()
		if err == nil {
			s.Chunks, s.Uncompressed, s.PublicKey = ws.Chunks, ws.Uncompressed, ws.PublicKey
		}
		if !opts.Scan {
			switch {
			case err != nil:
				s.end(err)
			case ws.Sealed:
				s.end(io.EOF)
			default:
				s.end(&IncompleteError{Format: WSRec, Offset: ws.Size - ws.Unreadable, Lost: ws.Unreadable})
			}
			if err == nil {
				s.Records, s.Duration = ws.Records, ws.Duration
				s.ClientMessages, s.TargetMessages = ws.ClientMessages, ws.TargetMessages
				s.ClientBytes, s.TargetBytes = ws.ClientBytes, ws.TargetBytes
			}
			return s, nil
		}
	}
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				s.Clamped = f.Clamped()
				return s, err
			}
		}
		rec, err := f.Next()
		if err != nil {
			s.Clamped = f.Clamped()
			s.end(err)
			return s, nil
		}
		s.Records++
		s.Duration = rec.Time
		switch rec.Kind {
		case format.KindMessage:
			if rec.Dir == format.ClientToTarget {
				s.ClientMessages++
				s.ClientBytes += uint64(len(rec.Payload))
			} else {
				s.TargetMessages++
				s.TargetBytes += uint64(len(rec.Payload))
			}
		case format.KindMarker:
			if len(s.Markers) < opts.MaxMarkers {
				s.Markers = append(s.Markers, Marker{Time: rec.Time, Label: rec.Label})
			} else {
				s.MarkersOmitted++
			}
		}
	}
}

// end sets the Status and Err for err, which ended the reading.
func (s *Summary) end(err error) {
	s.Status = StatusOf(s.Format, err)
	if !s.Status.Whole() {
		s.Err = err
	}
}
