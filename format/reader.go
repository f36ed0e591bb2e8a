package format

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// ReaderOptions limit what a Reader allocates for a file. The zero value
// means the defaults.
type ReaderOptions struct {
	// MaxRecordSize is the largest record payload accepted. Zero means
	// DefaultMaxRecordSize.
	MaxRecordSize int64
	// MaxChunkSize is the largest uncompressed chunk accepted, which is
	// also the zstd decoder's memory and window limit. Zero means the larger
	// of MaxChunkSize and MaxRecordSize, plus a record header.
	MaxChunkSize int64
	// Identities open an encrypted recording: one of them must match one
	// of its recipients. Zero (nil) means an encrypted recording's
	// records and secret metadata cannot be read (Next and Seek return
	// ErrNoIdentity); its summary and Verify still work. A recording in the
	// clear ignores them.
	Identities []age.Identity
}

// maxTrailerSize bounds the trailer frame a Reader loads (1.6 million
// chunks).
const maxTrailerSize = 64 << 20

// errCut marks the end of the readable part of an unsealed file: a frame
// that runs past the end of the data.
var errCut = errors.New("frame cut off")

// Reader reads a recording: the header, the records in order, a summary and
// a verification. Records are decoded one chunk at a time, so memory stays
// bounded by the chunk size whatever the file's length.
//
// A Reader is not safe for concurrent use. Close must be called to release
// the decoder (and the file, for Open).
type Reader struct {
	ra        io.ReaderAt
	size      int64
	file      *os.File // set by Open
	maxRecord int64
	maxChunk  int64
	header    Header
	headerEnd int64
	dec       *zstd.Decoder
	chain0    Hash        // chain value of the header frame
	aead      cipher.AEAD // an encrypted recording's, when an identity opened it
	keyErr    error       // why an encrypted recording's chunks cannot be read
	sidecar   []byte      // SidecarKey's key, when an identity opened it

	tr     *trailer // nil when the file is not sealed
	trErr  error    // why a trailer the file claims could not be used
	chunks []chunkInfo
	tail   int64 // end of the readable data; -1 until known

	// Sequential reading state.
	next     int64     // offset of the next frame
	seq      int       // number of the next chunk
	cur      chunkInfo // chunk being read
	data     []byte    // its records, decompressed
	dbuf     []byte    // memory of data
	pos      int
	left     uint32 // records of cur not yet returned
	zbuf     []byte
	pbuf     []byte // decrypted zstd frames
	prev     Hash   // version 2: chain value of the chunk before r.next
	hasher   hashState
	lastTime time.Duration
	err      error // sticky corruption
	closed   bool
}

