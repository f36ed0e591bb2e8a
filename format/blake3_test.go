package format

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	zeebo "github.com/zeebo/blake3"
)

// wideSum hashes data with wideBLAKE3, written in the pieces cuts makes.
func wideSum(data []byte, cuts []int) []byte {
	var h wideBLAKE3
	h.Write([]byte("spoil the state"))
	h.Reset()
	for _, c := range cuts {
		h.Write(data[:c])
		data = data[c:]
	}
	h.Write(data)
	return h.Sum(nil)
}

// TestWideBLAKE3 checks wideBLAKE3 against github.com/zeebo/blake3 at
// every length around a chunk and a 16-chunk boundary, whole and written
// in random pieces: a subtree merged in the wrong place changes every
// sum from the second buffer on.
func TestWideBLAKE3(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5*wideSize+3*1024+7)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var lengths []int
	for _, base := range []int{0, 1024, wideSize, 2 * wideSize, 3 * wideSize, 4 * wideSize, 5 * wideSize} {
		for d := -2; d <= 2; d++ {
			if n := base + d; n >= 0 {
				lengths = append(lengths, n)
			}
		}
	}
	lengths = append(lengths, 1, 63, 64, 65, 2048, 4*wideSize+3*1024, len(data))
	for _, n := range lengths {
		want := zeebo.Sum256(data[:n])
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if got := wideSum(data[:n], nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("whole: %x, want %x", got, want)
			}
			for range 20 {
				var cuts []int
				for rest := n; rest > 0 && rng.IntN(4) > 0; {
					c := rng.IntN(min(rest, 3*wideSize) + 1)
					cuts = append(cuts, c)
					rest -= c
				}
				if got := wideSum(data[:n], cuts); !bytes.Equal(got, want[:]) {
					t.Fatalf("written in pieces %v: %x, want %x", cuts, got, want)
				}
			}
		})
	}
}

// TestWideBLAKE3Vector checks the sum of the official test vector's
// input (bytes 0, 1, …, 250, 0, … repeated) against the sums of the
// BLAKE3 reference's test_vectors.json.
func TestWideBLAKE3Vector(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
		{1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
		{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
		{31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
		{102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
	} {
		in := make([]byte, tc.n)
		for i := range in {
			in[i] = byte(i % 251)
		}
		if got := fmt.Sprintf("%x", wideSum(in, nil)); got != tc.want {
			t.Errorf("%d bytes: %s, want %s", tc.n, got, tc.want)
		}
	}
}

// FuzzWideBLAKE3 compares wideBLAKE3 with github.com/zeebo/blake3 on any
// input, written in two pieces.
func FuzzWideBLAKE3(f *testing.F) {
	f.Add(bytes.Repeat([]byte{7}, wideSize+1), 100)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		cut = max(0, min(cut, len(data)))
		want := zeebo.Sum256(data)
		if got := wideSum(data, []int{cut}); !bytes.Equal(got, want[:]) {
			t.Fatalf("%x, want %x", got, want)
		}
	})
}
