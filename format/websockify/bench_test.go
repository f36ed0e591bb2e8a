package websockify

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// benchPayloads are the two ends of what a recording holds: RFB framebuffer
// data, mostly bytes that need escaping (random bytes: three in four), and
// text that needs none.
func benchPayloads() map[string][]byte {
	rng := rand.New(rand.NewPCG(7, 8))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"Random64KiB": random,
		"Text64KiB":   bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), 2<<10),
	}
}

func BenchmarkWriter(b *testing.B) {
	for name, data := range benchPayloads() {
		b.Run(name, func(b *testing.B) {
			w := NewWriter(io.Discard)
			f := Frame{Data: data}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := w.Write(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReader(b *testing.B) {
	for name, data := range benchPayloads() {
		b.Run(name, func(b *testing.B) {
			const frames = 64
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for range frames {
				if err := w.Write(Frame{Data: data}); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			file := buf.Bytes()
			b.SetBytes(int64(frames * len(data)))
			for b.Loop() {
				r := NewReader(bytes.NewReader(file), ReaderOptions{})
				for {
					if _, err := r.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
			}
		})
	}
}