// Open opens the named recording file. See NewReader.
func Open(name string, opts ReaderOptions) (*Reader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := NewReader(f, fi.Size(), opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.file = f
	return r, nil
}

// NewReader reads the header, and the trailer if the recording is sealed,
// of the size bytes of ra. It returns ErrNotRecording for data that is not a
// recording, ErrTruncated when the data ends inside the header, an error
// wrapping ErrVersion for a newer format, and a *CorruptError for a damaged
// header. A missing or damaged trailer is not an error: the recording is
// then read as unsealed. For an encrypted recording and identities in opts
// that do not open it, it returns an error wrapping ErrWrongIdentity.
func NewReader(ra io.ReaderAt, size int64, opts ReaderOptions) (*Reader, error) {
	r := &Reader{ra: ra, size: size, maxRecord: opts.MaxRecordSize, maxChunk: opts.MaxChunkSize, tail: -1}
	if r.maxRecord <= 0 {
		r.maxRecord = DefaultMaxRecordSize
	}
	if r.maxChunk <= 0 {
		r.maxChunk = max(MaxChunkSize, r.maxRecord) + recordHeaderSize
	}
	var fh [frameHeaderSize + 4]byte
	n, err := readAtMost(ra, fh[:], 0, size)
	if err != nil {
		return nil, err
	}
	// The first 12 bytes are known but for the header size at 4..7.
	magic := le.AppendUint32(nil, skippableMagic)
	for i := range n {
		if i < 4 && fh[i] != magic[i] || i >= frameHeaderSize && fh[i] != tagHeader[i-frameHeaderSize] {
			return nil, ErrNotRecording
		}
	}
	if n < len(fh) {
		return nil, ErrTruncated
	}
	psize := int64(le.Uint32(fh[4:]))
	if psize > maxHeaderSize {
		return nil, &CorruptError{Offset: 0, Chunk: -1, Err: fmt.Errorf("%w: header of %d bytes", ErrTooLarge, psize)}
	}
	if frameHeaderSize+psize > size {
		return nil, ErrTruncated
	}
	p := make([]byte, psize)
	if _, err := ra.ReadAt(p, frameHeaderSize); err != nil {
		return nil, fmt.Errorf("format: read header: %w", err)
	}
	hdr, hc, err := parseHeader(p)
	if err != nil {
		if errors.Is(err, ErrVersion) {
			return nil, err
		}
		return nil, &CorruptError{Offset: 0, Chunk: -1, Err: err}
	}
	r.header = hdr
	r.headerEnd = frameHeaderSize + psize
	r.next = r.headerEnd
	r.chain0 = hdr.ChainHash.sum(append(fh[:frameHeaderSize:frameHeaderSize], p...))
	r.prev = r.chain0
	r.hasher.alg = hdr.ChainHash
	if hc != nil {
		if err := r.openKey(hc, opts.Identities); err != nil {
			return nil, err
		}
	}
	if err := r.readTrailer(); err != nil {
		return nil, err
	}
	return r, nil
}

// openKey unwraps an encrypted recording's data key with identities and
// adds the secret metadata to the header. Without identities it notes
// ErrNoIdentity for Next.
func (r *Reader) openKey(hc *headerCrypt, identities []age.Identity) error {
	key, err := unwrapKey(hc.Wrapped, identities)
	if err == ErrNoIdentity {
		r.keyErr = err
		return nil
	}
	if err != nil {
		if errors.Is(err, ErrWrongIdentity) {
			return err
		}
		return &CorruptError{Offset: 0, Chunk: -1, Err: fmt.Errorf("header: %w", err)}
	}
	if r.aead, err = newAEAD(r.header.Cipher, key); err != nil {
		return err
	}
	if r.sidecar, err = hkdf.Key(sha256.New, key, nil, sidecarInfo, dataKeySize); err != nil {
		return err
	}
	plain, err := r.aead.Open(nil, nonce(metaNonceSeq), hc.Secret, hc.AD)
	if err != nil {
		return &CorruptError{Offset: 0, Chunk: -1, Err: fmt.Errorf("header: sealed metadata: %w", err)}
	}
	secret, rest, err := parseMeta(plain)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d bytes after the metadata", len(rest))
	}
	if err != nil {
		return &CorruptError{Offset: 0, Chunk: -1, Err: fmt.Errorf("header: sealed metadata: %w", err)}
	}
	for k, v := range secret {
		if _, dup := r.header.Meta[k]; dup {
			return &CorruptError{Offset: 0, Chunk: -1, Err: fmt.Errorf("header: metadata key %q both clear and sealed", k)}
		}
		r.header.Meta[k] = v
	}
	return nil
}

// sidecarInfo is the HKDF info string of SidecarKey (format/SPEC.md,
// "Encryption").
const sidecarInfo = "wsproxy sidecar key v1"

// SidecarKey returns the key that files derived from an encrypted
// recording, such as its seek index, are encrypted with, so that exactly
// those who can read the recording can read them: 32 bytes derived from
// its data key by HKDF-SHA256 (no salt, info "wsproxy sidecar key v1").
// It returns nil and no error for a recording in the clear, and the error
// of Encrypted when no identity opened it.
func (r *Reader) SidecarKey() ([]byte, error) {
	if r.header.Cipher == NoCipher {
		return nil, nil
	}
	if r.sidecar == nil {
		return nil, r.keyErr
	}
	return bytes.Clone(r.sidecar), nil
}

