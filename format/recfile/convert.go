package recfile

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// ImportStats says what Import wrote.
type ImportStats struct {
	Records int // records written, markers included
	// Clamped counts the websockify frames whose time went backwards (see
	// the package documentation): the markers before them.
	Clamped int
	// Incomplete says how the source ended early; nil if it did not.
	Incomplete *IncompleteError
}

// incompleteLabel starts the marker Import writes for a source that ends
// early.
const incompleteLabel = "import: the source recording ends early: "

// Import writes every record of src, from where it stands, to dst: for a
// websockify File its frames as KindMessage records (and the marker before
// each frame whose time went backwards), for a wsrec one its records as
// they are. It neither closes dst nor src; once dst is closed it is sealed.
//
// If src ends early (Next returns an *IncompleteError), Import writes a
// KindMarker record at the time of the last record saying so, so that the
// sealed copy keeps that on record, and returns the error in
// ImportStats.Incomplete with a nil error. It returns the first error of
// reading src (a *format.CorruptError, a *websockify.SyntaxError, ...), of
// writing dst, or ctx's error when ctx ends; dst then holds the records
// before it.
func Import(ctx context.Context, dst *format.Writer, src Source) (ImportStats, error) {
	var (
		st   ImportStats
		last time.Duration
	)
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if inc, ok := errors.AsType[*IncompleteError](err); ok {
			st.Incomplete = inc
			if err := dst.WriteMarker(last, incompleteLabel+inc.Error()); err != nil {
				return st, err
			}
			st.Records++
			break
		}
		if err != nil {
			return st, err
		}
		if err := dst.Write(rec); err != nil {
			return st, err
		}
		st.Records++
		last = rec.Time
		if rec.Kind == format.KindMarker {
			if _, ok := parseClamp(rec.Label, rec.Time); ok {
				st.Clamped++
			}
		}
	}
	return st, nil
}

// Source is a stream of records: a *File or a *format.Reader.
type Source interface {
	Next() (format.Record, error)
}

// ExportStats says what Export wrote.
type ExportStats struct {
	Frames int // message records written as frames
	// Skipped counts the records websockify's format cannot hold: open,
	// close, gap, and marker records other than those before a clamped
	// frame.
	Skipped int
	// Incomplete says how the source ended early; nil if it did not.
	Incomplete *IncompleteError
}

// Export writes the message records of src, from where it stands, to dst
// as websockify frames: in whole milliseconds (rounded toward zero), with
// the time a clamped frame was stamped with (see the package
// documentation), and text messages as their bytes, since the format has no
// message types. It does not close dst: Close writes websockify's trailer.
//
// An *IncompleteError from src ends the export; it is returned in
// ExportStats.Incomplete with a nil error. Export returns the first other
// error of reading src or writing dst, or ctx's error when ctx ends.
func Export(ctx context.Context, dst *websockify.Writer, src Source) (ExportStats, error) {
	var (
		st      ExportStats
		stamped time.Duration
		clamped bool // stamped holds the time of the next message
	)
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		rec, err := src.Next()
		if err == io.EOF {
			return st, nil
		}
		if inc, ok := errors.AsType[*IncompleteError](err); ok {
			st.Incomplete = inc
			return st, nil
		}
		if err != nil {
			return st, err
		}
		switch rec.Kind {
		case format.KindMessage:
			t := rec.Time
			if clamped {
				t, clamped = stamped, false
			}
			err := dst.Write(websockify.Frame{FromClient: rec.Dir == format.ClientToTarget, Time: t, Data: rec.Payload})
			if err != nil {
				return st, err
			}
			st.Frames++
			continue
		case format.KindMarker:
			if t, ok := parseClamp(rec.Label, rec.Time); ok {
				stamped, clamped = t, true
				continue
			}
		}
		st.Skipped++
	}
}
