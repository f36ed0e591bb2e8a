package rfbfile

import (
	"context"
	"errors"
	"time"

	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
)

// ErrNotRFB is matched by every *NotRFBError.
var ErrNotRFB = errors.New("rfbfile: not an RFB session")

// NotRFBError says that a recording is not of an RFB session from its
// start: the decoder stopped before either side sent a protocol version,
// or the whole recording holds none. It matches ErrNotRFB.
type NotRFBError struct {
	// Reason is why, as the decoder said it: "not an RFB stream (starts
	// ...)", or "no RFB protocol version in the recording".
	Reason string
}

func (e *NotRFBError) Error() string { return "rfbfile: not an RFB session: " + e.Reason }

// Is reports whether target is ErrNotRFB.
func (e *NotRFBError) Is(target error) bool { return target == ErrNotRFB }

// noVersion is the Reason of a recording read to its end without a
// protocol version.
const noVersion = "no RFB protocol version in the recording"

// Options configure Decode. The zero value means the defaults.
type Options struct {
	// To stops decoding at the first record at or after To, an offset
	// from the start of the recording. Zero means at its end.
	To time.Duration
	// Decoder configures the RFB decoder; zero means its defaults.
	Decoder rfb.DecoderOptions
	// OnIncomplete, if not nil, is called when the recording ends early
	// but cleanly (an *recfile.IncompleteError whose Lost is zero: an
	// unsealed wsrec file, a websockify file without its trailer), before
	// the events that ending the decoder emits, so that a caller can say
	// so in order. Nil means the end is only in Result.Incomplete.
	OnIncomplete func(*recfile.IncompleteError)
}

// Result is what Decode found besides the events.
type Result struct {
	// Session is what the handshake established, as the last event left
	// it.
	Session rfb.Session
	// Encrypted reports that decoding stopped at a security type that
	// encrypts the stream (a KindEncrypted event).
	Encrypted bool
	// Incomplete is the end of a recording that ends early but cleanly,
	// read to that end; nil otherwise.
	Incomplete *recfile.IncompleteError
}

// Decode reads the recording f from its start, which is where f must be,
// through an RFB decoder, and calls emit with each event and a function
// that returns what the handshake established so far. It stops at the
// first record at or after opts.To, after a KindEncrypted event, or at the
// end of the recording, where it ends the decoder (which may emit KindStop
// events for a stream that ends inside a message) unless the recording is
// damaged.
//
// The KindStop event that says the stream is not RFB, before either side
// sent a protocol version, is not emitted: Decode returns a *NotRFBError
// with its text instead. It returns one too for a recording read to its
// end without a protocol version.
//
// Besides, it returns ctx's error when ctx ends first; the error of
// rfb.Decoder.FeedRecord (rfb.ErrDirection); or the error that ended
// reading f when the recording is cut off or damaged, as File.Next
// returned it (see recfile.StatusOf), after the events before it. A clean
// early end is no error: see Options.OnIncomplete and Result.Incomplete.
// The Result is what was decoded, whatever the error.
//
// Decode reads f, which is not safe for concurrent use: calls on
// different Files may run concurrently. emit runs on the calling
// goroutine.
func Decode(ctx context.Context, f *recfile.File, opts Options, emit func(e rfb.Event, session func() rfb.Session)) (Result, error) {
	var (
		res    Result
		d      = rfb.NewDecoder(opts.Decoder)
		notRFB string // why, if the session is not RFB from its start
		last   time.Duration
		whole  bool // the recording was read to its end
	)
	handle := func(e rfb.Event) {
		switch e.Kind {
		case rfb.KindEncrypted:
			res.Encrypted = true
		case rfb.KindStop:
			if ses := d.Session(); ses.ServerVersion == "" && ses.ClientVersion == "" {
				notRFB = e.Text
				return
			}
		}
		emit(e, d.Session)
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			res.Session = d.Session()
			return res, ctx.Err()
		}
		rec, err := f.Next()
		if err != nil {
			if !recfile.StatusOf(f.Format(), err).Clean() {
				res.Session = d.Session()
				return res, err
			}
			if inc, ok := errors.AsType[*recfile.IncompleteError](err); ok {
				res.Incomplete = inc
				if opts.OnIncomplete != nil {
					opts.OnIncomplete(inc)
				}
			}
			d.End(last, handle)
			whole = true
			break
		}
		if opts.To > 0 && rec.Time >= opts.To {
			break
		}
		last = rec.Time
		if err := d.FeedRecord(rec, handle); err != nil && !errors.Is(err, rfb.ErrEnded) {
			res.Session = d.Session()
			return res, err
		}
		if res.Encrypted || notRFB != "" {
			break
		}
	}
	res.Session = d.Session()
	switch {
	case notRFB != "":
		return res, &NotRFBError{Reason: notRFB}
	case whole && res.Session.ServerVersion == "" && res.Session.ClientVersion == "":
		return res, &NotRFBError{Reason: noVersion}
	}
	return res, nil
}
