package replay_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/replay"
)

const ms = time.Millisecond

// step is one wait of a replay under a fake clock: a timer due at at after
// the replay started, then the message it releases ("" for a record that
// sends nothing, such as a marker).
type step struct {
	at  time.Duration
	msg string
}

// play checks a replay step by step: first the messages sent at once, then
// each timer and what it releases, then the close code (0: none expected).
func play(t *testing.T, clk *fakeClock, c *wstest.Conn, atOnce []string, steps []step) {
	t.Helper()
	for _, m := range atOnce {
		c.Expect(t, m)
	}
	for _, s := range steps {
		clk.advance(t, s.at)
		if s.msg != "" {
			c.Expect(t, s.msg)
		}
	}
}

// basic is a recording with every kind of record.
func basic() []format.Record {
	return []format.Record{
		{Kind: format.KindOpen},
		toClient(0, "a"),
		fromClient(50*ms, "x"),
		toClient(100*ms, "b"),
		marker(200*ms, "half way"),
		toClient(300*ms, "c"),
		toClient(time.Second, "d"),
		closeRec(1200 * ms),
	}
}

func TestSpeed(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "basic.wsrec", nil, basic()...)
	tests := []struct {
		name  string
		query string
		steps []step
	}{
		{name: "1x", query: "", steps: []step{{100 * ms, "b"}, {200 * ms, ""}, {300 * ms, "c"}, {time.Second, "d"}, {1200 * ms, ""}}},
		{name: "2x", query: "?speed=2", steps: []step{{50 * ms, "b"}, {100 * ms, ""}, {150 * ms, "c"}, {500 * ms, "d"}, {600 * ms, ""}}},
		{name: "0.5x", query: "?speed=0.5x", steps: []step{{200 * ms, "b"}, {400 * ms, ""}, {600 * ms, "c"}, {2 * time.Second, "d"}, {2400 * ms, ""}}},
		{name: "10x", query: "?speed=10", steps: []step{{10 * ms, "b"}, {20 * ms, ""}, {30 * ms, "c"}, {100 * ms, "d"}, {120 * ms, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
			c := dial(t, srv.addr, "/"+tt.query)
			// The open record and "a" are at 0: due at once.
			play(t, clk, c, []string{"a"}, tt.steps)
			c.ExpectClose(t, ws.StatusNormalClosure)
			clk.noTimer(t)
			srv.log.WaitFor(t, `label="half way" at=200ms`)
		})
	}
}

func TestSpeedMax(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "basic.wsrec", nil, basic()...)
	clk := newFakeClock()
	srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk, Playback: replay.Options{Speed: replay.SpeedMax}})
	c := dial(t, srv.addr, "/")
	for _, m := range []string{"a", "b", "c", "d"} {
		c.Expect(t, m)
	}
	f := c.ExpectClose(t, ws.StatusNormalClosure)
	if f.Reason != "Target closed" {
		t.Errorf("got close reason %q, want %q", f.Reason, "Target closed")
	}
	clk.noTimer(t)
}

