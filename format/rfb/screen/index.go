package screen

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/wsproxy/wsproxy/format"
)

// Defaults for IndexOptions.
const (
	DefaultInterval = 10 * time.Second
	DefaultMaxBytes = 4 << 20
)

// IndexVersion is the version of the index file layout (format/SPEC.md,
// "Seek index").
const IndexVersion = 1

// Index errors. ReadIndex returns errors wrapping them; OpenIndex
// rebuilds the index instead.
var (
	// ErrIndexStale: the index was built for another recording, or for
	// this one before it grew or changed.
	ErrIndexStale = errors.New("screen: index does not match the recording")
	// ErrIndexCorrupt: the index file is damaged or not an index.
	ErrIndexCorrupt = errors.New("screen: index damaged")
)

var indexMagic = [8]byte{'W', 'S', 'I', 'D', 'X', '\r', '\n', 0x1a}

const (
	indexHeaderSize = 64
	indexEntrySize  = 32
	fingerprintPart = 64 << 10 // bytes hashed at each end of the recording
	maxKeyframes    = 1 << 24
)

// IndexOptions configure BuildIndex. The zero value means the defaults.
type IndexOptions struct {
	// Interval is the session time between keyframes. Zero means
	// DefaultInterval.
	Interval time.Duration
	// MaxBytes is the most server bytes between keyframes. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
	// Screen configures the Screens decoded and restored.
	Screen Options
	// Identities open an encrypted (version 2) recording, whose index is
	// sealed with its sidecar key (format.Reader.SidecarKey, format/SPEC.md
	// "Seek index"). Nil means none: an encrypted recording then has no
	// index, and BuildIndex and ReadIndex return format.ErrNoIdentity.
	Identities []age.Identity
}

// keyframe is one entry of an index.
type keyframe struct {
	time    time.Duration // time of the last record fed
	records int64         // records fed, from the start
	skip    uint32        // records fed whose time is time
	size    uint32        // compressed size of the state
	offset  uint64        // of the state in the index file
	blob    []byte        // the compressed state, when in memory
}

// Index locates keyframes of a recording's screen, so that a Screen at
// any time is restored from the keyframe before it and a few seconds of
// decoding (format/SPEC.md, "Seek index"). An Index is safe for
// concurrent use by SeekTo calls with their own Readers.
type Index struct {
	opts        IndexOptions
	size        int64
	fingerprint [32]byte
	keys        []keyframe
	file        []byte      // the index file, when read from one
	aead        cipher.AEAD // seals keyframes: nil for a recording in the clear
}

// indexSealed is the flag of an index whose keyframes are sealed.
const indexSealed = 1

// sidecarAEAD returns the AEAD that seals the index keyframes of the
// recording of size bytes in ra, and nil for a recording in the clear. It
// returns format.ErrNoIdentity (or format.ErrWrongIdentity) for an
// encrypted one that identities do not open.
func sidecarAEAD(ra io.ReaderAt, size int64, identities []age.Identity) (cipher.AEAD, error) {
	r, err := format.NewReader(ra, size, format.ReaderOptions{Identities: identities})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readerAEAD(r)
}

// readerAEAD returns the AEAD of r's sidecar key, nil for a recording in
// the clear.
func readerAEAD(r *format.Reader) (cipher.AEAD, error) {
	key, err := r.SidecarKey()
	if err != nil || key == nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// keyNonce is the nonce that seals keyframe i: i as 8 little-endian
// bytes, then 4 zero bytes.
func keyNonce(i int) []byte {
	var n [12]byte
	binary.LittleEndian.PutUint64(n[:], uint64(i))
	return n[:]
}

// Fingerprint returns what binds an index to a recording: SHA-256 of the
// recording's size (8 bytes, little-endian), its first 64 KiB and its last
// 64 KiB. A sealed recording ends with its trailer, which holds the final
// value of its hash chain, so the fingerprint changes with any record; an
// unsealed one that grows changes size.
func Fingerprint(ra io.ReaderAt, size int64) ([32]byte, error) {
	h := sha256.New()
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(size)))
	head := make([]byte, min(size, fingerprintPart))
	if _, err := ra.ReadAt(head, 0); err != nil && err != io.EOF {
		return [32]byte{}, err
	}
	h.Write(head)
	tail := make([]byte, min(size, fingerprintPart))
	if _, err := ra.ReadAt(tail, size-int64(len(tail))); err != nil && err != io.EOF {
		return [32]byte{}, err
	}
	h.Write(tail)
	return [32]byte(h.Sum(nil)), nil
}

func (o *IndexOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Screen.MaxPixels <= 0 {
		o.Screen.MaxPixels = DefaultMaxPixels
	}
}

