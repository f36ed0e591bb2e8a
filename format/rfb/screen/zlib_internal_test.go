package screen

import (
	"bytes"
	"compress/zlib"
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

// TestInflateLive inflates a stream flushed after every rectangle, as VNC
// servers do, with one zstream, which keeps its inflater across
// rectangles, and checks every rectangle's output, that the inflater was
// kept, and that a zstream preset with the history at any point (as a
// keyframe resumes) inflates the rest alike.
func TestInflateLive(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	var stream bytes.Buffer
	zw := zlib.NewWriter(&stream)
	var rects, datas [][]byte
	text := []byte("drwxr-xr-x 2 root root 4096 Dec  5 12:01 share\n")
	for i := range 300 {
		var out []byte
		switch n := rng.IntN(3000); {
		case i%50 == 49: // nothing: the flush alone
		case i%40 == 39: // more than the window, incompressible
			out = make([]byte, historySize+1000)
			for j := range out {
				out[j] = byte(rng.Uint32())
			}
		default: // text, with back-references into earlier rectangles
			for len(out) < n {
				out = append(out, text[:rng.IntN(len(text))]...)
			}
		}
		from := stream.Len()
		zw.Write(out)
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
		rects = append(rects, out)
		datas = append(datas, bytes.Clone(stream.Bytes()[from:]))
	}
	var z zstream
	live := 0
	for i, d := range datas {
		if i == 150 { // resume from a keyframe's history here
			var k zstream
			k.started = true
			k.remember(z.hist)
			for j := i; j < len(datas); j++ {
				got, err := k.inflate(datas[j], 1<<20)
				if err != nil || !bytes.Equal(got, rects[j]) {
					t.Fatalf("resumed at %d: rectangle %d: %d bytes, %v; want %d bytes", i, j, len(got), err, len(rects[j]))
				}
			}
		}
		got, err := z.inflate(d, 1<<20)
		if err != nil || !bytes.Equal(got, rects[i]) {
			t.Fatalf("rectangle %d: %d bytes, %v; want %d bytes", i, len(got), err, len(rects[i]))
		}
		if z.live {
			live++
		}
	}
	if live < len(datas)*9/10 {
		t.Errorf("the inflater was kept after %d of %d rectangles, want nearly all", live, len(datas))
	}
}
