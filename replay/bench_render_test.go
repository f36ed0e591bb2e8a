package replay_test

import (
	"encoding/binary"
	"errors"
	"image"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/internal/cputime"
	"github.com/wsproxy/wsproxy/replay"
)

// benchViewers is the number of concurrent viewers of the benchmarks.
const benchViewers = 200

// BenchmarkViewers plays the RFB fixture at full speed to 200 concurrent
// viewers on loopback and reports the CPU time of the process and its
// peak heap in use, per viewer:
//
//   - render: render mode over TCP to clients that ask for ZRLE, keep
//     asking for an update every 10 ms as a viewer's frame loop does, and
//     discard what they read, so that the CPU is mostly the server's;
//     each must read to the end that the server closes.
//   - render-verify: render mode to Go viewers that decode every update
//     with the screen model (their decoding counts in the CPU) and must
//     end with the recording's last screen.
//   - bytes: byte-faithful mode, WebSocket clients reading every message
//     to the close.
//
// Any client's error fails the benchmark.
//
//	go test -run '^$' -bench BenchmarkViewers -benchtime 3x ./replay
func BenchmarkViewers(b *testing.B) {
	for _, mode := range []string{"render", "render-verify", "bytes"} {
		b.Run(mode, func(b *testing.B) {
			var heap uint64
			var cpu time.Duration
			for range b.N {
				r := runViewers(b, mode, benchViewers)
				cpu += r.cpu
				heap = max(heap, r.peakHeap)
			}
			b.ReportMetric(float64(heap)/benchViewers/1024, "peak-heap-KiB/viewer")
			b.ReportMetric(float64(cpu)/float64(b.N)/benchViewers/1e6, "cpu-ms/viewer")
		})
	}
}

// TestRenderManyViewers plays the RFB fixture at full speed in render
// mode to 200 concurrent viewers that discard what they read, and 20
// that decode it and must end with its last screen: none may fail. The
// race detector makes the server some 20 times slower, which two shared
// cores cannot give 200 viewers within their handshake's timeout: it
// gets 50.
func TestRenderManyViewers(t *testing.T) {
	if testing.Short() {
		t.Skip("200 viewers")
	}
	many := map[bool]int{false: benchViewers, true: 50}[raceEnabled]
	for _, tc := range []struct {
		mode    string
		viewers int
	}{{"render", many}, {"render-verify", 20}} {
		t.Run(tc.mode, func(t *testing.T) {
			r := runViewers(t, tc.mode, tc.viewers)
			t.Logf("%d viewers: %.2f ms CPU and %d KiB peak heap per viewer",
				tc.viewers, float64(r.cpu)/float64(tc.viewers)/1e6, r.peakHeap/uint64(tc.viewers)>>10)
		})
	}
}

// viewersResult is what runViewers measured.
type viewersResult struct {
	cpu      time.Duration // of the process
	peakHeap uint64        // HeapInuse, sampled every 20 ms
}

// runViewers plays the RFB fixture at full speed to n concurrent
// clients of mode (see BenchmarkViewers) and fails tb if any fails.
func runViewers(tb testing.TB, mode string, n int) viewersResult {
	tb.Helper()
	want := screenAt(tb, rfbFixture, -1)
	size := want.Rect.Size()
	opts := replay.Options{Speed: replay.SpeedMax, Mode: replay.ModeRender}
	switch mode {
	case "render-verify":
		opts.End = replay.EndHold
	case "bytes":
		opts.Mode = replay.ModeBytes
	}
	srv := startServer(tb, []string{rfbFixture}, replay.ServerOptions{Playback: opts})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var peak uint64
	var errs []error
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	addr := ""
	if mode != "bytes" {
		addr = serveRFB(tb, srv.Server)
	}
	runtime.GC()
	began := cputime.Self()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch mode {
			case "render":
				v := handshakeViewer(tb, dialRFB(tb, addr), "", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
				if err := discardUpdates(v.conn, size); err != nil {
					fail(err)
				}
			case "render-verify":
				v := startViewer(tb, dialRFB(tb, addr), "", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
				v.request(tb, false, size)
				v.waitScreen(tb, want)
				v.conn.Close()
			case "bytes":
				c := dial(tb, srv.addr, "/")
				if _, err := io.Copy(io.Discard, c); err != nil {
					fail(err)
				}
			}
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
	r := viewersResult{cpu: cputime.Self() - began, peakHeap: peak}
	srv.Close()
	if len(errs) > 0 {
		tb.Fatalf("%d of %d viewers failed, the first with %v", len(errs), n, errs[0])
	}
	return r
}

// discardUpdates asks for a whole-screen update, then for an incremental
// one every 10 ms, and reads and discards what comes until the server
// closes the connection, which must happen within waitTimeout.
func discardUpdates(conn net.Conn, size image.Point) error {
	req := func(incremental byte) []byte {
		return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16([]byte{3, incremental, 0, 0, 0, 0}, uint16(size.X)), uint16(size.Y))
	}
	if _, err := conn.Write(req(0)); err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if _, err := conn.Write(req(1)); err != nil {
					return
				}
			case <-stop:
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	_, err := io.Copy(io.Discard, conn)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
