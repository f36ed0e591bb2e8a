package format

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// DefaultLevel is the zstd level a Writer uses when WriterOptions.Level is
// zero.
const DefaultLevel = zstd.SpeedDefault

// maxRecordLimit caps WriterOptions.MaxRecordSize so that a chunk's size
// always fits its 32-bit field.
const maxRecordLimit = 1 << 30

// WriterOptions configure a Writer. The zero value means the defaults.
type WriterOptions struct {
	// ChunkSize is the uncompressed size at which a chunk ends. Zero means
	// DefaultChunkSize; at most MaxChunkSize.
	ChunkSize int
	// FlushInterval is the longest a record waits in memory: a chunk ends at
	// the latest this long (wall-clock time) after its first record was
	// written. Zero means DefaultFlushInterval; negative means chunks end
	// only by size, Flush and Close.
	FlushInterval time.Duration
	// Level is the zstd compression level. Zero means DefaultLevel.
	Level zstd.EncoderLevel
	// Encoder, if not nil, compresses the chunks instead of an encoder of
	// the Writer's own; many Writers may share one, since
	// zstd.Encoder.EncodeAll is safe for concurrent use. Level is then
	// ignored. Zero means a private encoder at Level.
	Encoder *zstd.Encoder
	// MaxRecordSize is the largest payload Write accepts. Zero means
	// DefaultMaxRecordSize; at most 1 GiB.
	MaxRecordSize int
	// SignKey, if not nil, signs the seal with Ed25519. Zero means unsigned.
	SignKey ed25519.PrivateKey
}

// NewEncoder returns a zstd encoder configured as the Writer configures its
// own, for sharing between Writers through WriterOptions.Encoder. Zero
// level means DefaultLevel; concurrency is how many chunks it compresses at
// once (0: GOMAXPROCS).
func NewEncoder(level zstd.EncoderLevel, concurrency int) (*zstd.Encoder, error) {
	if level == 0 {
		level = DefaultLevel
	}
	// The content checksum costs about a tenth of a recording proxy's CPU
	// (xxhash over every uncompressed byte), but it is what lets a reader
	// that does not verify the hash chain (Next, Seek) notice a damaged
	// chunk: without it most flipped bits decompress to wrong records.
	opts := []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(true)}
	if concurrency > 0 {
		opts = append(opts, zstd.WithEncoderConcurrency(concurrency))
	}
	return zstd.NewWriter(nil, opts...)
}

// Writer writes a recording to an io.Writer, one record at a time.
//
// A Writer is safe for concurrent use, but records must reach Write in time
// order. Each chunk is handed to the underlying writer in one Write call
// before the call that ended it (Write, Flush, Close or the flush timer)
// returns. Close must be called to seal the recording; it does not close the
// underlying writer. After a write error the Writer is broken: every later
// call returns that error and Close leaves the file unsealed.
type Writer struct {
	mu        sync.Mutex
	w         io.Writer
	header    Header
	enc       *zstd.Encoder
	ownEnc    bool
	chunkSize int
	maxRecord int
	interval  time.Duration
	signKey   ed25519.PrivateKey
	timer     *time.Timer
	hasher    hash.Hash

	buf    []byte      // records of the open chunk, uncompressed
	out    []byte      // chunk header frame and compressed chunk
	cur    chunkInfo   // counts of the open chunk
	index  []chunkInfo // written chunks
	totals totals
	chain  Hash
	off    int64
	last   time.Duration // time of the last record
	err    error         // sticky write error
	closed bool
}

