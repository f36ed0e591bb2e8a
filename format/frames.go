package format

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"time"
)

// The layout of the frames is specified in SPEC.md; every number here has a
// row in one of its tables. All integers are little-endian.

const (
	skippableMagic    uint32 = 0x184D2A57 // zstd skippable frame, nibble 7
	skippableMask     uint32 = 0xFFFFFFF0
	skippableMagicAny uint32 = 0x184D2A50
	zstdFrameMagic    uint32 = 0xFD2FB528

	tagHeader  = "WRHD"
	tagChunk   = "WRCK"
	tagTrailer = "WRTR"
	endMagic   = "WSRECEND"

	headerFixedSize  = 80 // header payload before the metadata entries
	trailerFixedSize = 72 // trailer payload before the index
	signatureSize    = ed25519.PublicKeySize + ed25519.SignatureSize

	trailerFlagSigned uint32 = 1 << 0
)

// sealContext prefixes the seal in the message an Ed25519 signature
// covers; its digit is the format version.
const sealContext = "wsrec seal v1\x00"

var le = binary.LittleEndian

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendFrameHeader(b []byte, payloadSize int) []byte {
	b = le.AppendUint32(b, skippableMagic)
	return le.AppendUint32(b, uint32(payloadSize))
}

// headerCrypt is the encryption section of a version 2 header.
type headerCrypt struct {
	Wrapped []byte // an age file holding the data key
	Secret  []byte // the sealed metadata entries
	AD      []byte // what the sealed metadata is bound to: the fixed header fields
}

const (
	headerFlagEncrypted uint16 = 1 << 0
	maxWrappedKey              = 64 << 10 // the age file of the data key
)

// appendHeader appends the complete header frame for h, whose Meta holds
// the entries in the clear. For an encrypted header (h.Cipher set), seal
// returns the sealed secret metadata bound to the fixed fields ad, and
// wrapped is the age file of the data key.
func appendHeader(b []byte, h *Header, wrapped []byte, seal func(ad []byte) []byte) ([]byte, error) {
	if err := validateMeta(h.Meta); err != nil {
		return nil, err
	}
	start := len(b) + frameHeaderSize
	b = appendFrameHeader(b, 0) // size set below
	b = append(b, tagHeader...)
	b = le.AppendUint16(b, h.Version)
	var flags uint16
	if h.Cipher != NoCipher {
		flags |= headerFlagEncrypted
	}
	b = le.AppendUint16(b, flags)
	if h.Version >= 2 {
		b = append(b, byte(h.ChainHash), byte(h.Cipher))
		b = append(b, make([]byte, 6)...) // reserved
	} else {
		b = le.AppendUint64(b, 0) // reserved
	}
	b = append(b, h.SessionID[:]...)
	b = le.AppendUint64(b, uint64(h.Start.UnixNano()))
	b = le.AppendUint32(b, h.Part)
	b = append(b, h.PrevChain[:]...)
	b = appendMeta(b, h.Meta)
	if h.Cipher != NoCipher {
		if len(wrapped) > maxWrappedKey {
			return nil, fmt.Errorf("%w: wrapped data key of %d bytes (limit %d)", ErrTooLarge, len(wrapped), maxWrappedKey)
		}
		b = le.AppendUint32(b, uint32(len(wrapped)))
		b = append(b, wrapped...)
		sealed := seal(b[start : start+headerFixedSize-4])
		b = le.AppendUint32(b, uint32(len(sealed)))
		b = append(b, sealed...)
	}
	size := len(b) - start + 4
	if size > maxHeaderSize {
		return nil, fmt.Errorf("%w: header of %d bytes (limit %d)", ErrTooLarge, size, maxHeaderSize)
	}
	le.PutUint32(b[start-4:], uint32(size))
	return le.AppendUint32(b, crc32.Checksum(b[start:], crcTable)), nil
}