func TestIdleLimit(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "idle.wsrec", nil,
		toClient(0, "a"),
		toClient(100*ms, "b"),
		fromClient(5*time.Second, "typed"), // not played: does not split the gap
		toClient(10*time.Second, "c"),
		toClient(10500*ms, "d"),
		marker(30*time.Second, "end"),
	)
	tests := []struct {
		name  string
		query string
		steps []step
	}{
		{name: "2s", query: "?idle-limit=2", steps: []step{{100 * ms, "b"}, {2100 * ms, "c"}, {2600 * ms, "d"}, {4600 * ms, ""}}},
		{name: "500ms", query: "?idle-limit=500ms", steps: []step{{100 * ms, "b"}, {600 * ms, "c"}, {1100 * ms, "d"}, {1600 * ms, ""}}},
		// The cap is in recording time, then the speed divides.
		{name: "2sAt2x", query: "?idle-limit=2s&speed=2", steps: []step{{50 * ms, "b"}, {1050 * ms, "c"}, {1300 * ms, "d"}, {2300 * ms, ""}}},
		{name: "None", query: "", steps: []step{{100 * ms, "b"}, {10 * time.Second, "c"}, {10500 * ms, "d"}, {30 * time.Second, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
			c := dial(t, srv.addr, "/"+tt.query)
			play(t, clk, c, []string{"a"}, tt.steps)
			c.ExpectClose(t, ws.StatusNormalClosure)
		})
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "start.wsrec", nil,
		toClient(0, "a"),
		toClient(time.Second, "b"),
		marker(2*time.Second, "skipped over"),
		toClient(5*time.Second, "c"),
		toClient(6*time.Second, "d"),
		closeRec(7*time.Second),
	)
	tests := []struct {
		name   string
		query  string
		atOnce []string
		steps  []step
	}{
		{name: "Middle", query: "?start=4s", atOnce: []string{"a", "b"}, steps: []step{{time.Second, "c"}, {2 * time.Second, "d"}, {3 * time.Second, ""}}},
		{name: "At2x", query: "?start=4s&speed=2", atOnce: []string{"a", "b"}, steps: []step{{500 * ms, "c"}, {time.Second, "d"}, {1500 * ms, ""}}},
		{name: "PastTheEnd", query: "?start=1h", atOnce: []string{"a", "b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
			c := dial(t, srv.addr, "/"+tt.query)
			play(t, clk, c, tt.atOnce, tt.steps)
			c.ExpectClose(t, ws.StatusNormalClosure)
			clk.noTimer(t)
		})
	}
	t.Run("OnARecord", func(t *testing.T) {
		t.Parallel()
		// "c" at 5s is the first played record: due at once.
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
		c := dial(t, srv.addr, "/?start=5s")
		play(t, clk, c, []string{"a", "b", "c"}, []step{{time.Second, "d"}, {2 * time.Second, ""}})
		c.ExpectClose(t, ws.StatusNormalClosure)
	})
}

func TestLoop(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "loop.wsrec", nil,
		toClient(0, "a"),
		toClient(time.Second, "b"),
		closeRec(1500*ms),
	)
	clk := newFakeClock()
	srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
	c := dial(t, srv.addr, "/?loop=1")
	c.Expect(t, "a")
	for pass := range 3 {
		base := time.Duration(pass) * 1500 * ms
		clk.advance(t, base+time.Second)
		c.Expect(t, "b")
		clk.advance(t, base+1500*ms) // the recorded end
		c.Expect(t, "a")             // at once: the next pass
	}
	c.CloseWith(t, ws.StatusNormalClosure)
	c.ExpectClose(t, ws.StatusNormalClosure)
	srv.waitIdle(t)

	t.Run("NothingToSend", func(t *testing.T) {
		// A recording without a message to the client ends, looping or not.
		path := writeRecording(t, t.TempDir(), "quiet.wsrec", nil, fromClient(0, "typed"), marker(time.Second, "m"))
		srv := startServer(t, []string{path}, replay.ServerOptions{Playback: replay.Options{Loop: true, Speed: replay.SpeedMax}})
		c := dial(t, srv.addr, "/")
		c.ExpectClose(t, ws.StatusNormalClosure)
	})

	t.Run("WithStart", func(t *testing.T) {
		// Every pass sends what is before Start at once again.
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk, Playback: replay.Options{Loop: true, Start: time.Second}})
		c := dial(t, srv.addr, "/")
		for pass := range 3 {
			c.Expect(t, "a")
			c.Expect(t, "b")
			clk.advance(t, time.Duration(pass+1)*500*ms)
		}
	})
}

