package record

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
)

// ErrSessionClosed is returned by Frame after Close.
var ErrSessionClosed = errors.New("record: session recording closed")

// Session is the recording of one proxied session. Frame and Close may be
// called from different goroutines, but Frame calls must not overlap (the
// proxy's tap guarantees it). Records keep the order of the calls; a time
// earlier than the last record's is raised to it, so times never
// decrease. Close must be called once the session has ended; it is
// idempotent.
//
// Frame encodes the record, copying the payload, into a bounded
// per-session queue and returns; a goroutine of the Session compresses
// and writes it, so the proxy never waits for the disk unless the queue is
// full. The queue is made of buffers of about the chunk size, each written
// as one chunk where it lies (format.Writer.WriteBuffer): a relayed
// message is copied once, into the queue. The writing goroutine takes
// buffers once they are full; the last, partial one only when the flush
// interval has passed since a record waited, when the proxy waits for
// room, or at Close. Woken for each message, it took one message at a
// time, which the Writer then copied into its open chunk, and two
// goroutine switches per message cost more than the copy.
type Session struct {
	r      *Recorder
	header format.Header
	start  time.Time // monotonic start
	log    *slog.Logger

	mu       sync.Mutex
	notEmpty sync.Cond
	notFull  sync.Cond
	queue    *queue // nil while nothing is queued
	spare    *queue // emptied by the writing goroutine while the session is busy, for push
	last     time.Duration
	closing  bool
	err      error       // strict policy: why the session must end
	due      bool        // the partial buffer must be written too: a record waited the flush interval, or the proxy waits
	armed    bool        // timer runs for a queued record
	timer    *time.Timer // flush timer, see flushDue

	done      chan struct{} // the writing goroutine has finished
	closeOnce sync.Once
	closeErr  error

	// Owned by the writing goroutine.
	sink    sink
	name    string
	part    int
	prev    format.Hash // chain of the last part
	lost    format.GapInfo
	lastTry time.Time
}

// queue holds the records handed to a Session and not yet taken by its
// writing goroutine, encoded in buffers of about the chunk size. Queues
// come from the Recorder's pool and go back to it once written, with their
// buffers, so that an idle session holds none: a recorded session that
// once sent a burst would otherwise keep megabytes.
type queue struct {
	bufs []*format.RecordBuffer // bufs[:n] hold records; bufs[n:] are empty, for reuse
	n    int
	size int // bytes in bufs[:n]
}

// capacity returns the bytes q's buffers hold room for.
func (q *queue) capacity() int {
	n := 0
	for _, b := range q.bufs {
		n += b.Cap()
	}
	return n
}

// reset empties q, keeping its buffers.
func (q *queue) reset() {
	for _, b := range q.bufs[:q.n] {
		b.Reset()
	}
	q.n, q.size = 0, 0
}

// maxPooledQueue is the largest queue (in buffer capacity) put back in the
// pool; a single message larger than the buffer makes a bigger one, which
// is dropped.
const maxPooledQueue = 4 << 20

// Start starts the recording of a session and queues its open record.
// h.Start is the session's wall-clock start and h.Meta its metadata; a zero
// h.SessionID gets a random one.
//
// Start checks (and makes) the file's directory, which fails for a
// missing or unsafe directory (ErrUnsafePath), and leaves the file's
// creation, with its header, to the Session's writing goroutine, so that
// the proxy's accept path does not wait for the file system. Under the
// strict policy, a directory that fails is Start's error; a file that
// then cannot be created fails the recording as a write error does: Frame
// and Err return the error and Close returns it, and what was queued
// meanwhile (at most the buffer) is not recorded. Under best-effort, the
// session is recorded as soon as a file can be created, starting with a
// gap record. Start returns ErrClosed after Close.
func (r *Recorder) Start(h format.Header) (*Session, error) {
	if h.SessionID == (format.SessionID{}) {
		h.SessionID = format.NewSessionID()
	}
	if h.Start.IsZero() {
		h.Start = time.Now()
	}
	s := &Session{r: r, header: h, start: time.Now(), done: make(chan struct{})}
	s.notEmpty.L, s.notFull.L = &s.mu, &s.mu
	s.log = r.log.With("session", h.SessionID.String())
	if err := r.add(s); err != nil {
		return nil, err
	}
	p, err := r.place(&s.header, 0)
	if err != nil {
		s.log.Error("recording: cannot create the file", "err", err)
		if r.opts.Policy == Strict {
			r.remove(s)
			return nil, err
		}
	}
	s.enqueue(format.Record{Kind: format.KindOpen}, nil)
	go s.writeLoop(p)
	return s, nil
}

