package format_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	zeebo "github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
	lukechampine "lukechampine.com/blake3"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/websockify"
)

const vncFixture = "websockify-vnc-session.txt"

// vncFrames returns the frames of the real VNC session websockify recorded.
func vncFrames(tb testing.TB) []websockify.Frame {
	tb.Helper()
	f, err := os.Open(filepath.Join(fixtures, vncFixture))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var frames []websockify.Frame
	r := websockify.NewReader(f, websockify.ReaderOptions{})
	for {
		fr, err := r.Next()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, fr)
	}
}

func dirOf(fr websockify.Frame) format.Direction {
	if fr.FromClient {
		return format.ClientToTarget
	}
	return format.TargetToClient
}

// TestSizeAgainstWebsockify checks the size target: a recording of a real
// VNC session takes at most 0.4 times the size of websockify's file.
func TestSizeAgainstWebsockify(t *testing.T) {
	t.Parallel()
	frames := vncFrames(t)
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, testHeader(), format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if err := w.WriteMessage(max(fr.Time, 0), dirOf(fr), format.Binary, fr.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(fixtures, vncFixture))
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(buf.Len()) / float64(fi.Size())
	t.Logf("wsrec %d bytes, websockify %d bytes: ratio %.3f", buf.Len(), fi.Size(), ratio)
	if ratio > 0.4 {
		t.Fatalf("wsrec is %.3f× websockify's file, want ≤ 0.4", ratio)
	}
}

// payloadSets are the inputs of the throughput benchmarks.
func payloadSets(b *testing.B) map[string][][]byte {
	var vnc [][]byte
	for _, fr := range vncFrames(b) {
		vnc = append(vnc, fr.Data)
	}
	rng := rand.NewChaCha8([32]byte{1})
	random := make([][]byte, 64)
	for i := range random {
		random[i] = make([]byte, 512+i*256) // 512 B to 16.6 KiB
		rng.Read(random[i])
	}
	// The proxy bench's t2c payloads (examples/bench, -payload): 256 KiB
	// reads of "wsproxy " repeated, and of 32 MiB of random bytes.
	text := [][]byte{bytes.Repeat([]byte("wsproxy "), 32<<10)}
	big := make([][]byte, 128)
	for i := range big {
		big[i] = make([]byte, 256<<10)
		rng.Read(big[i])
	}
	return map[string][][]byte{"VNC": vnc, "Random": random, "Text-256KiB": text, "Random-256KiB": big}
}

// BenchmarkWriter measures payload bytes per second written, on one
// goroutine at the default level, for each format version and encrypted.
// Allocations are per record. The Writer writes to io.Discard: its rate
// on the 256 KiB sets bounds what a recording proxy can cost less than,
// before the file system's share.
func BenchmarkWriter(b *testing.B) {
	versions := []struct {
		name string
		opts format.WriterOptions
	}{
		{"v1", format.WriterOptions{Version: 1}},
		{"v2", format.WriterOptions{}},
		{"v2-encrypted", format.WriterOptions{Recipients: recipients(b, testRecipient1)}},
	}
	for name, set := range payloadSets(b) {
		for _, v := range versions {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				var total int
				for _, p := range set {
					total += len(p)
				}
				b.SetBytes(int64(total / len(set)))
				opts := v.opts
				opts.FlushInterval = -1
				w, err := format.NewWriter(io.Discard, testHeader(), opts)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := w.WriteMessage(time.Duration(i), format.TargetToClient, format.Binary, set[i%len(set)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkHash measures the chain's hash candidates on one chunk:
// SHA-256 (version 1) and BLAKE3 (version 2's default) in the two Go
// implementations considered, and wideBLAKE3 (lukechampine's AVX-512
// kernel on one goroutine), used on CPUs with AVX-512. Run it with -cpu 1: lukechampine.com/blake3
// hashes large inputs on several goroutines, and what counts for a proxy
// is CPU time per byte.
func BenchmarkHash(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{}).Read(data)
		for _, h := range []struct {
			name string
			new  func() hash.Hash
		}{
			{"SHA-256", sha256.New},
			{"zeebo-BLAKE3", func() hash.Hash { return zeebo.New() }},
			{"lukechampine-BLAKE3", func() hash.Hash { return lukechampine.New(32, nil) }},
			{"wide-BLAKE3", func() hash.Hash { return format.NewWideBLAKE3() }},
		} {
			b.Run(fmt.Sprintf("%s/%dKiB", h.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				hh := h.new()
				var sum [64]byte
				for b.Loop() {
					hh.Reset()
					hh.Write(data)
					hh.Sum(sum[:0])
				}
			})
		}
	}
}

// BenchmarkAEAD measures the chunk cipher candidates on one chunk.
func BenchmarkAEAD(b *testing.B) {
	key := make([]byte, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	chacha, err := chacha20poly1305.New(key)
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{64 << 10, 1 << 20} {
		data := make([]byte, size, size+16)
		nonce := make([]byte, 12)
		for _, a := range []struct {
			name string
			aead cipher.AEAD
		}{{"AES-256-GCM", gcm}, {"ChaCha20-Poly1305", chacha}} {
			b.Run(fmt.Sprintf("%s/%dKiB", a.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					a.aead.Seal(data[:0], nonce, data, nil)
				}
			})
		}
	}
}

// BenchmarkReader measures payload bytes per second read back.
func BenchmarkReader(b *testing.B) {
	for name, set := range payloadSets(b) {
		b.Run(name, func(b *testing.B) {
			// A recording of about 64 MiB of payload, read round and round.
			var buf bytes.Buffer
			w, err := format.NewWriter(&buf, testHeader(), format.WriterOptions{FlushInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			var total int64
			n := 0
			for ; total < 64<<20; n++ {
				p := set[n%len(set)]
				total += int64(len(p))
				if err := w.WriteMessage(time.Duration(n), format.TargetToClient, format.Binary, p); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			data := buf.Bytes()
			b.SetBytes(total / int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			var r *format.Reader
			for i := 0; i < b.N; i++ {
				if i%n == 0 {
					if r != nil {
						r.Close()
					}
					if r, err = format.NewReader(bytes.NewReader(data), int64(len(data)), format.ReaderOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
		})
	}
}