// Encrypted reports whether the recording is encrypted, and if so why its
// records cannot be read: nil when an identity opened it, ErrNoIdentity
// when none was given.
func (r *Reader) Encrypted() (bool, error) { return r.header.Cipher != NoCipher, r.keyErr }

// readAtMost reads up to len(b) bytes at off of a source of the given size.
func readAtMost(ra io.ReaderAt, b []byte, off, size int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("format: read at %d: negative offset", off)
	}
	if off >= size {
		return 0, nil
	}
	if rest := size - off; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := ra.ReadAt(b, off)
	if err == io.EOF && n == len(b) {
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("format: read at %d: %w", off, err)
	}
	return n, nil
}

// readFull reads exactly len(b) bytes at off, which the caller has checked
// lie within the file.
func (r *Reader) readFull(b []byte, off int64) error {
	n, err := readAtMost(r.ra, b, off, r.size)
	if err == nil && n < len(b) {
		err = fmt.Errorf("format: read at %d: %w", off, io.ErrUnexpectedEOF)
	}
	return err
}

// claimsSeal reports whether the file ends with a trailer locator.
func (r *Reader) claimsSeal() (frameSize int64, ok bool, err error) {
	if r.size < r.headerEnd+locatorSize {
		return 0, false, nil
	}
	var loc [locatorSize]byte
	if err := r.readFull(loc[:], r.size-locatorSize); err != nil {
		return 0, false, err
	}
	if string(loc[4:]) != endMagic {
		return 0, false, nil
	}
	return int64(le.Uint32(loc[:])), true, nil
}

// readTrailer loads the trailer of a sealed file. Only I/O errors are
// returned; a damaged trailer is kept in r.trErr.
func (r *Reader) readTrailer() error {
	fsize, ok, err := r.claimsSeal()
	if err != nil || !ok {
		return err
	}
	off := r.size - fsize
	if fsize > maxTrailerSize || off < r.headerEnd || fsize < frameHeaderSize {
		r.trErr = &CorruptError{Offset: r.size - locatorSize, Chunk: -1, Err: fmt.Errorf("trailer locator: frame of %d bytes", fsize)}
		return nil
	}
	f := make([]byte, fsize)
	if err := r.readFull(f, off); err != nil {
		return err
	}
	if le.Uint32(f) != skippableMagic || int64(le.Uint32(f[4:])) != fsize-frameHeaderSize {
		r.trErr = &CorruptError{Offset: off, Chunk: -1, Err: errors.New("trailer: bad frame header")}
		return nil
	}
	t, err := parseTrailer(f, off)
	if err == nil && len(t.Index) > 0 && t.Index[0].Offset != r.headerEnd {
		err = errors.New("trailer: first chunk is not after the header")
	}
	if err != nil {
		r.trErr = &CorruptError{Offset: off, Chunk: -1, Err: err}
		return nil
	}
	r.tr = &t
	r.chunks = t.Index
	r.tail = off
	return nil
}

// Header returns the recording's header.
func (r *Reader) Header() Header { return r.header }

// Sealed reports whether the recording ends with a well-formed trailer.
// Verify checks that the trailer's seal matches the data.
func (r *Reader) Sealed() bool { return r.tr != nil }

// Next returns the next record. It returns io.EOF after the last record
// (for an unsealed file: the last record of the last complete chunk), a
// *CorruptError for damaged data, and ErrClosed after Close. The record's
// Payload is valid until the next call on the Reader.
func (r *Reader) Next() (Record, error) {
	if r.closed {
		return Record{}, ErrClosed
	}
	for r.left == 0 {
		if r.keyErr != nil {
			return Record{}, r.keyErr
		}
		if r.err != nil {
			return Record{}, r.err
		}
		if err := r.loadNext(); err != nil {
			if err != io.EOF {
				r.err = err
			}
			return Record{}, err
		}
	}
	var rec Record
	n, err := parseRecord(r.data[r.pos:], r.maxRecord, &rec)
	if err != nil { // validateChunk has accepted the chunk
		r.err = r.corrupt(&r.cur, err)
		return Record{}, r.err
	}
	r.pos += n
	r.left--
	return rec, nil
}

