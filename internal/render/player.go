package render

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
)

// ErrAfterEnd is returned for a time after the last record of a
// recording.
var ErrAfterEnd = errors.New("render: time after the end of the recording")

// ErrNoScreen is returned for a time before the session's ServerInit:
// there is no framebuffer to show yet.
var ErrNoScreen = errors.New("render: no screen yet (before the server's first message with the desktop size)")

// Player shows a recording's screen at any time: it feeds the records of
// a recfile.File to a screen.Screen, forward, and restores the Screen
// from a seek index instead of decoding where that is quicker.
//
// A Player owns the File's position: the caller must not read the File
// while using it. A Player is not safe for concurrent use.
type Player struct {
	f    *recfile.File
	x    *screen.Index // nil: decode from the start
	keys []time.Duration
	opts screen.Options
	ctx  context.Context

	s       *screen.Screen // nil before the first use
	next    format.Record  // read ahead, not fed yet
	hasNext bool
	end     error // what ended reading: io.EOF, an *IncompleteError, damage
	seeks   int   // keyframes restored
}

// NewPlayer returns a Player of f. With a non-nil x, which must be the
// seek index of f (a wsrec recording), it jumps to the keyframe before a
// time when that is ahead of its position; opts configure the Screens
// it decodes without one. ctx bounds the decoding of each call.
func NewPlayer(ctx context.Context, f *recfile.File, x *screen.Index, opts screen.Options) *Player {
	p := &Player{f: f, opts: opts, ctx: ctx}
	if x != nil && f.Reader() != nil {
		p.x, p.keys = x, x.Keyframes()
	}
	return p
}

// Screen returns the Screen as it stands (nil before the first At or
// Step).
func (p *Player) Screen() *screen.Screen { return p.s }

// Seeks returns how many times the Player restored a keyframe.
func (p *Player) Seeks() int { return p.seeks }

// End returns what ended reading the recording once its last readable
// record was read, and nil before: io.EOF for a complete recording, a
// *recfile.IncompleteError for one that ends early but cleanly, or the
// error of a damaged one.
func (p *Player) End() error { return p.end }

// restart starts from time t: from a keyframe with an index, from the
// start without.
func (p *Player) restart(t time.Duration) error {
	p.hasNext, p.end = false, nil
	if p.x != nil {
		s, err := p.x.SeekTo(p.f.Reader(), t)
		if err != nil {
			return err
		}
		p.s = s
		p.seeks++
		return nil
	}
	if err := p.f.Seek(0); err != nil {
		return err
	}
	p.s = screen.New(p.opts)
	return nil
}

// keyBefore returns the time of the last keyframe at or before t.
func (p *Player) keyBefore(t time.Duration) (time.Duration, bool) {
	i := sort.Search(len(p.keys), func(i int) bool { return p.keys[i] > t }) - 1
	if i < 0 {
		return 0, false
	}
	return p.keys[i], true
}

// peek reads the next record ahead, if any; false at the end.
func (p *Player) peek() bool {
	if p.hasNext {
		return true
	}
	if p.end != nil {
		return false
	}
	rec, err := p.f.Next()
	if err != nil {
		p.end = err
		return false
	}
	p.next, p.hasNext = rec, true
	return true
}

// NextTime returns the time of the next record to feed; false at the
// end of the recording.
func (p *Player) NextTime() (time.Duration, bool) {
	if p.s == nil {
		if err := p.restart(0); err != nil {
			p.end = err
			return 0, false
		}
	}
	if !p.peek() {
		return 0, false
	}
	return p.next.Time, true
}

// Step feeds the next record to the Screen and returns it; false at the
// end of the recording. The record's payload is valid until the next
// call. Step goes on after the Screen stopped (see screen.Screen.Err),
// which then ignores what it is fed.
func (p *Player) Step() (format.Record, bool) {
	if _, ok := p.NextTime(); !ok {
		return format.Record{}, false
	}
	rec := p.next
	p.hasNext = false
	p.s.Feed(rec)
	return rec, true
}

// At returns the Screen showing the session at time t: after every record
// at or before t. The Screen is the Player's own and changes with its
// next use. At returns an error for a time after the Screen stopped (the
// *screen.DecodeError), after the recording's data is damaged (its
// reading error), and the error of restoring a keyframe; ErrNoScreen
// before the ServerInit; ErrAfterEnd for a time after the last record,
// with the Screen of its end.
func (p *Player) At(t time.Duration) (*screen.Screen, error) {
	switch {
	case p.s == nil || t < p.s.Time():
		if err := p.restart(t); err != nil {
			return nil, err
		}
	case p.x != nil:
		if k, ok := p.keyBefore(t); ok && k > p.s.Time() {
			if err := p.restart(t); err != nil {
				return nil, err
			}
		}
	}
	for n := 0; p.s.Err() == nil; n++ {
		if n%1024 == 0 && p.ctx.Err() != nil {
			return nil, p.ctx.Err()
		}
		if !p.peek() || p.next.Time > t {
			break
		}
		p.hasNext = false
		p.s.Feed(p.next)
	}
	if err := p.s.Err(); err != nil {
		return p.s, err
	}
	if !p.hasNext && p.end != nil {
		if !clean(p.f, p.end) {
			return p.s, p.end
		}
		if t > p.s.Time() {
			return p.s, fmt.Errorf("%w (at %v)", ErrAfterEnd, p.s.Time())
		}
	}
	if p.s.Image() == nil {
		return p.s, ErrNoScreen
	}
	return p.s, nil
}

// clean reports whether err ends a recording cleanly (io.EOF, unsealed,
// without websockify's trailer).
func clean(f *recfile.File, err error) bool {
	return err == io.EOF || recfile.StatusOf(f.Format(), err).Clean()
}

// Duration returns the time of the last record of f: from the chunk index
// of a wsrec recording, by reading a websockify one through (and back to
// its start).
func Duration(ctx context.Context, f *recfile.File) (time.Duration, error) {
	if r := f.Reader(); r != nil {
		s, err := r.Summary()
		if err != nil {
			return 0, err
		}
		return s.Duration, nil
	}
	s, err := recfile.Summarize(ctx, f, recfile.SummaryOptions{Scan: true})
	if err != nil {
		return 0, err
	}
	if !s.Status.Clean() {
		return s.Duration, s.Err
	}
	return s.Duration, f.Seek(0)
}
