package format

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

// HashAlgorithm names the hash of a recording's chain and seal (SPEC.md,
// "Hash chain, seal and signature"). A version 2 header stores it, so that
// a later algorithm needs no new format version; version 1 is always
// SHA-256.
type HashAlgorithm uint8

// Hash algorithms. Both give 32-byte values.
const (
	// SHA256 is SHA-256 (FIPS 180-4), the hash of every version 1 file.
	SHA256 HashAlgorithm = 1
	// BLAKE3 is BLAKE3 in its default hash mode with a 32-byte output.
	// It costs half the CPU of SHA-256 here (format's BenchmarkHash: 3.1
	// GB/s against 1.6 GB/s on one core with SHA-NI), and the chain hashes
	// every byte of a recording.
	BLAKE3 HashAlgorithm = 2
)

// DefaultHash is the chain hash of a version 2 Writer whose
// WriterOptions.Hash is zero.
const DefaultHash = BLAKE3

func (a HashAlgorithm) String() string {
	switch a {
	case SHA256:
		return "SHA-256"
	case BLAKE3:
		return "BLAKE3"
	}
	return fmt.Sprintf("HashAlgorithm(%d)", uint8(a))
}

// known reports whether this package implements a.
func (a HashAlgorithm) known() bool { return a == SHA256 || a == BLAKE3 }

// new returns a hash.Hash of a, which must be known.
func (a HashAlgorithm) new() hash.Hash {
	if a == BLAKE3 {
		return newBLAKE3()
	}
	return sha256.New()
}

// blake3s and sha256s hold hashers for get: a BLAKE3 one is a 9 to 18
// KiB object to allocate and clear, and blake3.Sum256 keeps one on the
// stack, which makes the stack of each new goroutine that calls it grow
// (copied twice); a recorded session's writing goroutine hashes a header
// and a trailer. A Writer takes one for each chunk and gives it back, so
// that the many idle Writers of a busy proxy hold none (10 KiB of heap
// per idle recorded session in record's TestIdleSessionMemory, 21 KiB
// when each Writer kept one).
var (
	blake3s = sync.Pool{New: func() any { return newBLAKE3() }}
	sha256s = sync.Pool{New: func() any { return sha256.New() }}
)

// get returns a hash.Hash of a, which must be known, reset; put gives it
// back once unused.
func (a HashAlgorithm) get() hash.Hash {
	p := &sha256s
	if a == BLAKE3 {
		p = &blake3s
	}
	h := p.Get().(hash.Hash)
	h.Reset()
	return h
}

// put gives back h, from get, once unused; nil is ignored.
func (a HashAlgorithm) put(h hash.Hash) {
	switch {
	case h == nil:
	case a == BLAKE3:
		blake3s.Put(h)
	default:
		sha256s.Put(h)
	}
}

// sum returns a's hash of b.
func (a HashAlgorithm) sum(b []byte) Hash {
	var s Hash
	if a == BLAKE3 {
		h := a.get()
		h.Write(b)
		h.Sum(s[:0])
		a.put(h)
		return s
	}
	h := sha256.Sum256(b)
	copy(s[:], h[:])
	return s
}
