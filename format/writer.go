package format

import (
	"crypto/cipher"
	"crypto/ed25519"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"filippo.io/age"
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
	// ignored. Make it with NewEncoder. Zero means a private encoder at
	// Level. A version 1 Writer ignores it: version 1 chunks carry zstd's
	// content checksum, which NewEncoder's encoders leave out.
	Encoder *zstd.Encoder
	// MaxRecordSize is the largest payload Write accepts. Zero means
	// DefaultMaxRecordSize; at most 1 GiB.
	MaxRecordSize int
	// SignKey, if not nil, signs the seal with Ed25519. Zero means unsigned.
	SignKey ed25519.PrivateKey
	// Version is the format version written, 1 or 2. Zero means Version
	// (2). Version 1, kept for tests and for tools that must feed old
	// readers, has no Hash choice and no encryption.
	Version int
	// Hash is the chain hash of a version 2 recording. Zero means
	// DefaultHash (BLAKE3).
	Hash HashAlgorithm
	// Recipients, if any, encrypt the recording to these age recipients
	// (SPEC.md, "Encryption"): any one of their identities reads it. Zero
	// (nil) means the recording is in the clear.
	Recipients []age.Recipient
	// PublicMeta lists the metadata keys an encrypted recording keeps in
	// the clear. Nil means DefaultPublicMeta; an empty slice encrypts all
	// metadata.
	PublicMeta []string
}

// NewEncoder returns a zstd encoder configured as the Writer configures its
// own, for sharing between Writers through WriterOptions.Encoder. Zero
// level means DefaultLevel; concurrency is how many chunks it compresses at
// once (0: GOMAXPROCS).
func NewEncoder(level zstd.EncoderLevel, concurrency int) (*zstd.Encoder, error) {
	return newEncoder(level, concurrency, false)
}

// newEncoder returns an encoder for version 2 chunks, or with crc for
// version 1 chunks, which carry zstd's content checksum.
func newEncoder(level zstd.EncoderLevel, concurrency int, crc bool) (*zstd.Encoder, error) {
	if level == 0 {
		level = DefaultLevel
	}
	// Version 2 leaves out zstd's content checksum, which cost about a
	// tenth of a recording proxy's CPU (xxhash over every uncompressed
	// byte): a version 2 reader checks each chunk's chain value as it
	// loads it, which catches all that the checksum would.
	opts := []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(crc)}
	if concurrency > 0 {
		opts = append(opts, zstd.WithEncoderConcurrency(concurrency))
	}
	return zstd.NewWriter(nil, opts...)
}

