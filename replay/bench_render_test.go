package replay_test

import (
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/replay"
)

// benchViewers is the number of concurrent viewers of the benchmarks.
const benchViewers = 200

// BenchmarkViewers plays the RFB fixture at full speed to 200 concurrent
// viewers on loopback, in render mode (Go RFB viewers decoding ZRLE
// through TCP) and in byte-faithful mode (WebSocket clients reading every
// message), and reports the CPU time and the heap in use per viewer.
//
//	go test -run '^$' -bench BenchmarkViewers -benchtime 3x ./replay
func BenchmarkViewers(b *testing.B) {
	want := screenAt(b, rfbFixture, -1)
	for _, mode := range []string{"render", "bytes"} {
		b.Run(mode, func(b *testing.B) {
			var heap uint64
			for range b.N {
				opts := replay.Options{Speed: replay.SpeedMax, End: replay.EndHold, Mode: replay.ModeRender}
				if mode == "bytes" {
					opts = replay.Options{Speed: replay.SpeedMax, Mode: replay.ModeBytes}
				}
				srv := startServer(b, []string{rfbFixture}, replay.ServerOptions{Playback: opts})
				var wg sync.WaitGroup
				var mu sync.Mutex
				var peak uint64
				sample := func() {
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					mu.Lock()
					peak = max(peak, ms.HeapInuse)
					mu.Unlock()
				}
				addr := ""
				if mode == "render" {
					addr = serveRFB(b, srv.Server)
				}
				for range benchViewers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if mode == "render" {
							v := startViewer(b, dialRFB(b, addr), "", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
							v.request(b, false, want.Rect.Size())
							v.waitScreen(b, want)
							v.conn.Close()
							return
						}
						c := dial(b, srv.addr, "/")
						io.Copy(io.Discard, c)
					}()
				}
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				for waiting := true; waiting; {
					select {
					case <-done:
						waiting = false
					case <-time.After(20 * time.Millisecond):
						sample()
					}
				}
				heap = max(heap, peak)
				srv.Close()
			}
			b.ReportMetric(float64(heap)/benchViewers/1024, "peak-heap-KiB/viewer")
		})
	}
}
