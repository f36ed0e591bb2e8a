package replay_test

import (
	"image"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/replay"
)

// seekBound is the bound on the server time from a seek to the
// first correct pixels on the viewer's screen (its p95). The race
// detector slows the decoding several times, so it gets more.
var seekBound = map[bool]time.Duration{false: 300 * time.Millisecond, true: 1500 * time.Millisecond}[raceEnabled]

// TestRenderLongSeek serves a synthesized 35-minute session
// (rfbtest.LongSession: a 320x240 screen of which one cell changes every
// 2 s, in Raw) to a Go RFB viewer over TCP, pauses it and seeks to 10
// random times; after each seek the viewer's screen must be the
// session's at that time, which the screen model decodes from the file
// too (checked), with every pixel right. It measures the time from the
// seek command to the last right pixel arriving, and fails when the p95
// is over seekBound. A first seek, timed apart, waits for the seek index,
// which the server builds in memory in the background from the start of
// the replay, once per file, when the recording has no sidecar index.
func TestRenderLongSeek(t *testing.T) {
	t.Parallel()
	sess := rfbtest.LongSession{}
	path := filepath.Join(t.TempDir(), "long.wsrec")
	sess.Write(t, path)
	srv := startServer(t, []string{path}, replay.ServerOptions{Playback: replay.Options{End: replay.EndHold}})
	addr := serveRFB(t, srv.Server)
	v := startViewer(t, dialRFB(t, addr), "", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
	size := sess.Screen(0).Rect.Size()
	v.request(t, false, size)
	v.waitScreen(t, sess.Screen(0))
	id := waitReplay(t, srv)
	ctx := t.Context()
	if _, err := srv.Control(ctx, id, replay.Command{Action: "pause"}); err != nil {
		t.Fatal(err)
	}
	// The first seek may wait for the seek index, which the server builds
	// once for the file's version from the replay's start: timed apart.
	began := time.Now()
	v.request(t, true, size)
	if _, err := srv.Control(ctx, id, replay.Command{Action: "seek", To: "10m"}); err != nil {
		t.Fatal(err)
	}
	v.waitScreenSoon(t, sess.Screen(10*time.Minute))
	t.Logf("first seek, which may wait for the seek index: screen right after %v", time.Since(began).Round(100*time.Microsecond))
	rng := rand.New(rand.NewPCG(16, 30))
	var took []time.Duration
	for i := range 10 {
		at := time.Duration(rng.Int64N(int64(35 * time.Minute)))
		want := sess.Screen(at)
		if i < 3 {
			// The synthesizer and the screen model agree.
			if n := differing(screenAt(t, path, at), want); n != 0 {
				t.Fatalf("seek to %v: the screen model decodes %d pixels unlike the session's", at, n)
			}
		}
		if n := differing(v.screen(), want); n == 0 {
			t.Fatalf("seek to %v: the viewer shows that time's screen before the seek", at)
		}
		v.request(t, true, size) // a request is outstanding, as with noVNC
		began = time.Now()
		st, err := srv.Control(ctx, id, replay.Command{Action: "seek", To: at.String()})
		if err != nil {
			t.Fatal(err)
		}
		if st.Time != at || !st.Paused {
			t.Errorf("seek to %v: state %+v, want paused at %v", at, st, at)
		}
		v.waitScreenSoon(t, want)
		d := time.Since(began)
		took = append(took, d)
		t.Logf("seek %d to %v: screen right after %v", i+1, at.Round(time.Millisecond), d.Round(100*time.Microsecond))
	}
	slices.Sort(took)
	p95 := took[(len(took)*95+99)/100-1] // nearest rank
	t.Logf("seek to first right pixels: median %v, p95 %v, max %v (race detector %v)",
		took[len(took)/2].Round(100*time.Microsecond), p95.Round(100*time.Microsecond),
		took[len(took)-1].Round(100*time.Microsecond), raceEnabled)
	if p95 > seekBound {
		t.Errorf("p95 of the seek times %v, want at most %v", p95, seekBound)
	}
}

// TestRenderSeekEncrypted seeks in render mode through an encrypted
// recording, which the Server opens with its identity: the screen after
// each seek must be the session's, and the seek index (sealed with the
// recording's sidecar key) must be used, not given up for decoding from
// the start.
func TestRenderSeekEncrypted(t *testing.T) {
	t.Parallel()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sess := rfbtest.LongSession{Duration: 5 * time.Minute}
	path := filepath.Join(t.TempDir(), "enc.wsrec")
	sess.WriteWith(t, path, format.WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	srv := startServer(t, []string{path}, replay.ServerOptions{
		Playback: replay.Options{End: replay.EndHold},
		Reader:   recfile.Options{Format: format.ReaderOptions{Identities: []age.Identity{id}}},
	})
	addr := serveRFB(t, srv.Server)
	v := startViewer(t, dialRFB(t, addr), "", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
	size := sess.Screen(0).Rect.Size()
	v.request(t, false, size)
	v.waitScreen(t, sess.Screen(0))
	id2 := waitReplay(t, srv)
	ctx := t.Context()
	if _, err := srv.Control(ctx, id2, replay.Command{Action: "pause"}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{4*time.Minute + 3*time.Second, 90 * time.Second, 2*time.Minute + 41*time.Second} {
		v.request(t, true, size)
		if _, err := srv.Control(ctx, id2, replay.Command{Action: "seek", To: at.String()}); err != nil {
			t.Fatal(err)
		}
		v.waitScreenSoon(t, sess.Screen(at))
	}
	if log := srv.log.String(); strings.Contains(log, "seek index unusable") {
		t.Errorf("the seek index of the encrypted recording was not used:\n%s", log)
	}
}

// waitReplay waits until the server lists one render-mode replay and
// returns its ID.
func waitReplay(t testing.TB, srv *server) string {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if rs := srv.Replays(); len(rs) == 1 {
			return rs[0].ID
		} else if time.Now().After(deadline) {
			t.Fatalf("%d replays listed, want 1", len(rs))
		}
	}
}

// waitScreenSoon waits until the viewer's screen is want, checking every
// millisecond and sending a new incremental request after each update,
// so that one is always outstanding as with noVNC.
func (v *rfbViewer) waitScreenSoon(t testing.TB, want *image.RGBA) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	seen := int64(-1)
	for {
		v.mu.Lock()
		err, updates := v.err, v.scr.Updates()
		img := v.scr.Image()
		diff := -1
		if img != nil && img.Rect == want.Rect {
			diff = differing(img, want)
		}
		v.mu.Unlock()
		if err != nil {
			t.Fatalf("viewer: %v", err)
		}
		if diff == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewer screen: %d pixels differ after %d updates", diff, updates)
		}
		if updates != seen && seen >= 0 {
			v.request(t, true, want.Rect.Size())
		}
		seen = updates
		time.Sleep(time.Millisecond)
	}
}

// screen returns a copy of the viewer's screen.
func (v *rfbViewer) screen() *image.RGBA {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.scr.Snapshot(false)
}
