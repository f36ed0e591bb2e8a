package record_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/cputime"
	"github.com/wsproxy/wsproxy/record"
)

// BenchmarkFrame measures what a proxied session pays per message for
// being recorded: Frame's copy into the queue, with the writing goroutine
// compressing to a real file behind it (on the second core); when the
// writer is the slower, the queue is full and Frame runs at its pace. The
// payloads are random bytes (incompressible, the worst case) and
// screen-like bytes (runs of a colour with noise between them, which zstd
// compresses about 3:1, less than real VNC traffic), at zstd's fastest and
// default levels. The ratio reported is the file's size over the payload
// bytes.
func BenchmarkFrame(b *testing.B) {
	levels := []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault}
	for _, kind := range []string{"random", "screen"} {
		for _, level := range levels {
			for _, size := range []int{64, 4 << 10, 64 << 10} {
				name := fmt.Sprintf("%s/%s/%s", kind, level, byteSize(size))
				b.Run(name, func(b *testing.B) { benchFrame(b, kind, level, size) })
			}
		}
	}
}

func benchFrame(b *testing.B, kind string, level zstd.EncoderLevel, size int) {
	dir := b.TempDir()
	rec, err := record.New(record.Options{Dir: dir, Level: level, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	s, err := rec.Start(header())
	if err != nil {
		b.Fatal(err)
	}
	// 16 MiB of distinct payloads, more than zstd's window at any of these
	// levels, so that it cannot match whole messages against earlier ones.
	rng := rand.New(rand.NewChaCha8([32]byte{}))
	payloads := make([][]byte, 16<<20/size)
	for i := range payloads {
		payloads[i] = make([]byte, size)
		switch kind {
		case "random":
			for j := range payloads[i] {
				payloads[i][j] = byte(rng.Uint32())
			}
		case "screen":
			screenLike(rng, payloads[i])
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Frame(format.TargetToClient, format.Binary, time.Duration(i), payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(0, format.CloseInfo{}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var written int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			written += fi.Size()
		}
	}
	b.ReportMetric(float64(written)/float64(int64(b.N)*int64(size)), "file/payload")
}

// screenLike fills p with runs of 4-byte pixels of one colour, 8 to 200
// pixels long, with a few random pixels between runs.
func screenLike(rng *rand.Rand, p []byte) {
	for i := 0; i < len(p); {
		colour := rng.Uint32() & 0x00f0f0f0
		for n := 8 + rng.IntN(192); n > 0 && i+4 <= len(p); n-- {
			p[i], p[i+1], p[i+2], p[i+3] = byte(colour), byte(colour>>8), byte(colour>>16), 0
			i += 4
		}
		for n := rng.IntN(12); n > 0 && i < len(p); n-- {
			p[i] = byte(rng.Uint32())
			i++
		}
		if i+4 > len(p) {
			for ; i < len(p); i++ {
				p[i] = 0
			}
		}
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkSession measures what recording costs a short session: Start
// (file created, header written), one small message each way, Close
// (trailer written, file synced and closed), one session at a time.
func BenchmarkSession(b *testing.B) {
	rec, err := record.New(record.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	msg := []byte("RFB 003.008\n")
	b.ReportAllocs()
	for b.Loop() {
		s, err := rec.Start(format.Header{Meta: map[string]string{format.MetaClient: "127.0.0.1:1"}})
		if err != nil {
			b.Fatal(err)
		}
		s.Frame(format.TargetToClient, format.Binary, 1, msg)
		s.Frame(format.ClientToTarget, format.Binary, 2, msg)
		if err := s.Close(3, format.CloseInfo{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart measures what starting a recording costs the proxy's
// accept path: Start alone, the sessions closed after the timer.
func BenchmarkStart(b *testing.B) {
	rec, err := record.New(record.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	var open []*record.Session
	b.ReportAllocs()
	for b.Loop() {
		s, err := rec.Start(format.Header{Meta: map[string]string{format.MetaClient: "127.0.0.1:1"}})
		if err != nil {
			b.Fatal(err)
		}
		open = append(open, s)
	}
	b.StopTimer()
	for _, s := range open {
		if err := s.Close(0, format.CloseInfo{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionsTogether measures the CPU time, of all the process's
// threads, that recording costs short sessions that run and end together,
// as under a load balancer's burst: 8 at a time, each as in
// BenchmarkSession, the files synced by the Recorder's sync goroutine
// (Close waits for it). cpu-µs/op is that time per session. Guarded syncs
// each batch's file system once through the syncGuard and fsyncs no file;
// Fsync also fsyncs each file, as where no guard vouches for the file
// system.
func BenchmarkSessionsTogether(b *testing.B) {
	for _, guarded := range []bool{true, false} {
		name := "Guarded"
		if !guarded {
			name = "Fsync"
		}
		b.Run(name, func(b *testing.B) {
			rec, err := record.New(record.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if !guarded {
				record.NoSyncGuard(rec)
			}
			msg := []byte("RFB 003.008\n")
			start := cputime.Self()
			b.SetParallelism(4) // 8 goroutines on 2 CPUs
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s, err := rec.Start(format.Header{Meta: map[string]string{format.MetaClient: "127.0.0.1:1"}})
					if err != nil {
						b.Error(err)
						return
					}
					s.Frame(format.TargetToClient, format.Binary, 1, msg)
					s.Frame(format.ClientToTarget, format.Binary, 2, msg)
					if err := s.Close(3, format.CloseInfo{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := rec.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64((cputime.Self()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