// BuildIndex decodes the recording of size bytes in ra from the start and
// returns its index, with a keyframe every opts.Interval of session time
// or opts.MaxBytes of server data, whichever comes first, where both
// directions are between messages. Keyframes stop where the Screen stops
// (its error is not BuildIndex's: SeekTo reproduces it). It returns the
// format package's errors for a recording it cannot read.
func BuildIndex(ra io.ReaderAt, size int64, opts IndexOptions) (*Index, error) {
	opts.defaults()
	fp, err := Fingerprint(ra, size)
	if err != nil {
		return nil, fmt.Errorf("screen: fingerprint: %w", err)
	}
	r, err := format.NewReader(ra, size, format.ReaderOptions{Identities: opts.Identities})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	aead, err := readerAEAD(r)
	if err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	x := &Index{opts: opts, size: size, fingerprint: fp, aead: aead}
	s := New(opts.Screen)
	var (
		last      time.Duration // time of the last record fed
		skip      uint32        // records fed at time last
		lastKey   time.Duration
		sent      int64 // server bytes fed
		lastBytes int64
		state     []byte // the last keyframe's state, before compression
	)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Time == last && s.records > 0 {
			skip++
		} else {
			last, skip = rec.Time, 1
		}
		if rec.Kind == format.KindMessage && rec.Dir == format.TargetToClient {
			sent += int64(len(rec.Payload))
		}
		if s.Feed(rec) != nil {
			continue // keep counting: SeekTo after the error decodes to it
		}
		if rec.Time-lastKey < opts.Interval && sent-lastBytes < opts.MaxBytes {
			continue
		}
		st, err := s.marshal(state)
		if err != nil {
			continue // inside a message: try after the next record
		}
		state = st
		blob := enc.EncodeAll(st, nil)
		if aead != nil {
			blob = aead.Seal(blob[:0:0], keyNonce(len(x.keys)), blob, fp[:])
		}
		x.keys = append(x.keys, keyframe{time: last, records: s.records, skip: skip, blob: blob})
		lastKey, lastBytes = rec.Time, sent
	}
	return x, nil
}

// Keyframes returns the times of the index's keyframes.
func (x *Index) Keyframes() []time.Duration {
	t := make([]time.Duration, len(x.keys))
	for i, k := range x.keys {
		t[i] = k.time
	}
	return t
}

// WriteTo writes the index file (format/SPEC.md, "Seek index").
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	head := make([]byte, indexHeaderSize, indexHeaderSize+len(x.keys)*indexEntrySize+32)
	copy(head, indexMagic[:])
	le := binary.LittleEndian
	le.PutUint16(head[8:], IndexVersion)
	if x.aead != nil {
		le.PutUint16(head[10:], indexSealed)
	}
	le.PutUint64(head[16:], uint64(x.size))
	copy(head[24:56], x.fingerprint[:])
	le.PutUint32(head[56:], uint32(len(x.keys)))
	off := uint64(indexHeaderSize + len(x.keys)*indexEntrySize + 32)
	for _, k := range x.keys {
		blob := x.blob(k)
		head = le.AppendUint64(head, uint64(k.time))
		head = le.AppendUint64(head, uint64(k.records))
		head = le.AppendUint32(head, k.skip)
		head = le.AppendUint32(head, uint32(len(blob)))
		head = le.AppendUint64(head, off)
		off += uint64(len(blob))
	}
	sum := sha256.Sum256(head)
	head = append(head, sum[:]...)
	n, err := w.Write(head)
	total := int64(n)
	for _, k := range x.keys {
		if err != nil {
			return total, err
		}
		n, err = w.Write(x.blob(k))
		total += int64(n)
	}
	return total, err
}

func (x *Index) blob(k keyframe) []byte {
	if k.blob != nil {
		return k.blob
	}
	return x.file[k.offset : k.offset+uint64(k.size)]
}