func TestEnd(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "end.wsrec", nil, toClient(0, "a"), toClient(10*ms, "b"))
	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
		c := dial(t, srv.addr, "/?end=close")
		play(t, clk, c, []string{"a"}, []step{{10 * ms, "b"}})
		c.ExpectClose(t, ws.StatusNormalClosure)
	})
	t.Run("Hold", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
		c := dial(t, srv.addr, "/?end=hold")
		play(t, clk, c, []string{"a"}, []step{{10 * ms, "b"}})
		srv.log.WaitFor(t, "holding the connection open")
		c.Send(t, "still there") // read and discarded
		c.ExpectSilence(t, 100*ms)
		clk.noTimer(t)
		if n := srv.Active(); n != 1 {
			t.Fatalf("got %d sessions, want 1", n)
		}
		c.CloseWith(t, ws.StatusNormalClosure)
		c.ExpectClose(t, ws.StatusNormalClosure)
		srv.waitIdle(t)
	})
	t.Run("HoldShutdown", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk, Playback: replay.Options{End: replay.EndHold, Speed: replay.SpeedMax}})
		c := dial(t, srv.addr, "/")
		c.Expect(t, "a")
		c.Expect(t, "b")
		srv.log.WaitFor(t, "holding the connection open")
		go srv.Close()
		c.ExpectClose(t, ws.StatusGoingAway)
	})
}

// TestEndSlowClient plays byte-mode recordings of 96 to 384 KiB at full
// speed to clients that read nothing until the proxy's CloseTimeout has
// long passed, then checks that each gets every message and the close
// frame with 1000. Such a replay ends with up to ClientMaxUnsent (64 KiB,
// the Server's default) unsent in the kernel behind the client's full
// receive window: the close frame had to wait there for the client, and
// when the client took longer than CloseTimeout it was dropped without a
// word in the log, and the client read EOF after the last message
// (TestScale under load, about 1 client in 1,000). Whether the frame had
// to wait depends on how the bytes fell into the kernel's segments, so
// the sizes go in steps of 4 KiB.
func TestEndSlowClient(t *testing.T) {
	t.Parallel()
	const (
		size         = 4 << 10
		closeTimeout = 500 * ms
	)
	dir := t.TempDir()
	var names []string
	for n := 24; n <= 96; n++ {
		recs := make([]format.Record, n)
		for i := range recs {
			recs[i] = toClient(0, strings.Repeat(string(rune('a'+i%26)), size))
		}
		names = append(names, fmt.Sprintf("r%03d.wsrec", n))
		writeRecording(t, dir, names[len(names)-1], nil, recs...)
	}
	srv := startServer(t, []string{dir}, replay.ServerOptions{
		Proxy:    proxy.ServerOptions{CloseTimeout: closeTimeout},
		Playback: replay.Options{Speed: replay.SpeedMax, Mode: replay.ModeBytes},
	})
	conns := make([]*wstest.Conn, len(names))
	for i, name := range names {
		conns[i] = dial(t, srv.addr, "/"+name)
	}
	// The clients are slow: every replay that fits the kernel's buffers
	// is over, and its close frame written or given up, before they read.
	time.Sleep(4 * closeTimeout)
	for i, c := range conns {
		n, _, err := readN(c, 24+i)
		switch {
		case err != nil:
			t.Errorf("%s: after %d bytes: %v", names[i], n, err)
		case n != (24+i)*size:
			t.Errorf("%s: got %d bytes, want %d", names[i], n, (24+i)*size)
		default:
			if err := expectCloseFrame(c); err != nil {
				t.Errorf("%s: after every message: %v", names[i], err)
			}
		}
	}
	srv.waitIdle(t)
	if log := srv.log.String(); strings.Contains(log, "close frame not sent") {
		t.Errorf("a close frame was given up:\n%s", log)
	}
}

// handshake is the start of an RFB session: the server's version, the
// client's, the security types, the client's choice, then updates.
func handshake() []format.Record {
	return []format.Record{
		toClient(0, "RFB 003.008\n"),
		fromClient(10*ms, "RFB 003.008\n"),
		toClient(20*ms, "\x01\x01"),
		fromClient(30*ms, "\x01"),
		toClient(40*ms, "ok"),
		toClient(100*ms, "update"),
	}
}

