package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/replay/render"
)

// ErrNotStarted is matched by the error of a control command for a
// render-mode replay whose viewer has not finished its RFB handshake.
var ErrNotStarted = errors.New("replay: the viewer has not connected yet")

// handshakeTimeout bounds a render-mode viewer's RFB handshake.
const handshakeTimeout = 30 * time.Second

// maxFeedBurst bounds the records fed between two chances of the viewer
// to be served, so that a burst of due records (speed max, a catch-up)
// does not starve it.
const maxFeedBurst = 256

// isRFB reports whether the recording is an RFB session that render mode
// can show: one whose handshake the screen model follows to a ServerInit
// within its first records (not one whose security type encrypts it).
// It leaves f rewound.
func isRFB(f *recfile.File) bool {
	defer f.Seek(0)
	s := screen.New(screen.Options{})
	for range 256 {
		rec, err := f.Next()
		if err != nil {
			return false
		}
		if rec.Kind == format.KindMessage && rec.Dir == format.TargetToClient && s.Records() == 0 &&
			!bytes.HasPrefix(rec.Payload, []byte("RFB 0")) {
			return false
		}
		if s.Feed(rec) != nil {
			return false
		}
		if s.Image() != nil {
			return true
		}
	}
	return false
}

// indexes caches the seek indexes of the recordings, by file version.
// Its methods are safe for concurrent use.
type indexes struct {
	// identities open encrypted recordings (the Server's
	// ServerOptions.Reader.Format.Identities): their indexes, sidecar or
	// built, are sealed with the recording's sidecar key. Set before use.
	identities []age.Identity

	mu sync.Mutex
	m  map[cacheKey]*indexSlot
}

type indexSlot struct {
	once sync.Once
	done atomic.Bool // once has run: x and err are set
	x    *screen.Index
	err  error
}

// get returns the seek index of the recording of e open as osf: its
// sidecar (REC.wsidx, format/SPEC.md "Seek index") if one beside it is
// valid, else one built in memory on this first use and kept for the
// file's version. The sidecar is never written: the recordings'
// directory may be read-only or another program's, and wsrecord-inspect
// writes it.
func (x *indexes) get(e entry, osf recFile) (*screen.Index, error) {
	key, err := indexKey(e, osf)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if x.m == nil {
		x.m = make(map[cacheKey]*indexSlot)
	}
	slot := x.m[key]
	if slot == nil {
		slot = &indexSlot{}
		x.m[key] = slot
	}
	x.mu.Unlock()
	slot.once.Do(func() {
		if slot.x, slot.err = x.sidecar(e, osf, key.size); slot.err == nil {
			return
		}
		slot.x, slot.err = screen.BuildIndex(osf, key.size, screen.IndexOptions{Identities: x.identities})
	})
	slot.done.Store(true)
	return slot.x, slot.err
}

// ready returns the seek index of the recording of e open as osf if it
// is at hand without building it: built before, or a valid sidecar. It
// does not wait for a build under way: a build decodes the whole
// recording, so decoding from the start to any time costs less than
// waiting for it.
func (x *indexes) ready(e entry, osf recFile) (*screen.Index, bool) {
	key, err := indexKey(e, osf)
	if err != nil {
		return nil, false
	}
	x.mu.Lock()
	slot := x.m[key]
	x.mu.Unlock()
	if slot != nil && slot.done.Load() {
		return slot.x, slot.err == nil
	}
	idx, err := x.sidecar(e, osf, key.size)
	return idx, err == nil
}

