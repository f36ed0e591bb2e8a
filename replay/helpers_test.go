package replay_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of a test on real time.
const waitTimeout = 10 * time.Second

// fakeClock is a replay.Clock that moves only when the test says so. Every
// timer it makes is also sent on created, so that a test can wait until
// the replay waits.
type fakeClock struct {
	base    time.Time // the time it starts at
	created chan *fakeTimer

	mu      sync.Mutex
	now     time.Time
	pending []*fakeTimer
}

func newFakeClock() *fakeClock {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &fakeClock{base: base, now: base, created: make(chan *fakeTimer, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) replay.Timer {
	c.mu.Lock()
	t := &fakeTimer{clk: c, when: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.pending = append(c.pending, t)
	}
	c.mu.Unlock()
	c.created <- t
	return t
}

// set moves the clock to base+at and fires the timers that are due.
func (c *fakeClock) set(at time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.base.Add(at)
	kept := c.pending[:0]
	for _, t := range c.pending {
		if t.when.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
	}
	c.pending = kept
}

// next returns the next timer made, failing the test if none is made.
func (c *fakeClock) next(t testing.TB) *fakeTimer {
	t.Helper()
	select {
	case tm := <-c.created:
		return tm
	case <-time.After(waitTimeout):
		t.Fatalf("no timer within %v", waitTimeout)
		return nil
	}
}

// advance waits for the next timer, checks that it is due at want after
// the clock's base, and moves the clock there.
func (c *fakeClock) advance(t testing.TB, want time.Duration) {
	t.Helper()
	tm := c.next(t)
	if got := tm.when.Sub(c.base); got != want {
		t.Fatalf("got a timer at %v, want %v", got, want)
	}
	c.set(want)
}

// noTimer checks that no timer was made.
func (c *fakeClock) noTimer(t testing.TB) {
	t.Helper()
	select {
	case tm := <-c.created:
		t.Fatalf("got a timer at %v, want none", tm.when.Sub(c.base))
	default:
	}
}

type fakeTimer struct {
	clk  *fakeClock
	when time.Time
	c    chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	for i, p := range t.clk.pending {
		if p == t {
			t.clk.pending = append(t.clk.pending[:i], t.clk.pending[i+1:]...)
			return true
		}
	}
	return false
}

// rec returns a message record.
func msg(at time.Duration, dir format.Direction, payload string) format.Record {
	return format.Record{Kind: format.KindMessage, Time: at, Dir: dir, Payload: []byte(payload)}
}

func toClient(at time.Duration, payload string) format.Record {
	return msg(at, format.TargetToClient, payload)
}

func fromClient(at time.Duration, payload string) format.Record {
	return msg(at, format.ClientToTarget, payload)
}

func marker(at time.Duration, label string) format.Record {
	return format.Record{Kind: format.KindMarker, Time: at, Label: label}
}

func closeRec(at time.Duration) format.Record {
	return format.Record{Kind: format.KindClose, Time: at, Close: format.CloseInfo{By: format.ClosedByClient, Code: 1000}}
}

// writeRecording writes a sealed wsrec recording of recs to dir/name and
// returns its path.
func writeRecording(t testing.TB, dir, name string, meta map[string]string, recs ...format.Record) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	rfbtest.WriteFile(t, path, format.Header{Meta: meta}, format.WriterOptions{}, recs)
	return path
}

// server is a replay.Server on 127.0.0.1:0 for one test.
type server struct {
	*replay.Server
	addr string
	log  *wstest.LogBuffer
}

// startServer serves paths; the server is closed when the test ends, and
// Serve must then have returned proxy.ErrServerClosed. Its log is in
// server.log, and in the test's log if the test fails.
func startServer(t testing.TB, paths []string, opts replay.ServerOptions) *server {
	t.Helper()
	logs := new(wstest.LogBuffer)
	if opts.Proxy.Logger == nil {
		opts.Proxy.Logger = logs.Logger()
	}
	srv, err := replay.NewServer(paths, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &server{Server: srv, addr: wstest.Start(t, srv, proxy.ErrServerClosed), log: logs}
}

// waitIdle waits until the server has no session.
func (s *server) waitIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for s.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after %v", s.Active(), waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// dial opens a WebSocket to the server at path (with its query), offering
// protocols. It is closed when the test ends.
func dial(t testing.TB, addr, path string, protocols ...string) *wstest.Conn {
	t.Helper()
	return wstest.Dial(t, "ws://"+addr+path, wstest.DialOptions{Protocols: protocols})
}