// Writer writes a recording to an io.Writer, one record at a time.
//
// A Writer is safe for concurrent use, but records must reach Write in time
// order. Each chunk is handed to the underlying writer in one Write call
// (or one WriteBuffers call, see BuffersWriter) before the call that ended
// it (Write, Flush, Close or the flush timer) returns. Close must be called to seal the recording; it does not close the
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
	version   uint16
	hashAlg   HashAlgorithm // its hashers come from a pool for each chunk: an idle Writer holds none
	aead      cipher.AEAD   // nil in the clear

	buf    []byte      // records of the open chunk, uncompressed
	out    []byte      // chunk header frame and compressed chunk
	bufs   [][]byte    // pieces of a raw chunk, see flushRaw
	sample []byte      // compressed samples, see compressible
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
		version:   uint16(opts.Version),
		hashAlg:   opts.Hash,
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
	if fw.version == 0 {
		fw.version = Version
	}
	if fw.hashAlg == 0 {
		fw.hashAlg = DefaultHash
		if fw.version == 1 {
			fw.hashAlg = SHA256
		}
	}
	switch {
	case fw.chunkSize < 0 || fw.chunkSize > MaxChunkSize:
		return nil, fmt.Errorf("%w: chunk size %d (1 to %d)", ErrInvalid, fw.chunkSize, MaxChunkSize)
	case fw.maxRecord < 0 || fw.maxRecord > maxRecordLimit:
		return nil, fmt.Errorf("%w: maximum record size %d (1 to %d)", ErrInvalid, fw.maxRecord, maxRecordLimit)
	case fw.signKey != nil && len(fw.signKey) != ed25519.PrivateKeySize:
		return nil, fmt.Errorf("%w: Ed25519 private key of %d bytes", ErrInvalid, len(fw.signKey))
	case opts.Version < 0 || opts.Version > Version:
		return nil, fmt.Errorf("%w: format version %d (1 to %d)", ErrInvalid, opts.Version, Version)
	case !fw.hashAlg.known() || fw.version == 1 && fw.hashAlg != SHA256:
		return nil, fmt.Errorf("%w: chain hash %v for version %d", ErrInvalid, fw.hashAlg, fw.version)
	case fw.version == 1 && len(opts.Recipients) > 0:
		return nil, fmt.Errorf("%w: encryption needs format version 2", ErrInvalid)
	}
	if h.SessionID == (SessionID{}) {
		h.SessionID = NewSessionID()
	}
	if h.Start.IsZero() {
		h.Start = time.Now()
	}
	h.Start = h.Start.Round(0).UTC()
	h.Version, h.ChainHash, h.Cipher = fw.version, fw.hashAlg, NoCipher
	written := h // what the file holds in the clear
	var (
		wrapped []byte
		seal    func(ad []byte) []byte
	)
	if len(opts.Recipients) > 0 {
		key, wk, err := wrapKey(opts.Recipients)
		if err != nil {
			return nil, err
		}
		if fw.aead, err = newAEAD(AES256GCM, key); err != nil {
			return nil, err
		}
		h.Cipher, written.Cipher = AES256GCM, AES256GCM
		public := opts.PublicMeta
		if public == nil {
			public = DefaultPublicMeta
		}
		var secret map[string]string
		written.Meta, secret = splitMeta(h.Meta, public)
		if err := validateMeta(secret); err != nil {
			return nil, err
		}
		wrapped = wk
		seal = func(ad []byte) []byte {
			return fw.aead.Seal(nil, nonce(metaNonceSeq), appendMeta(nil, secret), ad)
		}
	}
	hdr, err := appendHeader(nil, &written, wrapped, seal)
	if err != nil {
		return nil, err
	}
	if fw.enc == nil || fw.version == 1 {
		if fw.enc, err = newEncoder(opts.Level, 1, fw.version == 1); err != nil {
			return nil, fmt.Errorf("format: zstd encoder: %w", err)
		}
		fw.ownEnc = true
	}
	if _, err := w.Write(hdr); err != nil {
		fw.closeEncoder()
		return nil, fmt.Errorf("format: write header: %w", err)
	}
	fw.header = h
	fw.chain = fw.hashAlg.sum(hdr)
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
	return w.writeLocked(r)
}

