package replay

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

// conn is the target end of one replay, which proxy.Target.Dialer hands to
// the proxy in place of a TCP connection: Read plays the recording, and
// Write counts and discards what the client sends.
//
// The proxy reads a target in one goroutine (targetToClient) and sends what
// each Read returns as one WebSocket message, so Read is the player: it
// waits until the next target→client message is due and returns it whole
// (in several Reads only if it is larger than the proxy's buffer, 256 KiB,
// which a recording made by wsproxy or websockify never holds). A replay
// thus needs no goroutine of its own, and its memory is the recording's
// reader: one chunk (wsrec) or one line (websockify).
//
// Read is not safe for concurrent use with itself, as the proxy never does;
// Write and Close are safe for concurrent use with everything. Close ends a
// Read that waits, and the recording is closed once no Read runs.
type conn struct {
	name  string
	file  *recfile.File
	osf   recFile
	opts  Options
	clock Clock
	log   *slog.Logger

	// Playback, used by Read alone.
	start      time.Time     // when the first record at or after opts.Start is due
	played     time.Duration // replay time of the last timed record, before Speed
	last       time.Duration // recording time of the last timed record, or opts.Start
	shift      time.Duration // time spent waiting for the client (PaceClient)
	expect     int64         // bytes the original client had sent so far, over all passes
	forgiven   int64         // bytes of expect forgiven after pace timeouts
	rest       []byte        // the part of a message that did not fit the last Read
	passSent   int           // messages sent in this pass
	pass       int
	held       bool // the recording ended and the connection is held open
	over       bool // the last pass ended: io.EOF returned, or held
	clientMsgs int  // recorded client messages read
	sent       int64
	maxLate    time.Duration

	// Shared.
	client atomic.Int64  // bytes the client sent
	kick   chan struct{} // a value after Write, without blocking
	done   chan struct{} // closed by Close
	rd, wd *deadline

	mu       sync.Mutex
	closed   bool
	reading  bool
	finish   sync.Once
	released bool // the recording is closed: by finish, or at a hold
}

func newConn(name string, file *recfile.File, osf recFile, opts Options, clock Clock, log *slog.Logger) *conn {
	return &conn{
		name: name, file: file, osf: osf, opts: opts, clock: clock, log: log,
		start: clock.Now(),
		last:  opts.Start,
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		rd:    newDeadline(),
		wd:    newDeadline(),
	}
}

// Read returns the next target→client message of the recording when it is
// due. After the last record it returns io.EOF, which makes the proxy close
// with 1000 "Target closed", unless Options.End is EndHold (then it waits
// for Close) or Options.Loop is set. A recording that is damaged or cut off
// makes it return the reader's error, wrapped, after the last message that
// could be read: the proxy closes with 1011 and logs it. After Close it
// returns net.ErrClosed.
func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.reading = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reading = false
		closed := c.closed
		c.mu.Unlock()
		if closed {
			c.finish.Do(c.finished)
		}
	}()

	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	if c.held {
		return 0, c.hold()
	}
	for {
		rec, err := c.file.Next()
		if err != nil {
			if err := c.ended(err); err != nil {
				return 0, err
			}
			continue // the next pass
		}
		if rec.Kind == format.KindMessage && rec.Dir == format.ClientToTarget {
			c.clientMsgs++
			if c.clientMsgs > handshakeMessages && inputEvents(rec.Payload) {
				continue // a viewer of a replay does not retype them
			}
			c.expect += int64(len(rec.Payload))
			continue
		}
		if err := c.wait(rec.Time); err != nil {
			return 0, err
		}
		switch rec.Kind {
		case format.KindMessage:
			if len(rec.Payload) == 0 {
				continue // nothing to send: a Read of 0 bytes is no message
			}
			if c.opts.Pace == PaceClient {
				if err := c.waitClient(); err != nil {
					return 0, err
				}
			}
			n := copy(p, rec.Payload)
			c.rest = rec.Payload[n:] // valid until the next call of c.file.Next
			c.sent++
			c.passSent++
			return n, nil
		case format.KindMarker:
			c.log.Info("marker", "label", rec.Label, "at", rec.Time)
		case format.KindGap:
			c.log.Warn("recording gap: the recorder lost records here", "at", rec.Time, "records", rec.Gap.Records, "bytes", rec.Gap.Bytes, "reason", rec.Gap.Reason)
		case format.KindClose:
			c.log.Debug("recorded session closed here", "at", rec.Time, "by", rec.Close.By.String(), "code", rec.Close.Code, "reason", rec.Close.Reason)
		}
	}
}

// handshakeMessages is the most messages an RFB client sends before its
// first normal message (version, security type, authentication response,
// ClientInit): PaceClient counts them whatever they hold.
const handshakeMessages = 4

// inputEvents reports whether a recorded client message holds only RFB
// KeyEvents or PointerEvents (RFC 6143 §7.5.4, §7.5.5), as noVNC sends
// each: PaceClient does not wait for them, since the viewer of a replay
// does not retype what the recorded user typed.
func inputEvents(p []byte) bool {
	switch {
	case len(p) == 0:
		return false
	case len(p)%8 == 0 && p[0] == 4:
		for i := 0; i < len(p); i += 8 {
			if p[i] != 4 {
				return false
			}
		}
		return true
	case len(p)%6 == 0 && p[0] == 5:
		for i := 0; i < len(p); i += 6 {
			if p[i] != 5 {
				return false
			}
		}
		return true
	}
	return false
}