func (r *Reader) corrupt(c *chunkInfo, err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	return &CorruptError{Offset: c.Offset, Chunk: int(c.Seq), Err: err}
}

// loadNext finds, decompresses and checks the next chunk.
func (r *Reader) loadNext() error {
	c, stop, err := r.chunkAt(r.next, r.seq)
	if err != nil {
		// A sealed file is whole: a frame that seems cut, or chunks that
		// end before the trailer's count, are a damaged frame header.
		switch {
		case err == errCut && r.tr != nil:
			return &CorruptError{Offset: stop, Chunk: r.seq, Err: errors.New("frame runs past the trailer")}
		case err == errCut:
			r.tail = stop
			return io.EOF
		case err == io.EOF && r.tr != nil && r.seq != len(r.chunks):
			return &CorruptError{Offset: r.next, Chunk: r.seq, Err: fmt.Errorf("%d chunks read, the trailer lists %d", r.seq, len(r.chunks))}
		}
		return err
	}
	if c.First < r.lastTime {
		return r.corrupt(&c, fmt.Errorf("chunk starts at %v, before the previous record at %v", c.First, r.lastTime))
	}
	if err := r.load(&c, r.prev, r.next); err != nil {
		return err
	}
	r.next = c.end()
	r.prev = c.Chain
	r.seq++
	return nil
}

// load decompresses chunk c and makes it the current chunk. For version
// 2 it first checks c's chain value: prev is the chain value before c, and
// from the end of the chunk before it (or of the header).
func (r *Reader) load(c *chunkInfo, prev Hash, from int64) error {
	if int64(c.Uncompressed) > r.maxChunk || int64(c.Compressed) > compressBound(r.maxChunk)+frameHeaderSize+aeadTagSize {
		return r.corrupt(c, fmt.Errorf("%w: chunk of %d bytes, %d compressed (limit %d)", ErrTooLarge, c.Uncompressed, c.Compressed, r.maxChunk))
	}
	if cap(r.zbuf) < int(c.Compressed) {
		r.zbuf = make([]byte, c.Compressed)
	}
	z := r.zbuf[:c.Compressed]
	if err := r.readFull(z, c.Offset+chunkFrameSize); err != nil {
		return err
	}
	if r.header.Version >= 2 {
		h := r.hasher.get()
		h.Write(prev[:])
		if err := r.hashSpan(h, from, c.Offset); err != nil {
			return err
		}
		var b [chunkFrameSize]byte
		putChunkFrame(b[:], c)
		h.Write(b[:chainFieldOffset])
		h.Write(z)
		var got Hash
		if h.Sum(got[:0]); got != c.Chain {
			return r.corrupt(c, errChainMismatch)
		}
	}
	data, err := r.decode(c, z, &r.dbuf)
	if err != nil {
		return err
	}
	r.data, r.cur, r.pos, r.left = data, *c, 0, c.Records
	r.lastTime = c.Last
	return nil
}

var errChainMismatch = errors.New("hash chain mismatch")

// hashState is a hash of a recording's chain algorithm, made on first use.
type hashState struct {
	alg HashAlgorithm
	h   hash.Hash
}

// get returns the hash, reset.
func (s *hashState) get() hash.Hash {
	if s.h == nil {
		s.h = s.alg.new()
	}
	s.h.Reset()
	return s.h
}

// hashSpan adds the file bytes [from, to) to h.
func (r *Reader) hashSpan(h hash.Hash, from, to int64) error {
	if from >= to {
		return nil
	}
	if _, err := io.Copy(h, io.NewSectionReader(r.ra, from, to-from)); err != nil {
		return fmt.Errorf("format: read at %d: %w", from, err)
	}
	return nil
}

