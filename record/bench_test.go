package record_test

import (
	"log/slog"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/record"
)

// BenchmarkFrame measures what a proxied session pays per message for
// being recorded: Frame's copy into the queue, with the writing goroutine
// compressing to a real file behind it (on the second core).
func BenchmarkFrame(b *testing.B) {
	for _, size := range []int{64, 4 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			rec, err := record.New(record.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer rec.Close()
			s, err := rec.Start(header())
			if err != nil {
				b.Fatal(err)
			}
			p := make([]byte, size)
			rand.NewChaCha8([32]byte{}).Read(p)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Frame(format.TargetToClient, format.Binary, time.Duration(i), p); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(0, format.CloseInfo{}); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
