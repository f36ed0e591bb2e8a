package record_test

import (
	"log/slog"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/record"
)

// TestIdleSessionMemory: a recorded session that sent a burst and then went
// quiet holds no queue and no chunk buffer once the flush interval has
// passed, so a server with thousands of mostly idle recorded sessions does
// not keep megabytes for each. Not parallel: it measures the heap.
func TestIdleSessionMemory(t *testing.T) {
	const (
		sessions = 40
		burst    = 1 << 20 // in 16 messages of 64 KiB
		flush    = 50 * time.Millisecond
	)
	r := newRecorder(t, record.Options{Dir: t.TempDir(), FlushInterval: flush, Logger: slog.New(slog.DiscardHandler)})
	p := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{}).Read(p) // incompressible: the compressed chunk is as big as the records

	heap := func() uint64 {
		runtime.GC() // twice: pooled queues survive one collection
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	start := func(id byte) *record.Session {
		h := header()
		h.SessionID = format.SessionID{id}
		s, err := r.Start(h)
		if err != nil {
			t.Fatal(err)
		}
		for j := range burst / len(p) {
			if err := s.Frame(format.TargetToClient, format.Binary, time.Duration(j)*time.Millisecond, p); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	// The Recorder's zstd encoders (their history windows) are shared by
	// all sessions: a first session allocates them before the count.
	if err := start(255).Close(0, format.CloseInfo{}); err != nil {
		t.Fatal(err)
	}
	before := heap()
	var open []*record.Session
	for i := range sessions {
		open = append(open, start(byte(i+1)))
	}
	time.Sleep(10 * flush) // every session's last chunk ended by the timer
	after := heap()
	t.Logf("before %d after %d", before, after)
	per := (int64(after) - int64(before)) / sessions
	t.Logf("%d idle recorded sessions after a %d-byte burst each: %d bytes of heap each", sessions, burst, per)
	if per > 64<<10 {
		t.Errorf("an idle recorded session holds %d bytes of heap, want at most 64 KiB", per)
	}
	for _, s := range open {
		if err := s.Close(0, format.CloseInfo{}); err != nil {
			t.Fatal(err)
		}
	}
}
