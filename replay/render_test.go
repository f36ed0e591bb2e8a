package replay_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/rfbtest"
	"github.com/wsproxy/wsproxy/replay"
	"github.com/wsproxy/wsproxy/replay/render"
)

const rfbFixture = "../testdata/rfb/xvnc-none-noVNC-like.wsrec"

// rfbViewer is a test VNC viewer: it speaks RFB 3.8 on a connection and
// decodes what it receives with the screen model, which is fed both
// directions as a recording would be.
type rfbViewer struct {
	conn net.Conn
	mu   sync.Mutex
	scr  *screen.Screen
	err  error
	read int64
	// patience bounds waitScreen; zero means waitTimeout. A viewer that
	// reads slowly on purpose needs more on a loaded machine.
	patience time.Duration
}

// startViewer does the handshake on conn, sends SetEncodings encs and
// then reads in the background.
func startViewer(t testing.TB, conn net.Conn, password string, encs ...rfb.Encoding) *rfbViewer {
	t.Helper()
	v := handshakeViewer(t, conn, password, encs...)
	go v.readLoop()
	return v
}

// handshakeViewer does the handshake on conn and sends SetEncodings encs.
func handshakeViewer(t testing.TB, conn net.Conn, password string, encs ...rfb.Encoding) *rfbViewer {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	v := &rfbViewer{conn: conn, scr: screen.New(screen.Options{})}
	conn.SetDeadline(time.Now().Add(waitTimeout))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("viewer handshake: %v", err)
		}
	}
	server := func(n int) []byte {
		t.Helper()
		b := make([]byte, n)
		_, err := io.ReadFull(conn, b)
		must(err)
		must(v.scr.FeedData(format.TargetToClient, 0, b))
		return b
	}
	client := func(b []byte) {
		t.Helper()
		_, err := conn.Write(b)
		must(err)
		must(v.scr.FeedData(format.ClientToTarget, 0, b))
	}
	server(12)
	client([]byte("RFB 003.008\n"))
	types := server(int(server(1)[0]))
	client(types[:1])
	if types[0] == 2 {
		ch := server(16)
		resp := render.VNCAuthResponse(password, [16]byte(ch))
		client(resp[:])
	}
	if binary.BigEndian.Uint32(server(4)) != 0 {
		t.Fatal("viewer handshake: authentication failed")
	}
	client([]byte{1})
	init := server(24)
	server(int(binary.BigEndian.Uint32(init[20:])))
	set := []byte{2, 0, 0, byte(len(encs))}
	for _, e := range encs {
		set = binary.BigEndian.AppendUint32(set, uint32(e))
	}
	client(set)
	conn.SetDeadline(time.Time{})
	return v
}