// decode decrypts the data frame z of chunk c, if the recording is
// encrypted, and decompresses it (see decompress).
func (r *Reader) decode(c *chunkInfo, z []byte, buf *[]byte) ([]byte, error) {
	if r.header.Cipher == NoCipher {
		return r.decompress(c, z, buf)
	}
	if err := checkSealedFrame(z); err != nil {
		return nil, r.corrupt(c, err)
	}
	if r.aead == nil {
		return nil, r.keyErr
	}
	var b [chunkFrameSize]byte
	putChunkFrame(b[:], c)
	frame, err := r.aead.Open(r.pbuf[:0], nonce(uint64(c.Seq)), z[frameHeaderSize:], b[frameHeaderSize:chainFieldOffset])
	if err != nil {
		return nil, r.corrupt(c, fmt.Errorf("decrypt: %w", err))
	}
	r.pbuf = frame
	return r.decompress(c, frame, buf)
}

// checkSealedFrame checks the envelope of an encrypted chunk's data: a
// skippable frame that fills it, holding at least a tag.
func checkSealedFrame(z []byte) error {
	if len(z) < frameHeaderSize+aeadTagSize || le.Uint32(z) != encMagic || int(le.Uint32(z[4:])) != len(z)-frameHeaderSize {
		return errors.New("chunk is not a sealed frame")
	}
	return nil
}

// decompress decodes the zstd frame z of chunk c into the memory of *buf,
// growing it as needed, and checks its records against the chunk header.
func (r *Reader) decompress(c *chunkInfo, z []byte, buf *[]byte) ([]byte, error) {
	if len(z) < 4 || le.Uint32(z) != zstdFrameMagic {
		return nil, r.corrupt(c, errors.New("chunk is not a zstd frame"))
	}
	if r.dec == nil {
		dec, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(r.maxChunk)),
			zstd.WithDecoderMaxWindow(uint64(max(r.maxChunk, zstd.MinWindowSize))),
			zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			return nil, fmt.Errorf("format: zstd decoder: %w", err)
		}
		r.dec = dec
	}
	if cap(*buf) < int(c.Uncompressed) {
		*buf = make([]byte, 0, c.Uncompressed)
	}
	data, err := r.dec.DecodeAll(z, (*buf)[:0:c.Uncompressed])
	if err != nil {
		return nil, r.corrupt(c, fmt.Errorf("decompress: %w", err))
	}
	if len(data) != int(c.Uncompressed) {
		return nil, r.corrupt(c, fmt.Errorf("decompressed %d bytes, header says %d", len(data), c.Uncompressed))
	}
	if err := validateChunk(c, data, r.maxRecord); err != nil {
		return nil, r.corrupt(c, err)
	}
	return data, nil
}

// compressBound is the most a chunk of n bytes can take compressed: zstd
// stores incompressible blocks raw, 3 bytes per 128 KiB block, plus the
// frame header and checksum.
func compressBound(n int64) int64 { return n + n>>10 + 64 }

// validateChunk checks every record of a decompressed chunk and the chunk
// header's counts.
func validateChunk(c *chunkInfo, data []byte, maxRecord int64) error {
	var (
		got  chunkInfo
		rec  Record
		last = c.First
	)
	for pos := 0; pos < len(data); got.Records++ {
		n, err := parseRecord(data[pos:], maxRecord, &rec)
		if err != nil {
			return fmt.Errorf("record %d at chunk byte %d: %w", got.Records, pos, err)
		}
		if rec.Time < last {
			return fmt.Errorf("record %d at %v: %w (%v)", got.Records, rec.Time, errTimeOrder, last)
		}
		last = rec.Time
		if rec.Kind == KindMessage {
			got.Messages[rec.Dir]++
			got.Bytes[rec.Dir] += uint64(len(rec.Payload))
		}
		pos += n
	}
	switch {
	case got.Records != c.Records:
		return fmt.Errorf("chunk holds %d records, header says %d", got.Records, c.Records)
	case got.Messages != c.Messages || got.Bytes != c.Bytes:
		return errors.New("chunk counts differ from its header")
	case last != c.Last:
		return fmt.Errorf("last record at %v, header says %v", last, c.Last)
	}
	return nil
}

