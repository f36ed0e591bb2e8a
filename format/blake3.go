package format

import (
	"hash"
	"math/bits"

	zeebo "github.com/zeebo/blake3"
	"golang.org/x/sys/cpu"
	"lukechampine.com/blake3/guts"
)

// newBLAKE3 returns the fastest BLAKE3 hasher for this CPU: on one with
// AVX-512, wideBLAKE3, which hashes 16 chunks at once with
// lukechampine.com/blake3's AVX-512 kernel (format's BenchmarkHash on
// one core of an AMD EPYC: 4.5 GB/s against 3.0 GB/s); otherwise
// github.com/zeebo/blake3, whose AVX2 and SSE4.1 code is the faster one
// without AVX-512. Both compute the same function.
func newBLAKE3() hash.Hash {
	if cpu.X86.HasAVX512F {
		return new(wideBLAKE3)
	}
	return zeebo.New()
}

// wideBLAKE3 is BLAKE3 (hash mode, 32-byte output) over
// lukechampine.com/blake3/guts, fed 16 KiB (16 chunks) at a time and
// always on the calling goroutine: that package's own Hasher hashes a
// large input on one goroutine per 16 KiB, whose cost showed in a
// recording proxy's CPU time.
//
// The tree is built as BLAKE3's incremental hashers build it: every
// complete 16-chunk subtree but the last goes on a stack of chaining
// values, one per height, merged with its left neighbours as it is
// pushed; the last one, complete or not, is compressed when the sum is
// taken and merged with the stack from the lowest height up.
//
// The zero value is ready to use. It is not safe for concurrent use.
type wideBLAKE3 struct {
	narrow  *zeebo.Hasher // for a short input, see Sum
	stack   [64][8]uint32
	buffers uint64 // 16-chunk subtrees pushed; bit i set: stack[i+4] holds one
	buf     [wideSize]byte
	n       int // bytes in buf
}

const (
	// wideSize is the input the AVX-512 kernel takes at once: 16 chunks.
	wideSize = guts.MaxSIMD * guts.ChunkSize
	// narrowMax bounds the inputs that Sum hashes with zeebo's code:
	// below it, that costs less than the kernel's 16 chunks (4 KiB:
	// 3.4 µs against 6.6; 15 KiB: 7.2 against 6.6).
	narrowMax = 12 << 10
)

func (h *wideBLAKE3) Write(p []byte) (int, error) {
	written := len(p)
	if h.n > 0 || len(p) <= wideSize {
		// Fill the buffer; a full one is compressed only once more input
		// shows that it is not the last.
		c := copy(h.buf[h.n:], p)
		h.n += c
		p = p[c:]
		if len(p) == 0 {
			return written, nil
		}
		h.push(&h.buf)
		h.n = 0
	}
	// Whole subtrees straight from p, keeping the last for Sum.
	for len(p) > wideSize {
		h.push((*[wideSize]byte)(p))
		p = p[wideSize:]
	}
	h.n = copy(h.buf[:], p)
	return written, nil
}

// push compresses the 16 chunks of b, which are not the input's last, and
// pushes their subtree's chaining value.
func (h *wideBLAKE3) push(b *[wideSize]byte) {
	n := guts.CompressBuffer(b, wideSize, &guts.IV, h.buffers*guts.MaxSIMD, 0)
	cv := guts.ChainingValue(n)
	i := 0
	for h.buffers&(1<<i) != 0 {
		cv = guts.ChainingValue(guts.ParentNode(h.stack[i], cv, &guts.IV, 0))
		i++
	}
	h.stack[i] = cv
	h.buffers++
}

// Sum appends the 32-byte hash of what was written to b. It does not
// change the hasher's state.
func (h *wideBLAKE3) Sum(b []byte) []byte {
	if h.buffers == 0 && h.n > guts.ChunkSize && h.n < narrowMax {
		// The kernel hashes 16 chunks whatever their number: a short
		// input of 2 to 11 chunks costs less in zeebo's 8-wide code.
		if h.narrow == nil {
			h.narrow = zeebo.New()
		}
		h.narrow.Reset()
		h.narrow.Write(h.buf[:h.n])
		return h.narrow.Sum(b)
	}
	// The kernel reads a whole buffer; what follows the input in it
	// does not count.
	n := guts.CompressBuffer(&h.buf, h.n, &guts.IV, h.buffers*guts.MaxSIMD, 0)
	for i := bits.TrailingZeros64(h.buffers); i < bits.Len64(h.buffers); i++ {
		if h.buffers&(1<<i) != 0 {
			n = guts.ParentNode(h.stack[i], guts.ChainingValue(n), &guts.IV, 0)
		}
	}
	n.Flags |= guts.FlagRoot
	out := guts.CompressNode(n)
	for _, w := range out[:hashSize/4] {
		b = le.AppendUint32(b, w)
	}
	return b
}

func (h *wideBLAKE3) Reset()         { h.buffers, h.n = 0, 0 }
func (h *wideBLAKE3) Size() int      { return hashSize }
func (h *wideBLAKE3) BlockSize() int { return guts.BlockSize }