func TestPaceClient(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "rfb.wsrec", nil, handshake()...)

	t.Run("Waits", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
		c := dial(t, srv.addr, "/?pace=client&pace-timeout=1s")
		c.Expect(t, "RFB 003.008\n")
		clk.advance(t, 20*ms)
		// The security types wait for the client's 12 bytes, up to the
		// pace timeout...
		if tm := clk.next(t); tm.when.Sub(clk.base) != 20*ms+time.Second {
			t.Fatalf("got a pace timeout at %v, want %v", tm.when.Sub(clk.base), 20*ms+time.Second)
		}
		clk.set(25 * ms) // ...which the client beats by 5 ms.
		c.ExpectSilence(t, 50*ms)
		c.Send(t, "RFB 003.008\n")
		c.Expect(t, "\x01\x01")
		// The schedule moved on by the 5 ms waited.
		clk.advance(t, 45*ms)
		clk.next(t) // "ok" waits for the client's byte
		c.Send(t, "\x01")
		c.Expect(t, "ok")
		clk.advance(t, 105*ms)
		c.Expect(t, "update")
		c.ExpectClose(t, ws.StatusNormalClosure)
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk, Playback: replay.Options{Pace: replay.PaceClient, PaceTimeout: time.Second}})
		c := dial(t, srv.addr, "/")
		c.Expect(t, "RFB 003.008\n")
		clk.advance(t, 20*ms)
		c.Send(t, "RFB 00") // 6 of the 12 bytes
		if tm := clk.next(t); tm.when.Sub(clk.base) != 20*ms+time.Second {
			t.Fatalf("got a pace timeout at %v, want %v", tm.when.Sub(clk.base), 20*ms+time.Second)
		}
		srv.log.WaitForN(t, "client message discarded", 1, wstest.Timeout)
		c.ExpectSilence(t, 50*ms)
		clk.set(20*ms + time.Second)
		c.Expect(t, "\x01\x01")
		srv.log.WaitFor(t, "client behind the recording: playing on")
		srv.log.WaitFor(t, "sent=6 expected=12")
		// The 6 bytes missing are forgiven: one more byte is enough for
		// "ok", due 1 s later than recorded.
		clk.advance(t, 40*ms+time.Second)
		clk.next(t) // "ok" waits for the client's byte
		c.Send(t, "X")
		c.Expect(t, "ok")
		clk.advance(t, 100*ms+time.Second)
		c.Expect(t, "update")
		c.ExpectClose(t, ws.StatusNormalClosure)
	})

	t.Run("ClientAhead", func(t *testing.T) {
		t.Parallel()
		// A client that has sent enough bytes does not wait: the timers
		// are those of the recorded times alone.
		clk := newFakeClock()
		srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk, Playback: replay.Options{Pace: replay.PaceClient}})
		c := dial(t, srv.addr, "/")
		c.Expect(t, "RFB 003.008\n")
		c.Send(t, strings.Repeat("x", 13))
		srv.log.WaitForN(t, "client message discarded", 1, wstest.Timeout)
		play(t, clk, c, nil, []step{{20 * ms, "\x01\x01"}, {40 * ms, "ok"}, {100 * ms, "update"}})
		c.ExpectClose(t, ws.StatusNormalClosure)
		clk.noTimer(t)
	})
}

