package screen

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRemember checks the history against the last historySize bytes of
// everything inflated, through appends of every size and resets.
func TestRemember(t *testing.T) {
	for _, tt := range []struct {
		name string
		max  int
	}{
		{"Small", 100},
		{"AboutHalf", historySize / 2},
		{"UpToWhole", historySize + 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.max)))
			var z zstream
			var all []byte
			for i := range 500 {
				if i%97 == 96 {
					z.reset()
					all = all[:0]
				}
				out := make([]byte, rng.IntN(tt.max))
				for j := range out {
					out[j] = byte(rng.Uint32())
				}
				z.remember(out)
				all = append(all, out...)
				want := all[max(0, len(all)-historySize):]
				if !bytes.Equal(z.hist, want) {
					t.Fatalf("step %d: history of %d bytes differs from the last %d bytes inflated", i, len(z.hist), len(want))
				}
			}
		})
	}
}