// Header returns the header the recording was started with.
func (s *Session) Header() format.Header { return s.header }

// Frame queues one message. It waits while the queue is full, and returns
// an error once the recording has failed under the strict policy (the
// caller must then end the session), after Close, or for a message the
// format cannot hold (larger than format.DefaultMaxRecordSize), which is
// not queued.
func (s *Session) Frame(dir format.Direction, typ format.MessageType, at time.Duration, payload []byte) error {
	return s.enqueue(format.Record{Kind: format.KindMessage, Time: at, Dir: dir, Type: typ}, payload)
}

// Err returns the error Frame would return now, without queuing anything:
// the recording's failure under the strict policy, ErrSessionClosed after
// Close, or nil. A caller that must not let a message pass unrecorded
// checks it before the message is sent and calls Frame once it was.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closing {
		return ErrSessionClosed
	}
	return nil
}

// Marker queues a marker record. A label that is not UTF-8 is refused
// (format.ErrInvalid) and not queued; otherwise it returns what Frame
// would.
func (s *Session) Marker(at time.Duration, label string) error {
	return s.enqueue(format.Record{Kind: format.KindMarker, Time: at, Label: label}, nil)
}

func (s *Session) enqueue(rec format.Record, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.err != nil {
			return s.err
		}
		if s.closing {
			return ErrSessionClosed
		}
		// One message larger than the buffer is let through alone.
		if s.queue == nil || s.queue.size == 0 || s.queue.size+len(payload) <= s.r.opts.BufferSize {
			break
		}
		// Room comes from the writing goroutine, which must then take
		// even a partial buffer (a BufferSize below the chunk size).
		s.due = true
		s.notEmpty.Signal()
		s.notFull.Wait()
	}
	rec.Time = max(rec.Time, s.last)
	rec.Payload = payload
	if err := s.push(rec); err != nil {
		return err
	}
	s.last = rec.Time
	return nil
}

// push encodes rec at the end of the queue, taking a queue from the pool
// if needed, and wakes the writing goroutine. A record that would take the
// last buffer past the chunk size starts the next. s.mu is held. It
// returns the error of a record the format cannot hold, which is not
// queued.
func (s *Session) push(rec format.Record) error {
	if s.queue == nil {
		if s.spare != nil {
			s.queue, s.spare = s.spare, nil
		} else {
			s.queue = s.r.queues.Get().(*queue)
		}
	}
	q := s.queue
	size := recordHeaderSize + len(rec.Payload) + len(rec.Label) + len(rec.Close.Reason) + len(rec.Gap.Reason)
	if q.n == 0 || q.bufs[q.n-1].Len() > 0 && q.bufs[q.n-1].Len()+size > s.r.chunkSize() {
		if q.n == len(q.bufs) {
			q.bufs = append(q.bufs, new(format.RecordBuffer))
		}
		q.n++
	}
	b := q.bufs[q.n-1]
	before := b.Len()
	if err := b.Append(rec); err != nil {
		if b.Len() == 0 {
			q.n--
		}
		return fmt.Errorf("record: %w", err)
	}
	if q.size == 0 {
		s.arm()
	}
	q.size += b.Len() - before
	if s.ready() || s.closing {
		s.notEmpty.Signal()
	}
	return nil
}

// arm starts the flush timer for a record queued in an empty queue,
// unless it runs already. s.mu is held.
func (s *Session) arm() {
	d := s.r.opts.FlushInterval
	if d <= 0 {
		s.due = true // no timer: every record is written at once
		return
	}
	if s.armed {
		return
	}
	s.armed = true
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.flushDue)
	} else {
		s.timer.Reset(d)
	}
}

// flushDue runs on the flush timer's goroutine: a record has waited the
// flush interval, so the writing goroutine takes the partial buffer too.
func (s *Session) flushDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	if s.queue != nil && s.queue.size > 0 {
		s.due = true
		s.notEmpty.Signal()
	}
}