// indexKey is the key of the index of the recording of e open as osf:
// the file's version.
func indexKey(e entry, osf recFile) (cacheKey, error) {
	fi, err := osf.Stat()
	if err != nil {
		return cacheKey{}, err
	}
	return cacheKey{path: e.src.path + "\x00" + e.rel, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// sidecar reads the sidecar index of the recording of e open as osf, of
// size bytes, with the identities that open an encrypted one.
func (x *indexes) sidecar(e entry, osf recFile, size int64) (*screen.Index, error) {
	b, err := readSidecar(e)
	if err != nil {
		return nil, err
	}
	return screen.ReadIndex(b, osf, size, screen.IndexOptions{Identities: x.identities})
}

// readSidecar reads the seek index file beside the recording of e. A
// recording in a Store has none: its "path" names the store, not a local
// file, and the index is built.
func readSidecar(e entry) ([]byte, error) {
	if e.src.store != nil {
		return nil, fs.ErrNotExist
	}
	if e.src.root == nil {
		return os.ReadFile(screen.IndexPath(e.src.path))
	}
	f, err := e.src.root.Open(screen.IndexPath(filepath.Clean(e.rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<30))
}

// player plays one RFB recording to one render-mode viewer: it decodes
// the recording into a screen.Screen at the replay's pace and lets a
// render.Viewer send the changes. Its loop runs in one goroutine; the
// control methods are safe for concurrent use.
type player struct {
	id    string
	name  string
	e     entry
	file  *recfile.File
	osf   recFile
	opts  Options
	clock Clock
	log   *slog.Logger
	idx   *indexes
	auth  string

	ctrl    chan control
	running atomic.Bool // the loop runs: the viewer's handshake is done

	// Owned by the loop.
	scr    *screen.Screen
	tr     *screen.Tracker
	next   *format.Record
	ended  bool
	last   time.Duration // recording time of the last record fed
	acc    time.Duration // played time of the last record fed, before Speed
	base   time.Time     // when played time was acc0
	acc0   time.Duration
	broken bool // the Screen stopped: logged once
	paused bool

	mu    sync.Mutex
	state State
}

// State is the state of a render-mode replay, as the control API
// reports it.
type State struct {
	ID        string        `json:"id"`
	Recording string        `json:"recording"`
	Time      time.Duration `json:"time_ns"`
	Paused    bool          `json:"paused"`
	Speed     float64       `json:"speed"`
	Ended     bool          `json:"ended"`
}

// control is a command of the control API.
type control struct {
	action string // "pause", "resume", "seek", "speed"
	to     time.Duration
	speed  float64
	done   chan error
}

func (p *player) snapshot() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// do runs a command in the player's loop and waits for it.
func (p *player) do(ctx context.Context, c control) error {
	if !p.running.Load() {
		return ErrNotStarted
	}
	c.done = make(chan error, 1)
	select {
	case p.ctrl <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run serves the viewer on conn until it leaves, the replay ends (with
// EndClose) or ctx is done. It closes conn.
func (p *player) run(ctx context.Context, conn net.Conn) error {
	defer conn.Close()
	if err := p.seek(p.opts.Start, false); err != nil {
		return err
	}
	if p.scr.Image() == nil {
		if err := p.scr.Err(); err != nil {
			return fmt.Errorf("recording %s: no screen to show: %w", p.name, err)
		}
		return fmt.Errorf("recording %s: no screen to show: the session has no ServerInit", p.name)
	}
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	hello, err := render.Handshake(conn, render.HandshakeOptions{Password: p.auth, Size: p.scr.Size(), Name: p.scr.Name()})
	if err != nil {
		return fmt.Errorf("viewer handshake: %w", err)
	}
	conn.SetDeadline(time.Time{})
	p.log.Info("render viewer connected", "id", p.id, "rfb", fmt.Sprintf("3.%d", hello.Minor), "size", p.scr.Size())
	v := render.NewViewer(conn, p.scr.Size(), func(msg string, args ...any) { p.log.Debug(msg, args...) })
	defer v.Close()
	stop := context.AfterFunc(ctx, func() { v.Close() })
	defer stop()
	return p.loop(ctx, v)
}

func (p *player) loop(ctx context.Context, v *render.Viewer) error {
	p.running.Store(true)
	defer p.running.Store(false)
	var endWait time.Time
	for {
		now := p.clock.Now()
		var due time.Time
		for n := 0; !p.paused && !p.ended; n++ {
			if p.next == nil {
				rec, err := p.file.Next()
				if err != nil {
					p.end(err)
					break
				}
				p.next = &rec
			}
			due = p.due(p.next.Time)
			if due.After(now) || n == maxFeedBurst {
				break
			}
			p.feed(*p.next)
			p.next = nil
		}
		if err := v.Update(p.scr, p.tr); err != nil {
			return viewerEnd(err)
		}
		p.publish()
		var timer <-chan time.Time
		stopTimer := func() bool { return false }
		switch {
		case p.ended && !p.opts.Loop && p.opts.End == EndClose:
			// Let the viewer ask for and get the last screen, then close:
			// once it asks again and there is nothing more to send, or
			// after 5 s for a viewer that stops asking.
			if endWait.IsZero() {
				endWait = now
			}
			if v.CaughtUp() || now.Sub(endWait) > 5*time.Second {
				v.Finish(time.Second)
				return nil
			}
			t := p.clock.NewTimer(100 * time.Millisecond)
			stopTimer = t.Stop
			timer = t.C()
		case p.ended && p.opts.Loop:
			if err := p.seek(0, true); err != nil {
				return err
			}
			continue
		case !p.paused && !p.ended && p.next != nil:
			t := p.clock.NewTimer(due.Sub(p.clock.Now()))
			stopTimer = t.Stop
			timer = t.C()
		}
		select {
		case <-timer:
		case <-v.Wake():
		case <-v.Done():
			return viewerEnd(v.Err())
		case c := <-p.ctrl:
			c.done <- p.apply(c)
		case <-ctx.Done():
			stopTimer()
			return nil
		}
		stopTimer()
	}
}

// viewerEnd returns nil for a viewer that left.
func viewerEnd(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// due returns when the record at recording time t is due.
func (p *player) due(t time.Duration) time.Time {
	if p.opts.Speed == SpeedMax {
		return time.Time{}
	}
	gap := t - p.last
	if p.opts.IdleLimit > 0 && gap > p.opts.IdleLimit {
		gap = p.opts.IdleLimit
	}
	return p.base.Add(time.Duration(float64(p.acc+max(gap, 0)-p.acc0) / p.opts.Speed))
}

// feed decodes one record.
func (p *player) feed(rec format.Record) {
	gap := rec.Time - p.last
	if p.opts.IdleLimit > 0 && gap > p.opts.IdleLimit {
		gap = p.opts.IdleLimit
	}
	p.acc += max(gap, 0)
	p.last = rec.Time
	if rec.Kind == format.KindMarker {
		p.log.Info("marker", "label", rec.Label, "at", rec.Time)
	}
	if err := p.scr.Feed(rec); err != nil && !p.broken {
		p.broken = true
		p.log.Warn("recording cannot be decoded further: the screen stays as it is", "err", err)
	}
}

// end handles the end of the records, with err from Next.
func (p *player) end(err error) {
	p.ended = true
	if !cleanEnd(err) {
		p.log.Error("recording damaged: played up to the damage", "recording", p.name, "err", err)
	}
	if !p.opts.Loop && p.opts.End == EndHold {
		p.log.Info("replay over: holding the connection open")
	}
}

// played returns the played time now, before Speed.
func (p *player) played() time.Duration {
	if p.opts.Speed == SpeedMax || p.paused {
		return p.acc0
	}
	return p.acc0 + time.Duration(float64(p.clock.Now().Sub(p.base))*p.opts.Speed)
}

// rebase restarts the schedule from now at played time acc0.
func (p *player) rebase(acc0 time.Duration) {
	p.acc0, p.base = acc0, p.clock.Now()
}

// apply runs a control command.
func (p *player) apply(c control) error {
	switch c.action {
	case "pause":
		if !p.paused {
			p.rebase(p.played())
			p.paused = true
		}
	case "resume":
		if p.paused {
			p.paused = false
			p.rebase(p.acc0)
		}
	case "speed":
		o := p.opts
		o.Speed = c.speed
		o, err := o.normalized()
		if err != nil {
			return err
		}
		played := p.played()
		p.opts.Speed = o.Speed
		p.rebase(played)
	case "seek":
		return p.seek(c.to, true)
	default:
		return fmt.Errorf("%w: unknown action %q", ErrOption, c.action)
	}
	p.publish()
	return nil
}

// seek replaces the Screen by one that shows the recording at time t:
// from the seek index's keyframe before t when the recording has one
// (wsrec files), else decoded from the start. With wait false (the
// replay's opening, when the build of an index without a sidecar has
// just started beside it and decodes the whole recording) it decodes
// from the start rather than wait for an index being built: that costs
// less, so a deep link into a long recording shows sooner.
func (p *player) seek(t time.Duration, wait bool) error {
	p.next, p.ended, p.broken = nil, false, false
	var scr *screen.Screen
	if r := p.file.Reader(); r != nil && t > 0 {
		var (
			x   *screen.Index
			err error
		)
		if wait {
			x, err = p.idx.get(p.e, p.osf)
		} else if idx, ok := p.idx.ready(p.e, p.osf); ok {
			x = idx
		}
		if x != nil {
			scr, err = x.SeekTo(r, t)
		}
		if err != nil {
			p.log.Warn("seek index unusable: decoding from the start", "err", err)
			scr = nil
		}
	}
	if scr == nil {
		if err := p.file.Seek(0); err != nil {
			return fmt.Errorf("recording %s: rewind: %w", p.name, err)
		}
		scr = screen.New(screen.Options{})
		for {
			rec, err := p.file.Next()
			if err != nil {
				p.end(err)
				break
			}
			// Before the ServerInit nothing can be shown: play from it.
			if rec.Time > t && scr.Image() != nil {
				p.next = &rec
				break
			}
			scr.Feed(rec)
		}
	}
	if p.tr != nil {
		p.tr.Stop()
	}
	p.scr, p.tr = scr, scr.Track()
	p.last = max(t, scr.Time())
	p.acc = 0
	p.rebase(0)
	p.publish()
	return nil
}

// publish updates the state the control API reports.
func (p *player) publish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Time = p.last
	if p.next != nil && !p.paused && p.opts.Speed != SpeedMax {
		// Between two records: the time the schedule has reached.
		p.state.Time = min(p.next.Time, p.last+(p.played()-p.acc))
	}
	p.state.Speed = p.opts.Speed
	p.state.Paused = p.paused
	p.state.Ended = p.ended
}