// appendMeta appends the entry count and the entries of meta, sorted by
// key.
func appendMeta(b []byte, meta map[string]string) []byte {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = le.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		v := meta[k]
		b = le.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = le.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

var (
	errShort    = errors.New("frame too short")
	errTag      = errors.New("unexpected frame tag")
	errReserved = errors.New("reserved field not zero")
	errCRC      = errors.New("checksum mismatch")
)

// parseHeader decodes a header frame payload. For an encrypted header it
// also returns the encryption section.
func parseHeader(p []byte) (Header, *headerCrypt, error) {
	var h Header
	if len(p) < headerFixedSize+4 {
		return h, nil, errShort
	}
	if string(p[:4]) != tagHeader {
		return h, nil, errTag
	}
	body, sum := p[:len(p)-4], le.Uint32(p[len(p)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return h, nil, fmt.Errorf("header: %w", errCRC)
	}
	h.Version = le.Uint16(p[4:])
	if h.Version == 0 || h.Version > Version {
		return h, nil, fmt.Errorf("%w: version %d (this reader knows 1 to %d)", ErrVersion, h.Version, Version)
	}
	flags := le.Uint16(p[6:])
	h.ChainHash = SHA256
	switch {
	case h.Version == 1 && flags != 0, h.Version >= 2 && flags&^headerFlagEncrypted != 0:
		return h, nil, fmt.Errorf("%w: unknown header flags %#x", ErrVersion, flags)
	case h.Version == 1 && le.Uint64(p[8:]) != 0:
		return h, nil, fmt.Errorf("header: %w", errReserved)
	case h.Version >= 2:
		h.ChainHash, h.Cipher = HashAlgorithm(p[8]), Cipher(p[9])
		if !h.ChainHash.known() {
			return h, nil, fmt.Errorf("%w: chain hash %d", ErrVersion, p[8])
		}
		if enc := flags&headerFlagEncrypted != 0; enc && h.Cipher != AES256GCM || !enc && h.Cipher != NoCipher {
			return h, nil, fmt.Errorf("%w: cipher %d (encrypted flag %v)", ErrVersion, p[9], enc)
		}
		if string(p[10:16]) != "\x00\x00\x00\x00\x00\x00" {
			return h, nil, fmt.Errorf("header: %w", errReserved)
		}
	}
	copy(h.SessionID[:], p[16:32])
	h.Start = time.Unix(0, int64(le.Uint64(p[32:]))).UTC()
	h.Part = le.Uint32(p[40:])
	copy(h.PrevChain[:], p[44:76])
	meta, rest, err := parseMeta(body[headerFixedSize-4:])
	if err != nil {
		return h, nil, fmt.Errorf("header: %w", err)
	}
	h.Meta = meta
	var hc *headerCrypt
	if h.Cipher != NoCipher {
		hc = &headerCrypt{AD: p[:headerFixedSize-4]}
		if hc.Wrapped, rest, err = cutField(rest, maxWrappedKey); err != nil {
			return h, nil, fmt.Errorf("header: wrapped data key: %w", err)
		}
		if hc.Secret, rest, err = cutField(rest, maxHeaderSize); err != nil {
			return h, nil, fmt.Errorf("header: sealed metadata: %w", err)
		}
		if len(hc.Secret) < aeadTagSize {
			return h, nil, fmt.Errorf("header: sealed metadata of %d bytes", len(hc.Secret))
		}
	}
	if len(rest) != 0 {
		return h, nil, fmt.Errorf("header: %d bytes after the metadata", len(rest))
	}
	return h, hc, nil
}

// cutField splits a 4-byte length and that many bytes, at most limit, off
// the front of p.
func cutField(p []byte, limit int) (field, rest []byte, err error) {
	if len(p) < 4 {
		return nil, nil, errShort
	}
	n := le.Uint32(p)
	if uint64(n) > uint64(len(p)-4) || uint64(n) > uint64(limit) {
		return nil, nil, fmt.Errorf("length %d past the header", n)
	}
	return p[4 : 4+n], p[4+n:], nil
}

// parseMeta decodes a metadata entry count and the entries, and returns
// what follows them.
func parseMeta(p []byte) (map[string]string, []byte, error) {
	if len(p) < 4 {
		return nil, nil, errShort
	}
	n := le.Uint32(p)
	rest := p[4:]
	// Each entry takes at least 7 bytes: check the count before allocating.
	if uint64(n)*7 > uint64(len(rest)) {
		return nil, nil, fmt.Errorf("%d metadata entries in %d bytes", n, len(rest))
	}
	meta := make(map[string]string, n)
	for i := uint32(0); i < n; i++ {
		if len(rest) < 2 {
			return nil, nil, fmt.Errorf("metadata entry %d: %w", i, errShort)
		}
		kl := int(le.Uint16(rest))
		if kl == 0 || kl > maxMetaKey || len(rest) < 2+kl+4 {
			return nil, nil, fmt.Errorf("metadata entry %d: bad key length %d", i, kl)
		}
		k := string(rest[2 : 2+kl])
		rest = rest[2+kl:]
		vl := le.Uint32(rest)
		if uint64(vl) > uint64(len(rest)-4) {
			return nil, nil, fmt.Errorf("metadata %q: value length %d past the header", k, vl)
		}
		if _, dup := meta[k]; dup {
			return nil, nil, fmt.Errorf("metadata key %q repeated", k)
		}
		meta[k] = string(rest[4 : 4+vl])
		rest = rest[4+vl:]
	}
	return meta, rest, nil
}

// chunkInfo is the content of a chunk header frame, and with Offset the
// chunk's entry in the seek index.
type chunkInfo struct {
	Offset       int64 // file offset of the chunk header frame
	Seq          uint32
	Records      uint32
	Uncompressed uint32
	Compressed   uint32
	First, Last  time.Duration
	Messages     [2]uint32 // by Direction
	Bytes        [2]uint64 // by Direction
	Chain        Hash
}

// end is the file offset just past the chunk's zstd frame.
func (c *chunkInfo) end() int64 { return c.Offset + chunkFrameSize + int64(c.Compressed) }

// putChunkFrame writes the chunk header frame into b[:chunkFrameSize].
func putChunkFrame(b []byte, c *chunkInfo) {
	le.PutUint32(b[0:], skippableMagic)
	le.PutUint32(b[4:], chunkPayloadSize)
	p := b[frameHeaderSize:]
	copy(p, tagChunk)
	le.PutUint32(p[4:], c.Seq)
	le.PutUint32(p[8:], c.Records)
	le.PutUint32(p[12:], c.Uncompressed)
	le.PutUint32(p[16:], c.Compressed)
	le.PutUint32(p[20:], 0) // reserved
	le.PutUint64(p[24:], uint64(c.First))
	le.PutUint64(p[32:], uint64(c.Last))
	le.PutUint32(p[40:], c.Messages[0])
	le.PutUint32(p[44:], c.Messages[1])
	le.PutUint64(p[48:], c.Bytes[0])
	le.PutUint64(p[56:], c.Bytes[1])
	copy(p[64:], c.Chain[:])
}

// chainFieldOffset is the offset of the chain value in a chunk header frame.
const chainFieldOffset = frameHeaderSize + chunkADSize

// chunkADSize is the length of the chunk header payload before the chain
// value: what an encrypted chunk's AEAD binds it to.
const chunkADSize = 64

// parseChunkFrame decodes a chunk header frame payload (96 bytes).
func parseChunkFrame(p []byte, offset int64) (chunkInfo, error) {
	c := chunkInfo{Offset: offset}
	if len(p) != chunkPayloadSize {
		return c, fmt.Errorf("chunk header of %d bytes, want %d", len(p), chunkPayloadSize)
	}
	if string(p[:4]) != tagChunk {
		return c, errTag
	}
	c.Seq = le.Uint32(p[4:])
	c.Records = le.Uint32(p[8:])
	c.Uncompressed = le.Uint32(p[12:])
	c.Compressed = le.Uint32(p[16:])
	if le.Uint32(p[20:]) != 0 {
		return c, fmt.Errorf("chunk header: %w", errReserved)
	}
	c.First = time.Duration(le.Uint64(p[24:]))
	c.Last = time.Duration(le.Uint64(p[32:]))
	c.Messages[0] = le.Uint32(p[40:])
	c.Messages[1] = le.Uint32(p[44:])
	c.Bytes[0] = le.Uint64(p[48:])
	c.Bytes[1] = le.Uint64(p[56:])
	copy(c.Chain[:], p[64:96])
	switch {
	case c.Records == 0:
		return c, errors.New("chunk header: no records")
	case c.First < 0 || c.Last < c.First:
		return c, fmt.Errorf("chunk header: times %d..%d out of order", c.First, c.Last)
	case uint64(c.Records)*recordHeaderSize > uint64(c.Uncompressed):
		return c, fmt.Errorf("chunk header: %d records cannot fit %d bytes", c.Records, c.Uncompressed)
	}
	return c, nil
}

// totals are the counts of a whole recording.
type totals struct {
	Records  uint64
	End      time.Duration // time of the last record
	Messages [2]uint64     // by Direction
	Bytes    [2]uint64     // by Direction
}

func (t *totals) add(c *chunkInfo) {
	t.Records += uint64(c.Records)
	t.End = c.Last
	for d := range 2 {
		t.Messages[d] += uint64(c.Messages[d])
		t.Bytes[d] += c.Bytes[d]
	}
}

// trailer is the content of the trailer frame.
type trailer struct {
	Offset    int64 // file offset of the trailer frame
	Totals    totals
	Index     []chunkInfo // Offset, First, Last, Records, Uncompressed, Compressed only
	Chain     Hash
	Seal      Hash
	PublicKey ed25519.PublicKey // nil when unsigned
	Signature []byte
}

func trailerPayloadSize(chunks int, signed bool) int {
	n := trailerFixedSize + chunks*indexEntrySize + 2*hashSize + locatorSize
	if signed {
		n += signatureSize
	}
	return n
}

// appendTrailerBody appends the trailer frame up to and including the final
// chain value: the bytes the seal covers.
func appendTrailerBody(b []byte, t *trailer, signed bool) []byte {
	b = appendFrameHeader(b, trailerPayloadSize(len(t.Index), signed))
	b = append(b, tagTrailer...)
	var flags uint32
	if signed {
		flags |= trailerFlagSigned
	}
	b = le.AppendUint32(b, flags)
	b = le.AppendUint32(b, uint32(len(t.Index)))
	b = le.AppendUint32(b, 0) // reserved
	b = le.AppendUint64(b, t.Totals.Records)
	b = le.AppendUint64(b, uint64(t.Totals.End))
	b = le.AppendUint64(b, t.Totals.Messages[0])
	b = le.AppendUint64(b, t.Totals.Messages[1])
	b = le.AppendUint64(b, t.Totals.Bytes[0])
	b = le.AppendUint64(b, t.Totals.Bytes[1])
	b = le.AppendUint64(b, uint64(t.Offset))
	for i := range t.Index {
		c := &t.Index[i]
		b = le.AppendUint64(b, uint64(c.Offset))
		b = le.AppendUint64(b, uint64(c.First))
		b = le.AppendUint64(b, uint64(c.Last))
		b = le.AppendUint32(b, c.Records)
		b = le.AppendUint32(b, c.Uncompressed)
		b = le.AppendUint32(b, c.Compressed)
		b = le.AppendUint32(b, 0) // reserved
	}
	return append(b, t.Chain[:]...)
}

// appendLocator appends the last 12 bytes of a sealed file.
func appendLocator(b []byte, frameSize int) []byte {
	b = le.AppendUint32(b, uint32(frameSize))
	return append(b, endMagic...)
}

// parseTrailer decodes a complete trailer frame (with its 8-byte frame
// header) found at offset.
func parseTrailer(f []byte, offset int64) (trailer, error) {
	t := trailer{Offset: offset}
	if len(f) < frameHeaderSize+trailerFixedSize+2*hashSize+locatorSize {
		return t, errShort
	}
	p := f[frameHeaderSize:]
	if string(p[:4]) != tagTrailer {
		return t, errTag
	}
	flags := le.Uint32(p[4:])
	if flags&^trailerFlagSigned != 0 {
		return t, fmt.Errorf("%w: unknown trailer flags %#x", ErrVersion, flags)
	}
	signed := flags&trailerFlagSigned != 0
	n := le.Uint32(p[8:])
	if le.Uint32(p[12:]) != 0 {
		return t, fmt.Errorf("trailer: %w", errReserved)
	}
	if uint64(len(p)) != uint64(trailerPayloadSize(0, signed))+uint64(n)*indexEntrySize {
		return t, fmt.Errorf("trailer: %d bytes do not hold %d index entries", len(p), n)
	}
	t.Totals.Records = le.Uint64(p[16:])
	t.Totals.End = time.Duration(le.Uint64(p[24:]))
	t.Totals.Messages[0] = le.Uint64(p[32:])
	t.Totals.Messages[1] = le.Uint64(p[40:])
	t.Totals.Bytes[0] = le.Uint64(p[48:])
	t.Totals.Bytes[1] = le.Uint64(p[56:])
	if int64(le.Uint64(p[64:])) != offset {
		return t, fmt.Errorf("trailer: data end %d, trailer at %d", int64(le.Uint64(p[64:])), offset)
	}
	t.Index = make([]chunkInfo, n)
	q := p[trailerFixedSize:]
	next := int64(-1)
	for i := range t.Index {
		c := &t.Index[i]
		c.Seq = uint32(i)
		c.Offset = int64(le.Uint64(q))
		c.First = time.Duration(le.Uint64(q[8:]))
		c.Last = time.Duration(le.Uint64(q[16:]))
		c.Records = le.Uint32(q[24:])
		c.Uncompressed = le.Uint32(q[28:])
		c.Compressed = le.Uint32(q[32:])
		if le.Uint32(q[36:]) != 0 {
			return t, fmt.Errorf("trailer: index entry %d: %w", i, errReserved)
		}
		// c.Offset before offset first: c.end() cannot overflow then.
		if c.Offset <= next || c.Offset > offset || c.end() > offset || c.Last < c.First || c.First < 0 {
			return t, fmt.Errorf("trailer: index entry %d out of order", i)
		}
		next = c.Offset
		q = q[indexEntrySize:]
	}
	copy(t.Chain[:], q)
	copy(t.Seal[:], q[hashSize:])
	q = q[2*hashSize:]
	if signed {
		t.PublicKey = ed25519.PublicKey(q[:ed25519.PublicKeySize])
		t.Signature = q[ed25519.PublicKeySize:signatureSize]
		q = q[signatureSize:]
	}
	if int(le.Uint32(q)) != len(f) || string(q[4:]) != endMagic {
		return t, errors.New("trailer: bad locator")
	}
	return t, nil
}

// sealMessage is what an Ed25519 signature of a recording of the given
// version signs.
func sealMessage(version uint16, seal Hash) []byte {
	m := append([]byte(sealContext), seal[:]...)
	m[len("wsrec seal v")] = byte('0' + version)
	return m
}