// ready reports whether the writing goroutine has buffers to take: a
// full one, or the partial one when due. s.mu is held.
func (s *Session) ready() bool {
	q := s.queue
	return q != nil && q.n > 0 && (s.due || q.n > 1 || q.bufs[0].Len() >= s.r.chunkSize())
}

// keepPartial moves the last buffer of q, partial, into a new queue that
// becomes the session's, for the proxy to go on filling; the rest of q is
// the writing goroutine's to write. s.mu is held.
func (s *Session) keepPartial(q *queue) {
	k := s.spare
	s.spare = nil
	if k == nil {
		k = s.r.queues.Get().(*queue)
	}
	if len(k.bufs) == 0 {
		k.bufs = append(k.bufs, new(format.RecordBuffer))
	}
	last := q.bufs[q.n-1]
	k.bufs[0], q.bufs[q.n-1] = last, k.bufs[0]
	k.n, k.size = 1, last.Len()
	q.n--
	q.size -= last.Len()
	s.queue = k
}

// recordHeaderSize is the size of a record's header in a chunk (SPEC.md,
// "Records"), for push's estimate of where a chunk ends.
const recordHeaderSize = 14

// Close queues the close record, waits until the recording is written and
// sealed, and returns the first write error. at is the time of the close,
// since the session start (0: now).
func (s *Session) Close(at time.Duration, ci format.CloseInfo) error {
	s.closeOnce.Do(func() {
		if at == 0 {
			at = time.Since(s.start)
		}
		s.mu.Lock()
		if s.err == nil {
			at = max(at, s.last)
			s.last = at
			if err := s.push(format.Record{Kind: format.KindClose, Time: at, Close: ci}); err != nil {
				s.log.Error("recording: close record", "err", err)
			}
		}
		s.closing = true
		s.notEmpty.Signal()
		s.notFull.Broadcast()
		s.mu.Unlock()
		<-s.done
		s.r.remove(s)
	})
	<-s.done
	return s.closeErr
}

// writeLoop creates the file at p (nil: none could be placed), writes
// queued records until Close, then seals the file.
func (s *Session) writeLoop(p *place) {
	defer close(s.done)
	if p != nil {
		if err := s.openAt(p); err != nil {
			s.log.Error("recording: cannot create the file", "err", err, "policy", string(s.r.opts.Policy))
			if s.r.opts.Policy == Strict {
				s.setErr(err) // already "record: ..."
			}
			s.lastTry = time.Now() // best-effort: the next try after the flush interval
		}
	}
	for {
		s.mu.Lock()
		if s.queue == nil && s.spare != nil {
			// Idle: the spare goes back to the pool, so that an idle
			// session holds no queue.
			s.r.putQueue(s.spare)
			s.spare = nil
		}
		for !s.ready() && !s.closing {
			s.notEmpty.Wait()
		}
		q := s.queue
		closing := s.closing
		flush := s.due || closing
		s.due = false
		if q != nil && q.n > 0 && !flush && q.bufs[q.n-1].Len() < s.r.chunkSize() {
			s.keepPartial(q)
		} else {
			s.queue = nil
		}
		s.notFull.Broadcast()
		s.mu.Unlock()
		if q != nil {
			for _, b := range q.bufs[:q.n] {
				s.write(b)
			}
			if flush && !closing && s.sink != nil {
				// What the Writer holds has waited long enough too.
				if err := s.sink.flush(); err != nil {
					s.abandonSink(fmt.Errorf("write %s: %w", s.name, err))
				}
			}
			s.recycle(q)
		}
		if closing {
			break
		}
	}
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.spare != nil {
		s.r.putQueue(s.spare)
		s.spare = nil
	}
	s.mu.Unlock()
	if s.sink != nil {
		if err := s.sink.close(); err != nil {
			s.fail(fmt.Errorf("seal %s: %w", s.name, err))
			s.spoolClosed(false)
		} else {
			s.log.Debug("recording sealed", "file", s.name)
			s.spoolClosed(true)
		}
	} else if s.lost.Records > 0 {
		s.log.Error("recording: records lost", "records", s.lost.Records, "bytes", s.lost.Bytes)
	}
}