// chunkAt returns the chunk header of chunk number seq, the first chunk at
// or after off. It skips skippable frames that are not chunks. It returns
// io.EOF at the end of the data (the trailer, or the end of an unsealed
// file on a frame boundary), errCut for a frame that runs past the end of
// the file, and a *CorruptError for anything else that is not a chunk.
// With io.EOF and errCut, stop is the offset of the frame it stopped at.
func (r *Reader) chunkAt(off int64, seq int) (c chunkInfo, stop int64, err error) {
	var b [chunkFrameSize]byte
	for {
		if r.tr != nil && off == r.tr.Offset || off == r.size {
			return chunkInfo{}, off, io.EOF
		}
		bad := func(err error) (chunkInfo, int64, error) {
			return chunkInfo{}, 0, &CorruptError{Offset: off, Chunk: seq, Err: err}
		}
		if r.tr != nil && off > r.tr.Offset {
			return bad(errors.New("chunk runs into the trailer"))
		}
		n, err := readAtMost(r.ra, b[:frameHeaderSize+4], off, r.size)
		if err != nil {
			return chunkInfo{}, 0, err
		}
		if n < frameHeaderSize {
			return chunkInfo{}, off, errCut
		}
		magic, psize := le.Uint32(b[:]), int64(le.Uint32(b[4:]))
		switch {
		case magic == zstdFrameMagic:
			return bad(errors.New("zstd frame without a chunk header"))
		case magic&skippableMask != skippableMagicAny:
			return bad(fmt.Errorf("unknown frame magic %#08x", magic))
		case off+frameHeaderSize+psize > r.size:
			return chunkInfo{}, off, errCut
		}
		if magic == skippableMagic && psize >= 4 {
			switch string(b[frameHeaderSize : frameHeaderSize+4]) {
			case tagChunk:
				if psize != chunkPayloadSize {
					return bad(fmt.Errorf("chunk header of %d bytes", psize))
				}
				if err := r.readFull(b[:], off); err != nil {
					return chunkInfo{}, 0, err
				}
				c, err = parseChunkFrame(b[frameHeaderSize:], off)
				if err != nil {
					return bad(err)
				}
				if c.Seq != uint32(seq) {
					return bad(fmt.Errorf("chunk number %d, want %d", c.Seq, seq))
				}
				if c.end() > r.size {
					return chunkInfo{}, off, errCut
				}
				return c, 0, nil
			case tagTrailer:
				return chunkInfo{}, off, io.EOF
			case tagHeader:
				return bad(errors.New("second header"))
			}
		}
		off += frameHeaderSize + psize // a section this reader does not know
	}
}

// index returns the chunks: the trailer's index, or for an unsealed file a
// scan of the chunk headers.
func (r *Reader) index() ([]chunkInfo, error) {
	if r.tr != nil || r.tail >= 0 && r.chunks != nil {
		return r.chunks, nil
	}
	var chunks []chunkInfo
	off := r.headerEnd
	for {
		c, stop, err := r.chunkAt(off, len(chunks))
		if err == io.EOF || err == errCut {
			r.tail = stop
			break
		}
		if err != nil {
			return nil, err
		}
		chunks = append(chunks, c)
		off = c.end()
	}
	if chunks == nil {
		chunks = []chunkInfo{}
	}
	r.chunks = chunks
	return chunks, nil
}