// NewWriter writes the header for h to w and returns a Writer for the
// records. A zero h.SessionID is replaced by a random one and a zero h.Start
// by the current time; Header returns what was written. It returns an
// error wrapping ErrInvalid or ErrTooLarge for options or metadata the format
// cannot hold, or the error of writing the header.
func NewWriter(w io.Writer, h Header, opts WriterOptions) (*Writer, error) {
	fw := &Writer{
		w:         w,
		chunkSize: opts.ChunkSize,
		maxRecord: opts.MaxRecordSize,
		interval:  opts.FlushInterval,
		signKey:   opts.SignKey,
		enc:       opts.Encoder,
		hasher:    sha256.New(),
	}
	if fw.chunkSize == 0 {
		fw.chunkSize = DefaultChunkSize
	}
	if fw.maxRecord == 0 {
		fw.maxRecord = DefaultMaxRecordSize
	}
	if fw.interval == 0 {
		fw.interval = DefaultFlushInterval
	}
	switch {
	case fw.chunkSize < 0 || fw.chunkSize > MaxChunkSize:
		return nil, fmt.Errorf("%w: chunk size %d (1 to %d)", ErrInvalid, fw.chunkSize, MaxChunkSize)
	case fw.maxRecord < 0 || fw.maxRecord > maxRecordLimit:
		return nil, fmt.Errorf("%w: maximum record size %d (1 to %d)", ErrInvalid, fw.maxRecord, maxRecordLimit)
	case fw.signKey != nil && len(fw.signKey) != ed25519.PrivateKeySize:
		return nil, fmt.Errorf("%w: Ed25519 private key of %d bytes", ErrInvalid, len(fw.signKey))
	}
	if h.SessionID == (SessionID{}) {
		h.SessionID = NewSessionID()
	}
	if h.Start.IsZero() {
		h.Start = time.Now()
	}
	h.Start = h.Start.Round(0).UTC()
	h.Version = Version
	hdr, err := appendHeader(nil, &h)
	if err != nil {
		return nil, err
	}
	if fw.enc == nil {
		if fw.enc, err = NewEncoder(opts.Level, 1); err != nil {
			return nil, fmt.Errorf("format: zstd encoder: %w", err)
		}
		fw.ownEnc = true
	}
	if _, err := w.Write(hdr); err != nil {
		fw.closeEncoder()
		return nil, fmt.Errorf("format: write header: %w", err)
	}
	fw.header = h
	fw.chain = sha256.Sum256(hdr)
	fw.off = int64(len(hdr))
	if fw.interval > 0 {
		fw.timer = time.AfterFunc(time.Hour, fw.flushDue)
		fw.timer.Stop()
	}
	return fw, nil
}

// Header returns the header as written.
func (w *Writer) Header() Header { return w.header }

// Write appends r to the open chunk, ending the chunk when it reaches the
// chunk size. It returns an error wrapping ErrInvalid or ErrTooLarge for a
// record the format cannot hold or one older than the previous record (the
// Writer stays usable), ErrClosed after Close, or a write error.
func (w *Writer) Write(r Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if err := checkRecord(&r, w.maxRecord); err != nil {
		return err
	}
	if r.Time < w.last {
		return fmt.Errorf("%w: %s record at %v: %w (%v)", ErrInvalid, r.Kind, r.Time, errTimeOrder, w.last)
	}
	size := recordHeaderSize + payloadSize(&r)
	if len(w.buf) > 0 && len(w.buf)+size > w.chunkSize {
		if err := w.flushLocked(); err != nil {
			return err
		}
	}
	if w.cur.Records == 0 {
		w.cur.First = r.Time
		if w.timer != nil {
			w.timer.Reset(w.interval)
		}
	}
	w.buf = appendRecord(w.buf, &r)
	w.cur.Records++
	w.cur.Last = r.Time
	if r.Kind == KindMessage {
		w.cur.Messages[r.Dir]++
		w.cur.Bytes[r.Dir] += uint64(len(r.Payload))
	}
	w.last = r.Time
	if len(w.buf) >= w.chunkSize {
		return w.flushLocked()
	}
	return nil
}

// WriteMessage writes a KindMessage record.
func (w *Writer) WriteMessage(t time.Duration, dir Direction, typ MessageType, payload []byte) error {
	return w.Write(Record{Kind: KindMessage, Time: t, Dir: dir, Type: typ, Payload: payload})
}

