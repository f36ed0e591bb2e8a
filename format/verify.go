package format

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
)

// VerifyStatus is the outcome of Reader.Verify.
type VerifyStatus int

// Verification outcomes, in the order wsrecord-inspect's exit codes follow.
const (
	// Valid: sealed; the hash chain, the seal and any signature check out.
	Valid VerifyStatus = iota
	// Tampered: some byte differs from what was written; see
	// Verification.Problem for the first bad place.
	Tampered
	// Unsealed: every complete chunk checks out, but the file has no
	// trailer (the writer did not finish: crash, kill, full disk).
	Unsealed
	// SignatureMissing: a trusted key was given but the file is unsigned.
	SignatureMissing
	// SignatureInvalid: the signature does not verify, or was made with a
	// key other than the trusted one.
	SignatureInvalid
)

func (s VerifyStatus) String() string {
	switch s {
	case Valid:
		return "valid"
	case Tampered:
		return "tampered"
	case Unsealed:
		return "unsealed"
	case SignatureMissing:
		return "signature missing"
	case SignatureInvalid:
		return "signature invalid"
	}
	return fmt.Sprintf("VerifyStatus(%d)", int(s))
}

// VerifyOptions configure Reader.Verify. The zero value means the defaults.
type VerifyOptions struct {
	// PublicKey is the trusted key the seal must be signed with. Zero
	// (nil) means a signature is checked only against the key stored in
	// the file, which detects damage but proves no origin.
	PublicKey ed25519.PublicKey
}

// Verification is the result of Reader.Verify.
type Verification struct {
	Status  VerifyStatus
	Chunks  int    // chunks whose hash chain checked out
	Records uint64 // records in those chunks
	// Problem locates the first bad byte range when Status is Tampered
	// (Chunk -1: header or trailer), and says what is wrong with the
	// signature for SignatureInvalid.
	Problem *CorruptError
	// Signed reports a signature in the trailer, made with PublicKey.
	Signed    bool
	PublicKey ed25519.PublicKey
	// Trusted reports that the signature verified against
	// VerifyOptions.PublicKey.
	Trusted bool
	// Chain is the chain value after the last chunk that checked out: for a
	// valid recording its final chain value, which the next part's
	// Header.PrevChain carries.
	Chain Hash
	// Encrypted reports an encrypted recording. Its chain, seal and
	// signature cover the ciphertext and are checked without a key;
	// Decrypted reports that an identity opened it, so that every chunk was
	// also decrypted and its records checked against its header.
	Encrypted, Decrypted bool
}