// ended handles the end of a pass, with err from c.file.Next. It returns
// nil when the next pass is ready.
func (c *conn) ended(err error) error {
	if !cleanEnd(err) {
		// Damage: the proxy closes with 1011 and logs the error.
		return fmt.Errorf("recording %s: %w", c.name, err)
	}
	if err != io.EOF && c.pass == 0 {
		c.log.Warn("recording ends without its trailer: its writer was stopped or still writes", "err", err)
	}
	c.log.Debug("replay pass over", "pass", c.pass, "messages", c.passSent, "max_late", c.maxLate)
	// A pass that sent nothing would loop without end.
	if c.opts.Loop && c.passSent > 0 {
		if err := c.interrupted(); err != nil {
			return err
		}
		if err := c.file.Seek(0); err != nil {
			return fmt.Errorf("recording %s: rewind: %w", c.name, err)
		}
		c.pass++
		c.passSent = 0
		c.last = c.opts.Start
		return nil
	}
	c.over = true
	if c.opts.End == EndHold {
		c.held = true
		c.release() // nothing more to read: free the reader's memory now
		c.log.Info("replay over: holding the connection open")
		return c.hold()
	}
	return io.EOF
}

// hold waits until the connection is closed or the read deadline passes.
func (c *conn) hold() error {
	select {
	case <-c.done:
		return net.ErrClosed
	case <-c.rd.wait():
		return os.ErrDeadlineExceeded
	}
}

// wait waits until the record at recording time t is due. A record before
// Options.Start is due at once.
func (c *conn) wait(t time.Duration) error {
	if t < c.opts.Start {
		return nil
	}
	gap := t - c.last
	if c.opts.IdleLimit > 0 && gap > c.opts.IdleLimit {
		gap = c.opts.IdleLimit
	}
	c.played += gap
	c.last = t
	if c.opts.Speed == SpeedMax {
		return nil
	}
	due := c.start.Add(c.shift + time.Duration(float64(c.played)/c.opts.Speed))
	if err := c.sleepUntil(due); err != nil {
		return err
	}
	c.maxLate = max(c.maxLate, c.clock.Now().Sub(due))
	return nil
}

// sleepUntil waits until the clock reaches due.
func (c *conn) sleepUntil(due time.Time) error {
	d := due.Sub(c.clock.Now())
	if d <= 0 {
		return c.interrupted()
	}
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-c.done:
		return net.ErrClosed
	case <-c.rd.wait():
		return os.ErrDeadlineExceeded
	}
}

// interrupted returns the error of a closed connection or a passed read
// deadline, or nil.
func (c *conn) interrupted() error {
	select {
	case <-c.done:
		return net.ErrClosed
	case <-c.rd.wait():
		return os.ErrDeadlineExceeded
	default:
		return nil
	}
}

// waitClient waits, for PaceClient, until the client has sent as many
// bytes as the original client had when the next message was sent, or
// until Options.PaceTimeout has passed: then the missing bytes are
// forgiven. The replay's schedule moves on by the time waited.
func (c *conn) waitClient() error {
	need := c.expect - c.forgiven
	if c.client.Load() >= need {
		return nil
	}
	began := c.clock.Now()
	t := c.clock.NewTimer(c.opts.PaceTimeout)
	defer t.Stop()
	for c.client.Load() < need {
		select {
		case <-c.kick:
		case <-t.C():
			got := c.client.Load()
			c.log.Warn("client behind the recording: playing on", "sent", got, "expected", need, "waited", c.opts.PaceTimeout)
			c.forgiven += need - got
			need = got
		case <-c.done:
			return net.ErrClosed
		case <-c.rd.wait():
			return os.ErrDeadlineExceeded
		}
	}
	c.shift += c.clock.Now().Sub(began)
	return nil
}

// Write counts and discards a message from the client.
func (c *conn) Write(p []byte) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	case <-c.wd.wait():
		return 0, os.ErrDeadlineExceeded
	default:
	}
	c.client.Add(int64(len(p)))
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.log.Debug("client message discarded", "bytes", len(p))
	return len(p), nil
}

// Close ends the replay. It is idempotent.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	reading := c.reading
	c.mu.Unlock()
	c.rd.stop()
	c.wd.stop()
	if !reading {
		c.finish.Do(c.finished) // else Read does, as it returns
	}
	return nil
}

// finished runs once the connection is closed and no Read runs, which
// none will again. A replay closed before the end of the recording is
// logged at Info, with how far it got: the proxy's "session closed" line
// of the same session says who closed it and why.
func (c *conn) finished() {
	c.release()
	attrs := []any{"passes", c.pass + 1, "messages", c.sent, "client_bytes", c.client.Load(), "max_late", c.maxLate}
	if !c.over {
		c.log.Info("replay closed before the end of the recording", append(attrs, "at", c.last)...)
		return
	}
	c.log.Debug("replay closed", attrs...)
}

// release closes the recording. It is called by Read or by finished,
// never at the same time.
func (c *conn) release() {
	if c.released {
		return
	}
	c.released = true
	c.file.Close()
	c.osf.Close()
}

func (c *conn) LocalAddr() net.Addr  { return addr(c.name) }
func (c *conn) RemoteAddr() net.Addr { return addr(c.name) }

// SetDeadline sets the read and write deadlines.
func (c *conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the time after which a Read that waits returns
// os.ErrDeadlineExceeded. Deadlines are wall-clock times, as for any
// net.Conn, whatever the replay's Clock.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the time after which Write fails. Write never
// blocks, so it only fails once the deadline has passed.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wd.set(t)
	return nil
}

// addr is the address of a replay: the recording's name.
type addr string

func (a addr) Network() string { return "replay" }
func (a addr) String() string  { return string(a) }

// deadline is a read or write deadline, kept as net.Pipe keeps them: a
// channel closed when the deadline passes. Its methods are safe for
// concurrent use.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

// set sets the deadline; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer's function closes it
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns a channel that is closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

// stop stops the deadline's timer, if any.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