func TestBase64(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "rfb.wsrec", nil, handshake()...)
	clk := newFakeClock()
	srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk, Playback: replay.Options{Pace: replay.PaceClient}})
	c := dial(t, srv.addr, "/", "base64")
	if c.Protocol != "base64" {
		t.Fatalf("got subprotocol %q, want base64", c.Protocol)
	}
	c.Expect(t, "RFB 003.008\n")
	// The client's base64 messages count decoded, as the original
	// client's were recorded: 12 bytes, then 1.
	c.Send(t, "RFB 003.008\n")
	srv.log.WaitForN(t, "client message discarded", 1, wstest.Timeout)
	clk.advance(t, 20*ms)
	c.Expect(t, "\x01\x01")
	c.Send(t, "\x01")
	srv.log.WaitForN(t, "client message discarded", 2, wstest.Timeout)
	clk.advance(t, 40*ms)
	c.Expect(t, "ok")
	clk.advance(t, 100*ms)
	c.Expect(t, "update")
	c.ExpectClose(t, ws.StatusNormalClosure)
}

// TestLargeMessage checks how a message larger than the proxy's read
// buffer (256 KiB) leaves: as consecutive messages that add up to it,
// sent together. Recordings by wsproxy and websockify never hold one.
func TestLargeMessage(t *testing.T) {
	t.Parallel()
	big := make([]byte, 600<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	path := writeRecording(t, t.TempDir(), "big.wsrec", nil,
		toClient(0, "small"),
		toClient(10*ms, string(big)),
		toClient(20*ms, "after"),
	)
	clk := newFakeClock()
	srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
	c := dial(t, srv.addr, "/")
	c.Expect(t, "small")
	clk.advance(t, 10*ms)
	var got []byte
	for _, want := range []int{256 << 10, 256 << 10, 88 << 10} {
		f := c.Next(t)
		if f.Op != ws.OpBinary || len(f.Payload) != want {
			t.Fatalf("got a %v message of %d bytes, want binary of %d", f.Op, len(f.Payload), want)
		}
		got = append(got, f.Payload...)
	}
	if string(got) != string(big) {
		t.Fatal("the parts do not add up to the recorded message")
	}
	clk.advance(t, 20*ms)
	c.Expect(t, "after")
	c.ExpectClose(t, ws.StatusNormalClosure)
}

func TestClientLeaves(t *testing.T) {
	t.Parallel()
	path := writeRecording(t, t.TempDir(), "rfb.wsrec", nil, handshake()...)
	tests := []struct {
		name  string
		query string
		wait  func(t *testing.T, clk *fakeClock, c *wstest.Conn, srv *server)
	}{
		{name: "WaitingForTime", query: "", wait: func(t *testing.T, clk *fakeClock, c *wstest.Conn, srv *server) {
			c.Expect(t, "RFB 003.008\n")
			clk.next(t)
		}},
		{name: "WaitingForClient", query: "?pace=client", wait: func(t *testing.T, clk *fakeClock, c *wstest.Conn, srv *server) {
			c.Expect(t, "RFB 003.008\n")
			clk.advance(t, 20*ms)
			clk.next(t) // the pace timeout
		}},
		{name: "Holding", query: "?end=hold&speed=max", wait: func(t *testing.T, clk *fakeClock, c *wstest.Conn, srv *server) {
			for _, m := range []string{"RFB 003.008\n", "\x01\x01", "ok", "update"} {
				c.Expect(t, m)
			}
			srv.log.WaitFor(t, "holding the connection open")
		}},
	}
	for _, tt := range tests {
		for _, how := range []string{"Abruptly", "WithClose"} {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				clk := newFakeClock()
				srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk})
				c := dial(t, srv.addr, "/"+tt.query)
				tt.wait(t, clk, c, srv)
				if how == "WithClose" {
					c.CloseWith(t, ws.StatusGoingAway)
					c.ExpectClose(t, ws.StatusGoingAway)
				}
				c.Close()
				// The session ends at once, without the clock moving; its
				// goroutines are gone (TestMain checks for leaks).
				srv.waitIdle(t)
				want := "replay closed before the end of the recording"
				if tt.name == "Holding" {
					want = `msg="replay closed"`
				}
				srv.log.WaitFor(t, want)
			})
		}
	}
}
