package replay_test

import (
	"image"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/replay"
)

// keyEvent is an RFB KeyEvent (RFC 6143 §7.5.4) of keysym 'a'.
func keyEvent(down bool) string {
	d := "\x00"
	if down {
		d = "\x01"
	}
	return "\x04" + d + "\x00\x00\x00\x00\x00\x61"
}

// TestPaceClientKeystrokes: in bytes mode with pace=client, the recorded
// user's keystrokes after the RFB handshake do not count as bytes the
// viewer must send, so a typed session plays at its recorded times: the
// viewer sends its own handshake and SetEncodings, never the keys, and
// no message waits for the pace timeout.
func TestPaceClientKeystrokes(t *testing.T) {
	t.Parallel()
	setEncodings := "\x02\x00\x00\x01\x00\x00\x00\x00"
	recs := []format.Record{
		toClient(0, "RFB 003.008\n"),
		fromClient(10*ms, "RFB 003.008\n"),
		toClient(20*ms, "\x01\x01"),
		fromClient(30*ms, "\x01"),
		toClient(40*ms, "ok"),
		fromClient(45*ms, "\x01"), // ClientInit
		toClient(50*ms, "init"),
		fromClient(55*ms, setEncodings),
	}
	for i := range 20 {
		at := time.Duration(60+10*i) * ms
		recs = append(recs, fromClient(at, keyEvent(true)), fromClient(at+ms, keyEvent(false)), toClient(at+5*ms, "echo"))
	}
	path := writeRecording(t, t.TempDir(), "typed.wsrec", nil, recs...)
	clk := newFakeClock()
	srv := startServer(t, []string{path}, replay.ServerOptions{Clock: clk,
		Playback: replay.Options{Pace: replay.PaceClient, PaceTimeout: time.Hour}})
	c := dial(t, srv.addr, "/")
	c.Expect(t, "RFB 003.008\n")
	c.Send(t, "RFB 003.008\n\x01\x01"+setEncodings)
	srv.log.WaitForN(t, "client message discarded", 1, 10*time.Second)
	steps := []step{{20 * ms, "\x01\x01"}, {40 * ms, "ok"}, {50 * ms, "init"}}
	for i := range 20 {
		steps = append(steps, step{time.Duration(65+10*i) * ms, "echo"})
	}
	play(t, clk, c, nil, steps)
	c.ExpectClose(t, ws.StatusNormalClosure)
	clk.noTimer(t)
}

// TestRenderPaceClientKeystrokes: render mode ignores pace=client (it
// does its own handshake and reads the viewer's input only to ignore
// it), so a session with the recorded user typing all along plays at its
// recorded times to a viewer that types nothing, with a pace timeout
// that would stall it for an hour per keystroke otherwise.
func TestRenderPaceClientKeystrokes(t *testing.T) {
	t.Parallel()
	sess := rfbtest.LongSession{Interval: 100 * time.Millisecond, Duration: 2 * time.Second}
	recs := sess.Records()
	for at := 50 * ms; at < sess.Duration; at += 100 * ms {
		recs = append(recs,
			format.Record{Kind: format.KindMessage, Time: at, Dir: format.ClientToTarget, Payload: []byte(keyEvent(true))},
			format.Record{Kind: format.KindMessage, Time: at + ms, Dir: format.ClientToTarget, Payload: []byte(keyEvent(false))})
	}
	slices.SortStableFunc(recs, func(a, b format.Record) int { return int(a.Time - b.Time) })
	path := writeRecording(t, t.TempDir(), "typed.wsrec", nil, recs...)
	srv := startServer(t, []string{filepath.Clean(path)}, replay.ServerOptions{
		Playback: replay.Options{Pace: replay.PaceClient, PaceTimeout: time.Hour, End: replay.EndHold}})
	addr := serveRFB(t, srv.Server)
	began := time.Now()
	v := startViewer(t, dialRFB(t, addr), "", rfb.EncodingZRLE)
	v.request(t, false, image.Pt(320, 240))
	v.waitScreen(t, sess.Screen(sess.Duration))
	if d := time.Since(began); d < sess.Duration || d > sess.Duration+3*time.Second {
		t.Errorf("a %v session played in %v, want its own length", sess.Duration, d)
	}
}