func (v *rfbViewer) readLoop() {
	buf := make([]byte, 64<<10)
	for {
		n, err := v.conn.Read(buf)
		v.mu.Lock()
		v.read += int64(n)
		if n > 0 && v.err == nil {
			v.err = v.scr.FeedData(format.TargetToClient, 0, buf[:n])
		}
		if err != nil && v.err == nil {
			v.err = err
		}
		v.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// request sends a FramebufferUpdateRequest of the whole screen.
func (v *rfbViewer) request(t testing.TB, incremental bool, size image.Point) {
	t.Helper()
	b := []byte{3, 0, 0, 0, 0, 0}
	if incremental {
		b[1] = 1
	}
	b = binary.BigEndian.AppendUint16(b, uint16(size.X))
	b = binary.BigEndian.AppendUint16(b, uint16(size.Y))
	v.mu.Lock()
	v.scr.FeedData(format.ClientToTarget, 0, b)
	v.mu.Unlock()
	if _, err := v.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// waitScreen asks for updates until the viewer's screen is want.
func (v *rfbViewer) waitScreen(t testing.TB, want *image.RGBA) {
	t.Helper()
	deadline := time.Now().Add(cmp.Or(v.patience, waitTimeout))
	for {
		v.mu.Lock()
		err := v.err
		var diff int
		img := v.scr.Image()
		if img != nil && img.Rect == want.Rect {
			diff = differing(img, want)
		} else {
			diff = -1
		}
		updates := v.scr.Updates()
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
		v.request(t, true, want.Rect.Size())
		time.Sleep(20 * time.Millisecond)
	}
}

func differing(a, b *image.RGBA) int {
	n := 0
	for i := 0; i+3 < len(a.Pix) && i+3 < len(b.Pix); i += 4 {
		if a.Pix[i] != b.Pix[i] || a.Pix[i+1] != b.Pix[i+1] || a.Pix[i+2] != b.Pix[i+2] {
			n++
		}
	}
	return n
}

// screenAt decodes the recording up to time at (all of it for -1) and
// returns its screen with the cursor.
func screenAt(t testing.TB, path string, at time.Duration) *image.RGBA {
	t.Helper()
	r, err := format.Open(path, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := screen.New(screen.Options{})
	for {
		rec, err := r.Next()
		if err == io.EOF || err == nil && at >= 0 && rec.Time > at {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s.Feed(rec)
	}
	return s.Snapshot(true)
}

// serveRFB starts ServeRFB on a loopback port and returns its address.
func serveRFB(t testing.TB, srv *replay.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeRFB(context.Background(), ln, replay.RFBOptions{}) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeRFB: %v", err)
		}
	})
	return ln.Addr().String()
}

func dialRFB(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRenderFinalScreen plays a recording at full speed in render mode to
// viewers of each encoding, and checks that each ends with the screen
// that the screen model decodes from the recording.
func TestRenderFinalScreen(t *testing.T) {
	t.Parallel()
	want := screenAt(t, rfbFixture, -1)
	for _, enc := range []rfb.Encoding{rfb.EncodingRaw, rfb.EncodingHextile, rfb.EncodingZRLE, rfb.EncodingTight} {
		t.Run(enc.String(), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, []string{rfbFixture}, replay.ServerOptions{Playback: replay.Options{Speed: replay.SpeedMax, End: replay.EndHold}})
			addr := serveRFB(t, srv.Server)
			v := startViewer(t, dialRFB(t, addr), "", enc, rfb.PseudoCursor, rfb.PseudoDesktopSize)
			v.request(t, false, want.Rect.Size())
			v.waitScreen(t, want)
		})
	}
}

// TestRenderSeekPause seeks a paused replay back and forth through the
// control API and checks the viewer's screen each time.
func TestRenderSeekPause(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.wsrec")
	b, err := os.ReadFile(rfbFixture)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b, 0o644)
	srv := startServer(t, []string{path}, replay.ServerOptions{Playback: replay.Options{End: replay.EndHold}, Password: "secret"})
	addr := serveRFB(t, srv.Server)
	final := screenAt(t, path, -1)
	v := startViewer(t, dialRFB(t, addr), "secret", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
	var id string
	for deadline := time.Now().Add(waitTimeout); id == ""; time.Sleep(5 * time.Millisecond) {
		if rs := srv.Replays(); len(rs) == 1 {
			id = rs[0].ID
		} else if time.Now().After(deadline) {
			t.Fatal("no replay listed")
		}
	}
	ctx := t.Context()
	if _, err := srv.Control(ctx, id, replay.Command{Action: "pause"}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{900 * time.Millisecond, 300 * time.Millisecond, time.Hour, 1500 * time.Millisecond} {
		began := time.Now()
		st, err := srv.Control(ctx, id, replay.Command{Action: "seek", To: at.String()})
		if err != nil {
			t.Fatal(err)
		}
		if !st.Paused {
			t.Errorf("seek to %v: state %+v, want paused", at, st)
		}
		want := final
		if at < time.Hour {
			want = screenAt(t, path, at)
		}
		v.waitScreen(t, want)
		t.Logf("seek to %v: screen right after %v", at, time.Since(began))
	}
	if _, err := srv.Control(ctx, id, replay.Command{Action: "speed", Speed: "max"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Control(ctx, id, replay.Command{Action: "resume"}); err != nil {
		t.Fatal(err)
	}
	v.waitScreen(t, final)
	if _, err := srv.Control(ctx, id, replay.Command{Action: "jump"}); !errors.Is(err, replay.ErrOption) {
		t.Errorf("unknown action: got %v, want ErrOption", err)
	}
	if _, err := srv.Control(ctx, "nope", replay.Command{Action: "pause"}); !errors.Is(err, replay.ErrNotFound) {
		t.Errorf("unknown ID: got %v, want ErrNotFound", err)
	}
}

// slowConn reads at most rate bytes a second.
type slowConn struct {
	net.Conn
	rate int
}

func (c slowConn) Read(p []byte) (int, error) {
	n := min(len(p), c.rate/20)
	time.Sleep(50 * time.Millisecond)
	return c.Conn.Read(p[:n])
}

// TestRenderSlowViewer plays to a viewer that reads at 100 KB/s in Raw
// (the largest encoding): it gets fewer updates than the recording has,
// merged, and ends with the last screen.
func TestRenderSlowViewer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, []string{rfbFixture}, replay.ServerOptions{Playback: replay.Options{Speed: 4, End: replay.EndHold}})
	addr := serveRFB(t, srv.Server)
	want := screenAt(t, rfbFixture, -1)
	r, err := format.Open(rfbFixture, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recorded := screen.New(screen.Options{})
	for rec, err := r.Next(); err == nil; rec, err = r.Next() {
		recorded.Feed(rec)
	}
	r.Close()
	v := startViewer(t, slowConn{dialRFB(t, addr), 100_000}, "", rfb.EncodingRaw, rfb.PseudoExtendedDesktopSize)
	v.patience = 30 * time.Second // two Raw frames take 6 s at 100 KB/s
	v.request(t, false, image.Pt(320, 240))
	v.waitScreen(t, want)
	v.mu.Lock()
	got, read := v.scr.Updates(), v.read
	v.mu.Unlock()
	if got >= recorded.Updates() {
		t.Errorf("slow viewer got %d updates, the recording has %d: changes were not merged", got, recorded.Updates())
	}
	t.Logf("slow viewer: %d updates, %d bytes; the recording has %d updates", got, read, recorded.Updates())
}

// TestRenderEndClose plays to the end with EndClose to a viewer that is
// slow to ask for its first update (300 ms, as a loaded machine or a
// slow link makes it): it must get the last screen, then a clean end of
// the connection (EOF, not a reset that would lose the last update), as
// soon as it asks again and there is nothing more to send.
func TestRenderEndClose(t *testing.T) {
	t.Parallel()
	srv := startServer(t, []string{rfbFixture}, replay.ServerOptions{Playback: replay.Options{Speed: replay.SpeedMax}})
	addr := serveRFB(t, srv.Server)
	want := screenAt(t, rfbFixture, -1)
	v := startViewer(t, dialRFB(t, addr), "", rfb.EncodingZRLE, rfb.PseudoExtendedDesktopSize)
	time.Sleep(300 * time.Millisecond)
	v.request(t, false, want.Rect.Size())
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		v.mu.Lock()
		n, err := v.scr.Updates(), v.err
		v.mu.Unlock()
		if err != nil {
			t.Fatalf("viewer: %v before its first update", err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no update")
		}
	}
	v.request(t, true, want.Rect.Size())
	began := time.Now()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		v.mu.Lock()
		err := v.err
		v.mu.Unlock()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not close the connection at the end")
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !errors.Is(v.err, io.EOF) {
		t.Errorf("connection ended with %v, want EOF", v.err)
	}
	if n := differing(v.scr.Image(), want); n != 0 {
		t.Errorf("last screen: %d pixels unlike the recording's", n)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("closed %v after the viewer caught up, want at once", d)
	}
}

// TestRenderSlowViewerMemory plays 60 full-screen changes, one every
// 50 ms (rfbtest.LongSession with one cell), over ServeRFB to a viewer
// that asks for Raw and reads at 100 KB/s: a queue of the updates would
// hold 60 x 300 KB = 18 MB, but the viewer gets a few merged frames and
// the process's heap grows by less than 6 MB while it plays, and the
// viewer shows the last screen within 12 s of the end (a Raw frame takes
// 3 s at that rate; without the cap on unsent data, limitUnsent, the
// kernel's send buffer held so many frames that it did not). It does not
// run in parallel, so that the heap is this test's.
func TestRenderSlowViewerMemory(t *testing.T) {
	for _, tt := range []struct {
		name string
		dial func(t *testing.T, srv *server) (viewer, tcp net.Conn)
	}{
		{"RFB", func(t *testing.T, srv *server) (net.Conn, net.Conn) {
			c := dialRFB(t, serveRFB(t, srv.Server))
			return c, c
		}},
		// As noVNC watches: the proxy caps the client socket's unsent data
		// (proxy.ServerOptions.ClientMaxUnsent) as ServeRFB does.
		{"WebSocket", func(t *testing.T, srv *server) (net.Conn, net.Conn) {
			c := dial(t, srv.addr, "/", "binary")
			return &wsViewerConn{Conn: c, rd: &wsutil.Reader{Source: c, State: ws.StateClientSide}}, c.Conn
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { testRenderSlowViewerMemory(t, tt.dial) })
	}
}

func testRenderSlowViewerMemory(t *testing.T, dial func(t *testing.T, srv *server) (viewer, tcp net.Conn)) {
	sess := rfbtest.LongSession{Cols: 1, Rows: 1, Interval: 50 * time.Millisecond, Duration: 3 * time.Second}
	path := filepath.Join(t.TempDir(), "busy.wsrec")
	sess.Write(t, path)
	writeIndex(t, path) // so that the server does not build it while the heap is measured
	srv := startServer(t, []string{path}, replay.ServerOptions{Playback: replay.Options{End: replay.EndHold}})
	conn, tcp := dial(t, srv)
	tcp.(*net.TCPConn).SetReadBuffer(64 << 10)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	v := startViewer(t, slowConn{conn, 100_000}, "", rfb.EncodingRaw)
	v.patience = 20 * time.Second
	v.request(t, false, image.Pt(320, 240))
	began := time.Now()
	for time.Since(began) < sess.Duration+time.Second {
		v.request(t, true, image.Pt(320, 240))
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		time.Sleep(20 * time.Millisecond)
	}
	v.waitScreen(t, sess.Screen(sess.Duration))
	late := time.Since(began) - sess.Duration
	v.mu.Lock()
	updates, read := v.scr.Updates(), v.read
	v.mu.Unlock()
	growth := int64(peak) - int64(base)
	t.Logf("slow viewer: %d updates of the session's 61, %d bytes read in %v; heap grew by %d KiB at most",
		updates, read, time.Since(began).Round(time.Millisecond), growth>>10)
	if growth > 6<<20 {
		t.Errorf("heap grew by %d KiB while the slow viewer played, want under 6 MiB", growth>>10)
	}
	if late > 12*time.Second {
		t.Errorf("the last screen came %v after the end, want at most 12 s (a Raw frame takes 3 s): old frames queued", late.Round(time.Millisecond))
	}
	if updates >= 61 {
		t.Errorf("slow viewer got %d updates, want fewer than the session's 61: changes were not merged", updates)
	}
}

// wsViewerConn is a viewer's WebSocket session as a net.Conn of RFB
// bytes: Read returns the payloads of the server's messages, Write sends
// each buffer as a masked binary message.
type wsViewerConn struct {
	net.Conn
	rd      *wsutil.Reader
	inFrame bool
}

func (c *wsViewerConn) Read(p []byte) (int, error) {
	for {
		if c.inFrame {
			n, err := c.rd.Read(p)
			if err == io.EOF {
				c.inFrame = false
				err = nil
				if n == 0 {
					continue
				}
			}
			return n, err
		}
		hdr, err := c.rd.NextFrame()
		if err != nil {
			return 0, err
		}
		if hdr.OpCode == ws.OpClose {
			return 0, io.EOF
		}
		if hdr.OpCode.IsControl() {
			if err := c.rd.Discard(); err != nil {
				return 0, err
			}
			continue
		}
		c.inFrame = true
	}
}

func (c *wsViewerConn) Write(p []byte) (int, error) {
	if err := wsutil.WriteClientBinary(c.Conn, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeIndex writes the seek index sidecar of the recording at path.
func writeIndex(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	x, err := screen.BuildIndex(f, fi.Size(), screen.IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(screen.IndexPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