// ReadIndex parses index file b for the recording of size bytes in ra. It
// returns an error wrapping ErrIndexCorrupt for a damaged file and
// ErrIndexStale for the index of another recording, or of this one before
// it changed. Keyframes are checked (zstd checksums) when SeekTo uses
// them.
func ReadIndex(b []byte, ra io.ReaderAt, size int64, opts IndexOptions) (*Index, error) {
	opts.defaults()
	le := binary.LittleEndian
	if len(b) < indexHeaderSize+32 || !bytes.Equal(b[:8], indexMagic[:]) {
		return nil, fmt.Errorf("%w: not an index", ErrIndexCorrupt)
	}
	if v := le.Uint16(b[8:]); v != IndexVersion {
		return nil, fmt.Errorf("%w: version %d", ErrIndexStale, v)
	}
	flags := le.Uint16(b[10:])
	if flags&^indexSealed != 0 || le.Uint32(b[12:]) != 0 || le.Uint32(b[60:]) != 0 {
		return nil, fmt.Errorf("%w: unknown flags or reserved bits", ErrIndexCorrupt)
	}
	n := le.Uint32(b[56:])
	end := uint64(indexHeaderSize) + uint64(n)*indexEntrySize
	if n > maxKeyframes || end+32 > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d keyframes in %d bytes", ErrIndexCorrupt, n, len(b))
	}
	if sum := sha256.Sum256(b[:end]); !bytes.Equal(sum[:], b[end:end+32]) {
		return nil, fmt.Errorf("%w: header checksum", ErrIndexCorrupt)
	}
	fp, err := Fingerprint(ra, size)
	if err != nil {
		return nil, fmt.Errorf("screen: fingerprint: %w", err)
	}
	if int64(le.Uint64(b[16:])) != size || [32]byte(b[24:56]) != fp {
		return nil, ErrIndexStale
	}
	aead, err := sidecarAEAD(ra, size, opts.Identities)
	if err != nil {
		return nil, err
	}
	switch {
	case aead != nil && flags&indexSealed == 0:
		return nil, fmt.Errorf("%w: an index in the clear for an encrypted recording", ErrIndexStale)
	case aead == nil && flags&indexSealed != 0:
		return nil, fmt.Errorf("%w: a sealed index for a recording in the clear", ErrIndexCorrupt)
	}
	x := &Index{opts: opts, size: size, fingerprint: fp, file: b, aead: aead}
	var prev keyframe
	for i := range n {
		e := b[indexHeaderSize+i*indexEntrySize:]
		k := keyframe{time: time.Duration(le.Uint64(e)), records: int64(le.Uint64(e[8:])), skip: le.Uint32(e[16:]),
			size: le.Uint32(e[20:]), offset: le.Uint64(e[24:])}
		if k.offset < end+32 || k.offset+uint64(k.size) > uint64(len(b)) || k.time < prev.time ||
			k.records <= prev.records || k.skip == 0 {
			return nil, fmt.Errorf("%w: keyframe %d", ErrIndexCorrupt, i)
		}
		x.keys = append(x.keys, k)
		prev = k
	}
	return x, nil
}

// IndexPath returns where OpenIndex keeps the index of recording path:
// beside it, with .wsidx for its extension (REC.wsrec: REC.wsidx).
func IndexPath(path string) string {
	return path[:len(path)-len(filepath.Ext(path))] + ".wsidx"
}

// OpenIndex returns the index of the recording at path, read from
// idxPath if that holds a valid one for it, and otherwise built and
// written there (replacing a stale or damaged one atomically). It returns
// the errors of BuildIndex and of writing idxPath.
func OpenIndex(path, idxPath string, opts IndexOptions) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(idxPath); err == nil {
		if x, err := ReadIndex(b, f, fi.Size(), opts); err == nil {
			return x, nil
		}
	}
	x, err := BuildIndex(f, fi.Size(), opts)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(idxPath), filepath.Base(idxPath)+".tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := x.WriteTo(tmp); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), idxPath); err != nil {
		return nil, err
	}
	return x, nil
}

// SeekTo returns a Screen that shows the session at time t: the one
// decoded from every record up to and including time t. It restores the
// last keyframe at or before t, positions r (a Reader of the indexed
// recording) after it, and feeds r's records up to t; it leaves r at the
// first record after t, so that feeding on continues the session. A
// Screen that stopped with an error before t is returned with it (see
// Screen.Err); SeekTo's own errors are r's, and ErrIndexCorrupt for a
// damaged keyframe.
func (x *Index) SeekTo(r *format.Reader, t time.Duration) (*Screen, error) {
	i := sort.Search(len(x.keys), func(i int) bool { return x.keys[i].time > t }) - 1
	var s *Screen
	if i < 0 {
		if err := r.Seek(0); err != nil {
			return nil, err
		}
		s = New(x.opts.Screen)
	} else {
		k := x.keys[i]
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(4*x.opts.Screen.MaxPixels+8<<20)))
		if err != nil {
			return nil, err
		}
		blob := x.blob(k)
		if x.aead != nil {
			if blob, err = x.aead.Open(nil, keyNonce(i), blob, x.fingerprint[:]); err != nil {
				dec.Close()
				return nil, fmt.Errorf("%w: keyframe at %v: %w", ErrIndexCorrupt, k.time, err)
			}
		}
		st, err := dec.DecodeAll(blob, nil)
		dec.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: keyframe at %v: %w", ErrIndexCorrupt, k.time, err)
		}
		if s, err = unmarshal(st, x.opts.Screen); err != nil {
			return nil, err
		}
		if s.records != k.records || s.t != k.time {
			return nil, fmt.Errorf("%w: keyframe at %v holds another one", ErrIndexCorrupt, k.time)
		}
		if err := r.Seek(k.time); err != nil {
			return nil, err
		}
		for range k.skip {
			if _, err := r.Next(); err != nil {
				return nil, fmt.Errorf("screen: resume after keyframe at %v: %w", k.time, err)
			}
		}
	}
	for s.err == nil {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Time > t {
			break
		}
		s.Feed(rec)
	}
	if err := r.Seek(t + 1); err != nil {
		return nil, err
	}
	return s, nil
}