// WriteMarker writes a KindMarker record.
func (w *Writer) WriteMarker(t time.Duration, label string) error {
	return w.Write(Record{Kind: KindMarker, Time: t, Label: label})
}

// Flush ends the open chunk, if it holds any record, and writes it.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.flushLocked()
}

// Pending returns the records, and their message payload bytes, that the
// Writer holds in its open chunk: accepted by Write but not yet written to
// the underlying writer. After a write error they are lost.
func (w *Writer) Pending() (records, bytes uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return uint64(w.cur.Records), w.cur.Bytes[0] + w.cur.Bytes[1]
}

// Size returns the number of bytes written to the underlying writer.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.off
}

// Chain returns the chain value of the last written chunk: after Close,
// the final chain value that the next part's Header.PrevChain carries.
func (w *Writer) Chain() Hash {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.chain
}

// Close writes the open chunk and the trailer that seals the recording. It
// is idempotent: later calls return nil. If a write failed before or during
// Close, the recording stays unsealed and Close returns the error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	defer w.closeEncoder()
	if w.err != nil {
		return w.err
	}
	if err := w.flushLocked(); err != nil {
		return err
	}
	t := trailer{Offset: w.off, Totals: w.totals, Index: w.index, Chain: w.chain}
	signed := w.signKey != nil
	b := appendTrailerBody(w.out[:0], &t, signed)
	seal := Hash(sha256.Sum256(b))
	b = append(b, seal[:]...)
	if signed {
		b = append(b, w.signKey.Public().(ed25519.PublicKey)...)
		b = append(b, ed25519.Sign(w.signKey, sealMessage(seal))...)
	}
	b = appendLocator(b, len(b)+locatorSize)
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("format: write trailer: %w", err)
		return w.err
	}
	w.off += int64(len(b))
	w.buf, w.out = nil, nil
	return nil
}

func (w *Writer) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

func (w *Writer) closeEncoder() {
	if w.ownEnc {
		w.enc.Close()
	}
}

// flushDue runs on the flush timer's goroutine. A chunk ended by the
// timer means records arrive slowly: the chunk buffers are let go, so that
// the many idle Writers of a busy server do not each keep up to two chunks
// of memory. Writers that fill chunks keep theirs.
func (w *Writer) flushDue() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.usable() == nil && w.flushLocked() == nil { // a write error is kept in w.err for the next call
		if cap(w.buf) > keptBuffer {
			w.buf = nil
		}
		if cap(w.out) > keptBuffer {
			w.out = nil
		}
	}
}

// keptBuffer is the largest chunk buffer a Writer keeps after the flush
// timer ended a chunk.
const keptBuffer = 64 << 10

// flushLocked compresses the open chunk and writes it with its header frame.
func (w *Writer) flushLocked() error {
	if w.cur.Records == 0 {
		return nil
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	c := &w.cur
	c.Offset = w.off
	c.Seq = uint32(len(w.index))
	c.Uncompressed = uint32(len(w.buf))
	if cap(w.out) < chunkFrameSize {
		w.out = make([]byte, 0, chunkFrameSize+len(w.buf))
	}
	w.out = w.enc.EncodeAll(w.buf, w.out[:chunkFrameSize])
	c.Compressed = uint32(len(w.out) - chunkFrameSize)
	putChunkFrame(w.out, c)
	h := w.hasher
	h.Reset()
	h.Write(w.chain[:])
	h.Write(w.out[:chainFieldOffset])
	h.Write(w.out[chainFieldOffset+hashSize:])
	h.Sum(c.Chain[:0])
	copy(w.out[chainFieldOffset:], c.Chain[:])
	if _, err := w.w.Write(w.out); err != nil {
		w.err = fmt.Errorf("format: write chunk %d: %w", c.Seq, err)
		return w.err
	}
	w.off += int64(len(w.out))
	w.chain = c.Chain
	w.totals.add(c)
	w.index = append(w.index, *c)
	w.cur = chunkInfo{}
	w.buf = w.buf[:0]
	return nil
}