// Seek positions the Reader so that Next returns the first record at or
// after time t. It decompresses at most one chunk: the one holding that
// record. Seeking past the last record makes Next return io.EOF.
func (r *Reader) Seek(t time.Duration) error {
	if r.closed {
		return ErrClosed
	}
	chunks, err := r.index()
	if err != nil {
		return err
	}
	if r.keyErr != nil {
		return r.keyErr
	}
	i := sort.Search(len(chunks), func(i int) bool { return chunks[i].Last >= t })
	r.err, r.left, r.lastTime = nil, 0, 0
	// The chain value and end of the chunk before chunk i. The index's
	// times chose the chunk: the one before must end before t as its
	// header says too, or a damaged trailer would skip records.
	prev, from := r.chain0, r.headerEnd
	if i > 0 {
		if _, err := r.indexed(chunks, i-1); err != nil {
			r.err = err
			return err
		}
		from = chunks[i-1].end()
		if r.header.Version >= 2 {
			if err := r.readFull(prev[:], chunks[i-1].Offset+chainFieldOffset); err != nil {
				return err
			}
		}
	}
	if i == len(chunks) {
		r.seq, r.next, r.prev = len(chunks), from, prev
		if len(chunks) > 0 {
			r.lastTime = chunks[i-1].Last
		}
		return nil
	}
	c, err := r.indexed(chunks, i)
	if err != nil {
		r.err = err
		return err
	}
	if err := r.load(&c, prev, from); err != nil {
		r.err = err
		return err
	}
	r.next, r.seq, r.prev = c.end(), i+1, c.Chain
	// Skip the chunk's records before t.
	for r.left > 0 && le.Uint64(r.data[r.pos+2:]) < uint64(t) {
		r.pos += recordHeaderSize + int(le.Uint32(r.data[r.pos+10:]))
		r.left--
	}
	return nil
}

// indexed reads the header of chunk i where the index puts it, and checks
// that it says what the index says (the trailer's index is not covered by
// the chain, only by the seal, which Seek does not check).
func (r *Reader) indexed(chunks []chunkInfo, i int) (chunkInfo, error) {
	want := &chunks[i]
	c, _, err := r.chunkAt(want.Offset, i)
	if err == io.EOF || err == errCut {
		err = errors.New("no chunk where the index puts it")
	}
	if err == nil && (c.Offset != want.Offset || c.First != want.First || c.Last != want.Last ||
		c.Records != want.Records || c.Uncompressed != want.Uncompressed || c.Compressed != want.Compressed) {
		err = errors.New("the trailer's index entry differs from the chunk header")
	}
	if err != nil {
		return c, r.corrupt(want, err)
	}
	return c, nil
}

// Summary describes a recording without reading its records.
type Summary struct {
	Header Header
	// Sealed reports a well-formed trailer (see Reader.Sealed).
	Sealed bool
	// PublicKey is the Ed25519 key the seal is signed with; nil if unsigned.
	PublicKey ed25519.PublicKey
	Chunks    int
	Records   uint64
	// Duration is the time of the last record.
	Duration                       time.Duration
	ClientMessages, TargetMessages uint64
	ClientBytes, TargetBytes       uint64 // message payload bytes
	// Uncompressed is the size of the records, uncompressed.
	Uncompressed int64
	// Size is the file size.
	Size int64
	// Unreadable counts the bytes after the last complete chunk of an
	// unsealed file: a chunk cut off by a crash, or a partial trailer.
	Unreadable int64
}

// Summary returns the recording's summary. For a sealed recording it reads
// only the header and trailer; for an unsealed one it scans the chunk
// headers without decompressing them.
func (r *Reader) Summary() (Summary, error) {
	if r.closed {
		return Summary{}, ErrClosed
	}
	chunks, err := r.index()
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Header: r.header, Sealed: r.tr != nil, Chunks: len(chunks), Size: r.size}
	var t totals
	for i := range chunks {
		t.add(&chunks[i])
		s.Uncompressed += int64(chunks[i].Uncompressed)
	}
	if r.tr != nil {
		t = r.tr.Totals
		s.PublicKey = r.tr.PublicKey
	} else {
		s.Unreadable = r.size - r.tail
	}
	s.Records, s.Duration = t.Records, t.End
	s.ClientMessages, s.TargetMessages = t.Messages[ClientToTarget], t.Messages[TargetToClient]
	s.ClientBytes, s.TargetBytes = t.Bytes[ClientToTarget], t.Bytes[TargetToClient]
	return s, nil
}

// Close releases the decoder and, for a Reader from Open, the file. It is
// idempotent.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.dec != nil {
		r.dec.Close()
	}
	r.data, r.dbuf, r.zbuf, r.pbuf = nil, nil, nil, nil
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}