// Verify reads the whole file and checks the hash chain of every chunk, the
// records in them, the trailer's index and totals, the seal and the
// signature. For an encrypted recording without an identity it checks
// everything but the records (see Verification.Decrypted). It returns an
// error only when the file cannot be read; damage is reported in the
// Verification.
func (r *Reader) Verify(opts VerifyOptions) (Verification, error) {
	if r.closed {
		return Verification{}, ErrClosed
	}
	var (
		v       Verification
		t       totals
		seen    []chunkInfo
		data    []byte
		buf     []byte
		h       = r.header.ChainHash.new()
		off     = r.headerEnd
		pending = off // start of bytes not yet covered by a chain value
	)
	tampered := func(chunk int, at int64, err error) (Verification, error) {
		v.Status = Tampered
		v.Problem = &CorruptError{Offset: at, Chunk: chunk, Err: err}
		return v, nil
	}
	v.Encrypted = r.header.Cipher != NoCipher
	v.Decrypted = v.Encrypted && r.aead != nil
	chain := r.chain0
	v.Chain = chain
	_, claimsSeal, err := r.claimsSeal()
	if err != nil {
		return v, err
	}
	maxData := compressBound(r.maxChunk) + frameHeaderSize + aeadTagSize
	for {
		c, stop, err := r.chunkAt(off, len(seen))
		if err == errCut || err == io.EOF && stop == r.size {
			if claimsSeal {
				return tampered(-1, off, errors.New("the file claims a seal but its trailer is missing"))
			}
			v.Status = Unsealed
			return v, nil
		}
		if err == io.EOF {
			off = stop // a trailer frame
			break
		}
		var ce *CorruptError
		if errors.As(err, &ce) {
			v.Status, v.Problem = Tampered, ce
			return v, nil
		}
		if err != nil {
			return v, err
		}
		if cap(buf) < int(c.end()-c.Offset) && int64(c.Compressed) <= maxData {
			buf = make([]byte, c.end()-c.Offset)
		}
		if int64(c.Compressed) > maxData {
			return tampered(int(c.Seq), c.Offset, fmt.Errorf("%w: chunk of %d compressed bytes", ErrTooLarge, c.Compressed))
		}
		b := buf[:c.end()-c.Offset]
		if err := r.readFull(b, c.Offset); err != nil {
			return v, err
		}
		h.Reset()
		h.Write(chain[:])
		if err := r.hashSpan(h, pending, c.Offset); err != nil {
			return v, err
		}
		h.Write(b[:chainFieldOffset])
		h.Write(b[chainFieldOffset+hashSize:])
		var got Hash
		h.Sum(got[:0])
		if got != c.Chain {
			return tampered(int(c.Seq), c.Offset, errors.New("hash chain mismatch"))
		}
		if c.First < t.End {
			return tampered(int(c.Seq), c.Offset, errTimeOrder)
		}
		if v.Encrypted && !v.Decrypted {
			err = checkSealedFrame(b[chunkFrameSize:])
			if err != nil {
				return tampered(int(c.Seq), c.Offset, err)
			}
		} else if _, err = r.decode(&c, b[chunkFrameSize:], &data); err != nil {
			if errors.As(err, &ce) {
				v.Status, v.Problem = Tampered, ce
				return v, nil
			}
			return v, err
		}
		chain = got
		v.Chain = chain
		t.add(&c)
		seen = append(seen, c)
		v.Chunks++
		v.Records += uint64(c.Records)
		off = c.end()
		pending = off
	}

	// The trailer frame at off must end the file.
	var fh [frameHeaderSize]byte
	if err := r.readFull(fh[:], off); err != nil {
		return v, err
	}
	if off+frameHeaderSize+int64(le.Uint32(fh[4:])) != r.size {
		return tampered(-1, off, errors.New("trailer does not end the file"))
	}
	if r.size-off > maxTrailerSize {
		return tampered(-1, off, fmt.Errorf("%w: trailer of %d bytes", ErrTooLarge, r.size-off))
	}
	f := make([]byte, r.size-off)
	if err := r.readFull(f, off); err != nil {
		return v, err
	}
	tr, err := parseTrailer(f, off)
	if err != nil {
		return tampered(-1, off, err)
	}
	switch {
	case tr.Chain != chain:
		return tampered(-1, off, errors.New("trailer: final chain value differs from the chunks"))
	case tr.Totals != t:
		return tampered(-1, off, errors.New("trailer: totals differ from the chunks"))
	case len(tr.Index) != len(seen):
		return tampered(-1, off, fmt.Errorf("trailer: index of %d chunks, file has %d", len(tr.Index), len(seen)))
	}
	for i := range seen {
		a, b := tr.Index[i], seen[i]
		if a.Offset != b.Offset || a.First != b.First || a.Last != b.Last || a.Records != b.Records ||
			a.Uncompressed != b.Uncompressed || a.Compressed != b.Compressed {
			return tampered(-1, off, fmt.Errorf("trailer: index entry %d differs from chunk %d", i, i))
		}
	}
	// The seal covers everything after the last chunk up to the seal.
	sealAt := r.size - locatorSize - hashSize
	if tr.PublicKey != nil {
		sealAt -= signatureSize
	}
	h.Reset()
	if err := r.hashSpan(h, pending, sealAt); err != nil {
		return v, err
	}
	var seal Hash
	h.Sum(seal[:0])
	if seal != tr.Seal {
		return tampered(-1, sealAt, errors.New("seal mismatch"))
	}

	v.Status = Valid
	v.Signed, v.PublicKey = tr.PublicKey != nil, tr.PublicKey
	switch {
	case !v.Signed && opts.PublicKey != nil:
		v.Status = SignatureMissing
	case !v.Signed:
	case !ed25519.Verify(tr.PublicKey, sealMessage(r.header.Version, seal), tr.Signature):
		v.Status = SignatureInvalid
		v.Problem = &CorruptError{Offset: sealAt + hashSize, Chunk: -1, Err: errors.New("signature does not verify")}
	case opts.PublicKey != nil && !bytes.Equal(opts.PublicKey, tr.PublicKey):
		v.Status = SignatureInvalid
		v.Problem = &CorruptError{Offset: sealAt + hashSize, Chunk: -1, Err: errors.New("signed with a different key than the trusted one")}
	default:
		v.Trusted = opts.PublicKey != nil
	}
	return v, nil
}