// write writes the records of one buffer, switching parts and handling
// failures.
func (s *Session) write(recs *format.RecordBuffer) {
	records, bytes := recs.Records() // the sink empties recs
	if s.sink == nil && !s.reopen(recs.First()) {
		s.lose(records, bytes)
		return
	}
	held, _ := s.sink.pending()
	if err := s.sink.write(recs); err != nil {
		// recs are lost unless the sink took them, and then with it.
		if n, _ := s.sink.pending(); n == held {
			s.lose(records, bytes)
		}
		s.abandonSink(fmt.Errorf("write %s: %w", s.name, err))
		return
	}
	// With what the Writer holds for its next chunk counted, a part ends
	// within a chunk of MaxSize: a buffer of records may be a whole chunk,
	// so checking the file's size alone let a part run two chunks over.
	if max := s.r.opts.MaxSize; max > 0 && s.sink.size()+s.sink.buffered() >= max {
		err := s.sink.close()
		if err != nil {
			s.fail(fmt.Errorf("seal %s: %w", s.name, err))
		}
		s.spoolClosed(err == nil)
		s.prev, s.sink = s.sink.chain(), nil
		s.part++
		if err := s.open(); err != nil {
			s.fail(fmt.Errorf("create part %d: %w", s.part, err))
		}
	}
}

// abandonSink handles a write error of the sink: err is logged (and kept
// under the strict policy), what the sink held is lost with it, and its
// file is left unsealed.
func (s *Session) abandonSink(err error) {
	s.fail(err)
	n, b := s.sink.pending()
	s.lose(n, b)
	s.sink.abandon()
	s.spoolClosed(false)
	s.prev, s.sink = s.sink.chain(), nil
}

// fail handles a write error: logged, and under the strict policy kept for
// Frame to return. The first error is also Close's result.
func (s *Session) fail(err error) {
	s.log.Error("recording failed", "err", err, "policy", string(s.r.opts.Policy))
	s.mu.Lock()
	if s.closeErr == nil {
		s.closeErr = err
	}
	s.mu.Unlock()
	if s.r.opts.Policy == Strict {
		s.setErr(fmt.Errorf("record: %w", err))
	}
}

