package format

import (
	"fmt"
	"iter"
	"time"
)

// RecordBuffer holds records encoded as a chunk holds them (SPEC.md,
// "Records"), built outside a Writer and handed to it by WriteBuffer. A
// producer that queues records for a writing goroutine (a recording
// proxy) appends them to RecordBuffers of about the chunk size: the
// Writer then hashes and writes a full buffer as a chunk where it lies,
// instead of copying its records into a chunk of its own first.
//
// The zero value is an empty buffer. A RecordBuffer is not safe for
// concurrent use.
type RecordBuffer struct {
	b          []byte
	cur        chunkInfo // Records, First, Last, Messages, Bytes
	maxPayload int
}

// minRecordBuffer is the smallest capacity Append allocates: a short
// session's records fit, and a busy session's buffer doubles to the chunk
// size in a few steps, once (its buffers are reused).
const minRecordBuffer = 4 << 10

// Append checks r as Writer.Write does, with the limit
// DefaultMaxRecordSize (WriteBuffer checks the Writer's), and appends its
// encoding. It returns an error wrapping ErrInvalid or ErrTooLarge for a
// record the format cannot hold or one older than the buffer's last; the
// buffer is then unchanged.
func (b *RecordBuffer) Append(r Record) error {
	if err := checkRecord(&r, DefaultMaxRecordSize); err != nil {
		return err
	}
	if b.cur.Records > 0 && r.Time < b.cur.Last {
		return fmt.Errorf("%w: %s record at %v: %w (%v)", ErrInvalid, r.Kind, r.Time, errTimeOrder, b.cur.Last)
	}
	size := recordHeaderSize + payloadSize(&r)
	if len(b.b)+size > cap(b.b) {
		// Doubling from minRecordBuffer: a buffer filled to the chunk
		// size is copied a few times while it grows, then reused.
		n := make([]byte, len(b.b), max(2*cap(b.b), len(b.b)+size, minRecordBuffer))
		copy(n, b.b)
		b.b = n
	}
	b.b = appendRecord(b.b, &r)
	if b.cur.Records == 0 {
		b.cur.First = r.Time
	}
	b.cur.Records++
	b.cur.Last = r.Time
	if r.Kind == KindMessage {
		b.cur.Messages[r.Dir]++
		b.cur.Bytes[r.Dir] += uint64(len(r.Payload))
	}
	b.maxPayload = max(b.maxPayload, payloadSize(&r))
	return nil
}

// Len returns the size of the encoded records, in bytes.
func (b *RecordBuffer) Len() int { return len(b.b) }

// Cap returns the bytes the buffer holds room for.
func (b *RecordBuffer) Cap() int { return cap(b.b) }

// Records returns the number of records in the buffer and their message
// payload bytes.
func (b *RecordBuffer) Records() (records, bytes uint64) {
	return uint64(b.cur.Records), b.cur.Bytes[0] + b.cur.Bytes[1]
}

// First returns the time of the buffer's first record (0 when empty).
func (b *RecordBuffer) First() time.Duration { return b.cur.First }

// Reset empties the buffer, keeping its memory.
func (b *RecordBuffer) Reset() {
	b.b = b.b[:0]
	b.cur = chunkInfo{}
	b.maxPayload = 0
}

// All yields the buffer's records in order. Their payloads alias the
// buffer: they are valid until it changes.
func (b *RecordBuffer) All() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		for p := b.b; len(p) > 0; {
			var r Record
			n, err := parseRecord(p, maxRecordLimit, &r)
			if err != nil {
				panic("format: RecordBuffer holds a malformed record: " + err.Error()) // Append made them all
			}
			if !yield(r) {
				return
			}
			p = p[n:]
		}
	}
}

// WriteBuffer writes the records of b as Write would write them one by
// one, and empties b, whether or not they were written. A buffer of at
// least half the chunk size (and at most the chunk size, unless it holds
// one record) is written as a chunk of its own, straight from b: the open
// chunk, if any, ends first. A smaller one joins the open chunk; when
// there is none and b has the more room, b's memory becomes the open
// chunk's and the Writer's spare memory b's, so that the records are not
// copied either. It returns an error wrapping
// ErrInvalid or ErrTooLarge for records the format cannot hold or older
// than the previous record (the Writer stays usable), ErrClosed after
// Close, or a write error.
func (w *Writer) WriteBuffer(b *RecordBuffer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer b.Reset()
	if err := w.usable(); err != nil {
		return err
	}
	if b.cur.Records == 0 {
		return nil
	}
	if b.maxPayload > w.maxRecord {
		return fmt.Errorf("%w: record of %d bytes (limit %d)", ErrTooLarge, b.maxPayload, w.maxRecord)
	}
	if b.cur.First < w.last {
		return fmt.Errorf("%w: record at %v: %w (%v)", ErrInvalid, b.cur.First, errTimeOrder, w.last)
	}
	if len(b.b) > w.chunkSize && b.cur.Records > 1 {
		// Too big for one chunk: record by record.
		for r := range b.All() {
			if err := w.writeLocked(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(w.buf) > 0 && len(w.buf)+len(b.b) > w.chunkSize {
		if err := w.flushLocked(); err != nil {
			return err
		}
	}
	if len(w.buf) == 0 && 2*len(b.b) >= w.chunkSize {
		w.cur = b.cur
		w.last = b.cur.Last
		return w.flushData(b.b)
	}
	c := &w.cur
	if c.Records == 0 {
		c.First = b.cur.First
		if w.timer != nil {
			w.timer.Reset(w.interval)
		}
	}
	if len(w.buf) == 0 && cap(b.b) >= cap(w.buf) {
		// Only for more room: a Writer whose buffer shrank would grow
		// it again, copying, as the next records join.
		w.buf, b.b = b.b, w.buf[:0]
	} else {
		w.buf = append(w.buf, b.b...)
	}
	c.Records += b.cur.Records
	c.Last = b.cur.Last
	for d := range 2 {
		c.Messages[d] += b.cur.Messages[d]
		c.Bytes[d] += b.cur.Bytes[d]
	}
	w.last = b.cur.Last
	if len(w.buf) >= w.chunkSize {
		return w.flushLocked()
	}
	return nil
}