// writeLocked is Write with w.mu held and w usable.
func (w *Writer) writeLocked(r Record) error {
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

// Buffered returns the bytes of the records held for the next chunk,
// encoded but not compressed: with Size, a bound on the file's size if
// the Writer were closed now (compression aside).
func (w *Writer) Buffered() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int64(len(w.buf))
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
	seal := w.hashAlg.sum(b)
	b = append(b, seal[:]...)
	if signed {
		b = append(b, w.signKey.Public().(ed25519.PublicKey)...)
		b = append(b, ed25519.Sign(w.signKey, sealMessage(w.version, seal))...)
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
// of memory. Writers that fill chunks keep theirs while records come: the
// timer, re-armed by each chunk written, fires once they stop.
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

// flushLocked compresses the open chunk, or stores it raw if it does not
// compress, encrypts it for an encrypted recording, and writes it with its
// header frame in one write.
func (w *Writer) flushLocked() error {
	if w.cur.Records == 0 {
		return nil
	}
	return w.flushData(w.buf)
}

// flushData writes the chunk of w.cur whose records are data: w.buf, or a
// RecordBuffer's (see WriteBuffer).
func (w *Writer) flushData(data []byte) error {
	if w.timer != nil {
		if w.closed {
			w.timer.Stop()
		} else {
			// Due again after the interval, with no records then if
			// none came: flushDue lets the buffers of a Writer that
			// filled chunks and went idle go.
			w.timer.Reset(w.interval)
		}
	}
	c := &w.cur
	c.Offset = w.off
	c.Seq = uint32(len(w.index))
	c.Uncompressed = uint32(len(data))
	pre := chunkFrameSize // where the zstd frame starts
	if w.aead != nil {
		pre += frameHeaderSize
	}
	compress := w.version == 1 || w.compressible(data)
	if bw, ok := w.w.(BuffersWriter); ok && !compress && w.aead == nil {
		return w.flushRaw(bw, data)
	}
	if need := pre + int(compressBound(int64(len(data)))) + aeadTagSize; cap(w.out) < need {
		w.out = make([]byte, 0, need)
	}
	out := w.out[:pre]
	if compress {
		out = w.enc.EncodeAll(data, out)
	} else {
		out = appendRawFrame(out, data)
	}
	if w.aead != nil {
		frame := out[pre:]
		c.Compressed = uint32(frameHeaderSize + len(frame) + aeadTagSize)
		putChunkFrame(out, c)
		out = slices.Grow(out, aeadTagSize)
		frame = out[pre:]
		ad := out[frameHeaderSize : frameHeaderSize+chunkADSize]
		out = out[:len(out)+aeadTagSize]
		w.aead.Seal(frame[:0], nonce(uint64(c.Seq)), frame, ad)
		le.PutUint32(out[chunkFrameSize:], encMagic)
		le.PutUint32(out[chunkFrameSize+4:], uint32(len(frame)+aeadTagSize))
	} else {
		c.Compressed = uint32(len(out) - chunkFrameSize)
		putChunkFrame(out, c)
	}
	w.out = out
	h := w.hashAlg.get()
	h.Write(w.chain[:])
	h.Write(out[:chainFieldOffset])
	h.Write(out[chainFieldOffset+hashSize:])
	h.Sum(c.Chain[:0])
	w.hashAlg.put(h)
	copy(out[chainFieldOffset:], c.Chain[:])
	if _, err := w.w.Write(out); err != nil {
		w.err = fmt.Errorf("format: write chunk %d: %w", c.Seq, err)
		return w.err
	}
	w.written(int64(len(out)))
	return nil
}

// written ends the chunk just written, of n bytes.
func (w *Writer) written(n int64) {
	c := &w.cur
	w.off += n
	w.chain = c.Chain
	w.totals.add(c)
	w.index = append(w.index, *c)
	w.cur = chunkInfo{}
	w.buf = w.buf[:0]
}

// BuffersWriter is an io.Writer that can also write several buffers in
// one call, as writev(2) does. A Writer whose underlying writer is one
// writes a raw chunk of a recording in the clear straight from its record
// buffer, its headers between the pieces, where it would otherwise copy
// the records into the chunk's frame first.
type BuffersWriter interface {
	io.Writer
	// WriteBuffers writes the buffers in order: all of their bytes, or
	// it returns an error.
	WriteBuffers(bufs [][]byte) (int64, error)
}

// flushRaw writes the open chunk of a version 2 recording in the clear in
// raw blocks (see appendRawFrame) with one WriteBuffers: the chunk header
// frame, the zstd frame and block headers are made in w.out, the blocks'
// data are pieces of data (the records), and the chain hash reads them in
// place.
func (w *Writer) flushRaw(bw BuffersWriter, data []byte) error {
	c := &w.cur
	blocks := (len(data) + maxRawBlock - 1) / maxRawBlock
	hdrs := chunkFrameSize + rawFrameHeaderSize + 3*blocks
	if cap(w.out) < hdrs {
		w.out = make([]byte, 0, max(hdrs, 1<<10))
	}
	out := w.out[:chunkFrameSize]
	out = le.AppendUint32(out, zstdFrameMagic)
	out = append(out, 0xA0) // frame header descriptor: 4-byte content size, single segment
	out = le.AppendUint32(out, uint32(len(data)))
	c.Compressed = uint32(rawFrameHeaderSize + 3*blocks + len(data))
	putChunkFrame(out, c)
	bufs := w.bufs[:0]
	first := len(out) // the first block header goes with the frame headers
	for len(data) > 0 {
		n := min(len(data), maxRawBlock)
		start := len(out)
		out = appendRawBlockHeader(out, n, n == len(data))
		if start == first {
			bufs = append(bufs, out[:len(out):len(out)])
		} else {
			bufs = append(bufs, out[start:len(out):len(out)])
		}
		bufs = append(bufs, data[:n])
		data = data[n:]
	}
	w.out, w.bufs = out, bufs
	h := w.hashAlg.get()
	h.Write(w.chain[:])
	h.Write(out[:chainFieldOffset])
	h.Write(bufs[0][chainFieldOffset+hashSize:])
	for _, b := range bufs[1:] {
		h.Write(b)
	}
	h.Sum(c.Chain[:0])
	w.hashAlg.put(h)
	copy(out[chainFieldOffset:], c.Chain[:])
	n, err := bw.WriteBuffers(bufs)
	clear(w.bufs) // no reference to data outlives the call
	if err != nil {
		w.err = fmt.Errorf("format: write chunk %d: %w", c.Seq, err)
		return w.err
	}
	w.written(n)
	return nil
}

// Incompressible chunks (encrypted or already compressed payloads, as VNC's
// Tight, ZRLE and JPEG updates are) are stored raw instead of compressed:
// compressing samples of a chunk costs a few percent of compressing it all.
const (
	sampleSize     = 4 << 10
	samples        = 4
	minSampledSize = 4 * samples * sampleSize // smaller chunks are compressed
	// minCompressed is the smallest chunk compressed: below it,
	// compression saves tens of bytes and costs the encoder's fixed
	// cost, which was a tenth of the CPU a short recorded session costs
	// (the bench's connrate workload).
	minCompressed = 1 << 10
)

// compressible reports whether zstd is worth running on b: whether it
// is not tiny, and samples of it shrink by at least an eighth.
func (w *Writer) compressible(b []byte) bool {
	if len(b) < minCompressed {
		return false
	}
	if len(b) < minSampledSize {
		return true
	}
	in, out := 0, 0
	step := (len(b) - sampleSize) / (samples - 1)
	for i := range samples {
		s := b[i*step : i*step+sampleSize]
		w.sample = w.enc.EncodeAll(s, w.sample[:0])
		in += len(s)
		out += len(w.sample)
	}
	return out*8 < in*7
}

// appendRawFrame appends a zstd frame (RFC 8878) that stores data in raw
// blocks: a single-segment frame header with a 4-byte content size and no
// checksum, then blocks of at most 128 KiB.
func appendRawFrame(b, data []byte) []byte {
	b = le.AppendUint32(b, zstdFrameMagic)
	b = append(b, 0xA0) // frame header descriptor: 4-byte content size, single segment
	b = le.AppendUint32(b, uint32(len(data)))
	for {
		n := min(len(data), maxRawBlock)
		b = appendRawBlockHeader(b, n, n == len(data))
		b = append(b, data[:n]...)
		data = data[n:]
		if len(data) == 0 {
			return b
		}
	}
}

// Sizes of appendRawFrame's frames.
const (
	rawFrameHeaderSize = 9 // magic, descriptor, content size
	maxRawBlock        = 128 << 10
)

// appendRawBlockHeader appends the header of a raw zstd block of n bytes.
func appendRawBlockHeader(b []byte, n int, last bool) []byte {
	bh := uint32(n) << 3 // block type 0: raw
	if last {
		bh |= 1
	}
	return append(b, byte(bh), byte(bh>>8), byte(bh>>16))
}