// setErr makes err, unless another came first, what Frame and Err return,
// and Close.
func (s *Session) setErr(err error) {
	s.mu.Lock()
	if s.closeErr == nil {
		s.closeErr = err
	}
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// lose accounts for records, of bytes message payload bytes, that were
// not written.
func (s *Session) lose(records, bytes uint64) {
	if s.r.opts.Policy == Strict {
		return // the session is ending; nothing to account for
	}
	s.lost.Records += records
	s.lost.Bytes += bytes
}

// reopen tries, under the best-effort policy and at most once per flush
// interval, to continue the recording in a new part that starts with a gap
// record.
func (s *Session) reopen(at time.Duration) bool {
	if s.r.opts.Policy == Strict || time.Since(s.lastTry) < s.r.opts.FlushInterval {
		return false
	}
	s.lastTry = time.Now()
	if s.name != "" {
		s.part++ // the failed file keeps its part number
	}
	if err := s.open(); err != nil {
		s.log.Error("recording: cannot create the file", "err", err)
		return false
	}
	if s.lost.Records > 0 {
		s.lost.Reason = "the recording could not be written"
		if err := s.sink.writeRecord(format.Record{Kind: format.KindGap, Time: at, Gap: s.lost}); err != nil {
			s.fail(err)
			s.sink.abandon()
			s.spoolClosed(false)
			s.sink = nil
			return false
		}
		s.log.Warn("recording resumed after a gap", "file", s.name, "records_lost", s.lost.Records, "bytes_lost", s.lost.Bytes)
		s.lost = format.GapInfo{}
	}
	return true
}

// open creates the file of the current part.
func (s *Session) open() error {
	h := s.header
	h.Part = uint32(s.part)
	p, err := s.r.place(&h, s.part)
	if err != nil {
		return err
	}
	return s.openAt(p)
}

// openAt creates the file of the current part at p and writes its header.
func (s *Session) openAt(p *place) error {
	h := s.header
	h.Part, h.PrevChain = uint32(s.part), s.prev
	c, err := s.r.createAt(p)
	if err != nil {
		return err
	}
	f, name := c.f, c.name
	var sk sink
	if s.r.opts.Format == FormatWebsockify {
		sk = &websockifySink{f: f, w: websockify.NewWriter(f), done: s.r.syncer(name, c.tok)}
	} else {
		w, err := format.NewWriter(f, h, format.WriterOptions{
			ChunkSize:     s.r.chunkSize(),
			FlushInterval: s.r.opts.FlushInterval,
			Encoder:       s.r.enc,
			SignKey:       s.r.opts.SignKey,
			Recipients:    s.r.opts.Recipients,
			PublicMeta:    s.r.opts.PublicMeta,
		})
		if err != nil {
			f.Close()
			c.done(true)
			return err
		}
		sk = &wsrecSink{f: f, w: w, done: s.r.syncer(name, c.tok)}
	}
	c.done(false)
	s.sink, s.name = sk, name
	s.log.Info("recording", "file", name, "part", s.part)
	s.spoolCreated()
	return nil
}

// sink is one open recording file.
type sink interface {
	write(*format.RecordBuffer) error
	writeRecord(format.Record) error
	// pending counts the records (and payload bytes) written to the sink
	// but not yet to the file.
	pending() (records, bytes uint64)
	size() int64
	// buffered is the size of the records held for the file's next
	// chunk, before compression.
	buffered() int64
	chain() format.Hash
	// flush writes what the sink holds for the file.
	flush() error
	// close writes the end of the file (the seal) and hands the file to
	// the Recorder, which syncs and closes it.
	close() error
	// abandon closes a file after a write error, leaving it as it is.
	abandon()
}

type wsrecSink struct {
	f    file
	w    *format.Writer
	done func(file) // syncs and closes f, see Recorder.syncer
}

func (k *wsrecSink) write(b *format.RecordBuffer) error { return k.w.WriteBuffer(b) }
func (k *wsrecSink) writeRecord(r format.Record) error  { return k.w.Write(r) }
func (k *wsrecSink) flush() error                       { return k.w.Flush() }
func (k *wsrecSink) size() int64                        { return k.w.Size() }
func (k *wsrecSink) buffered() int64                    { return k.w.Buffered() }
func (k *wsrecSink) pending() (uint64, uint64)          { return k.w.Pending() }
func (k *wsrecSink) chain() format.Hash                 { return k.w.Chain() }

func (k *wsrecSink) close() error {
	if err := k.w.Close(); err != nil {
		k.f.Close()
		return err
	}
	k.done(k.f)
	return nil
}

func (k *wsrecSink) abandon() {
	k.w.Close() // stops the flush timer; the file stays unsealed
	k.f.Close()
}

// websockifySink writes websockify's text format, which holds messages
// only: open, close and marker records are not written.
type websockifySink struct {
	f    file
	w    *websockify.Writer
	n    int64
	done func(file) // syncs and closes f, see Recorder.syncer
}

func (k *websockifySink) write(b *format.RecordBuffer) error {
	for r := range b.All() {
		if err := k.writeRecord(r); err != nil {
			return err
		}
	}
	return nil
}

func (k *websockifySink) writeRecord(r format.Record) error {
	if r.Kind != format.KindMessage {
		return nil
	}
	k.n += int64(len(r.Payload))
	return k.w.Write(websockify.Frame{
		FromClient: r.Dir == format.ClientToTarget,
		Time:       r.Time.Truncate(time.Millisecond),
		Data:       r.Payload,
	})
}

func (k *websockifySink) flush() error              { return nil } // writes each frame at once
func (k *websockifySink) size() int64               { return k.n }
func (k *websockifySink) buffered() int64           { return 0 }
func (k *websockifySink) pending() (uint64, uint64) { return 0, 0 }
func (k *websockifySink) chain() format.Hash        { return format.Hash{} }

func (k *websockifySink) close() error {
	if err := k.w.Close(); err != nil {
		k.f.Close()
		return err
	}
	k.done(k.f)
	return nil
}

func (k *websockifySink) abandon() { k.f.Close() }

// recycle hands q, written, back for push: kept as the session's spare
// while the proxy is queuing more (a busy session then reuses one arena,
// where the pool, which every garbage collection empties, would make it
// allocate and grow new ones), else put back in the pool.
func (s *Session) recycle(q *queue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queue != nil && s.spare == nil && q.capacity() <= maxPooledQueue {
		q.reset()
		s.spare = q
		return
	}
	s.r.putQueue(q)
}

// putQueue empties q and puts it back in the pool, unless a message larger
// than the buffer made it too big to keep.
func (r *Recorder) putQueue(q *queue) {
	if q.capacity() > maxPooledQueue {
		return
	}
	q.reset()
	r.queues.Put(q)
}
