package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/rfb/screen"
	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// The proof of the screen commands with real components: sessions of
// TigerVNC's Xvnc recorded through wsproxy --record-dir, whose snapshots
// are compared with the X server's own pixels (xwd).
//
// Bounds: lossless encodings must match on all but 0.5 % of the pixels
// (with no tolerance; they match on all). Tight with JPEG is lossy: at
// quality level 6 TigerVNC encodes the many-coloured picture in JPEG at
// quality 79 with 4:2:0 chroma subsampling and the rest losslessly; the
// mean absolute error over the screen measures 0.07 per channel, and the
// bound is 3 of 255: a decoder that put a rectangle in the wrong place or
// mixed up chroma would be far above it (the picture alone, 16 % of the
// screen, averages 30 from one pixel to the next). 16 bits per pixel
// (RGB565) loses the low bits of each channel: a pixel differs when a
// channel is off by more than 8 (one step of 5 bits, rounded). An 8-bit
// colour-map session is quantised by the server's palette: there the mean
// absolute error is bounded at 40, and the pixels whose error exceeds the
// palette's step (a wrong colour, not a rounded one) at 0.5 %.

// rfbClient is a minimal RFB client over WebSocket for the tests: it does
// the handshake, asks for one encoding (and pseudo-encodings), and keeps
// asking for updates while it discards what the server sends; wsproxy
// records it all.
type rfbClient struct {
	conn   net.Conn
	r      *bufio.Reader
	width  int
	height int
	done   chan error
}

// wsReader reads the payloads of a WebSocket client's binary messages as
// one stream. conn is the connection, or the Dialer's buffered reader
// followed by it: the server's first frames may have come in with the
// handshake response, and are then in that buffer.
type wsReader struct {
	conn io.ReadWriter
	buf  []byte
}

func (w *wsReader) Read(p []byte) (int, error) {
	for len(w.buf) == 0 {
		b, _, err := wsutil.ReadServerData(w.conn)
		if err != nil {
			return 0, err
		}
		w.buf = b
	}
	n := copy(p, w.buf)
	w.buf = w.buf[n:]
	return n, nil
}

func dialRFB(t testing.TB, addr string) *rfbClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), vnctest.Timeout)
	defer cancel()
	conn, br, _, err := ws.Dialer{Protocols: []string{"binary"}}.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	// The server's first frame (the RFB version) may have come with the
	// handshake's answer: then it is in br, and reading conn alone would
	// wait for it for ever.
	var rw io.ReadWriter = conn
	if br != nil {
		rw = struct {
			io.Reader
			io.Writer
		}{br, conn}
	}
	c := &rfbClient{conn: conn, r: bufio.NewReader(&wsReader{conn: rw}), done: make(chan error, 1)}
	conn.SetDeadline(time.Now().Add(vnctest.Timeout))
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(c.r, b); err != nil {
			t.Fatalf("rfb handshake: %v", err)
		}
		return b
	}
	if v := read(12); string(v) != "RFB 003.008\n" {
		t.Fatalf("server version %q", v)
	}
	c.send(t, []byte("RFB 003.008\n"))
	types := read(int(read(1)[0]))
	if !slices.Contains(types, 1) {
		t.Fatalf("security types %v, want None", types)
	}
	c.send(t, []byte{1})
	if res := binary.BigEndian.Uint32(read(4)); res != 0 {
		t.Fatalf("security result %d", res)
	}
	c.send(t, []byte{1}) // shared
	init := read(24)
	c.width, c.height = int(binary.BigEndian.Uint16(init)), int(binary.BigEndian.Uint16(init[2:]))
	read(int(binary.BigEndian.Uint32(init[20:])))
	conn.SetDeadline(time.Time{})
	return c
}

func (c *rfbClient) send(t testing.TB, b []byte) {
	t.Helper()
	if err := wsutil.WriteClientBinary(c.conn, b); err != nil {
		t.Fatalf("rfb: send: %v", err)
	}
}

// setPixelFormat sends SetPixelFormat (RFC 6143 §7.5.1).
func (c *rfbClient) setPixelFormat(t testing.TB, bpp, depth int, trueColour bool, max [3]uint16, shift [3]uint8) {
	b := []byte{0, 0, 0, 0, byte(bpp), byte(depth), 0, 0}
	if trueColour {
		b[7] = 1
	}
	for _, m := range max {
		b = binary.BigEndian.AppendUint16(b, m)
	}
	b = append(b, shift[0], shift[1], shift[2], 0, 0, 0)
	c.send(t, b)
}

// setEncodings sends SetEncodings (§7.5.2).
func (c *rfbClient) setEncodings(t testing.TB, encs ...int32) {
	b := []byte{2, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(encs)))
	for _, e := range encs {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	c.send(t, b)
}

// request sends a FramebufferUpdateRequest for the whole screen (§7.5.3).
func (c *rfbClient) request(t testing.TB, incremental bool) {
	b := []byte{3, 0, 0, 0, 0, 0}
	if incremental {
		b[1] = 1
	}
	b = binary.BigEndian.AppendUint16(b, uint16(c.width))
	b = binary.BigEndian.AppendUint16(b, uint16(c.height))
	c.send(t, b)
}

// drain discards what the server sends until the connection closes.
func (c *rfbClient) drain() {
	_, err := io.Copy(io.Discard, c.r)
	c.done <- err
}

// poll asks for updates every 40 ms for d.
func (c *rfbClient) poll(t testing.TB, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		c.request(t, true)
		time.Sleep(40 * time.Millisecond)
	}
}

func (c *rfbClient) close() {
	c.conn.Close()
	<-c.done
}

// writeXWD writes img as an X Window Dump (version 7, 32-bit TrueColor
// ZPixmap, as vnctest reads them), for xwud to show.
func writeXWD(path string, img *image.RGBA) error {
	w, h := uint32(img.Rect.Dx()), uint32(img.Rect.Dy())
	name := []byte("wsproxy-test\x00")
	hdr := []uint32{uint32(100 + len(name)), 7, 2, 24, w, h, 0, 1 /* MSBFirst */, 32, 1, 32, 32, 4 * w, 4,
		0xff0000, 0xff00, 0xff, 8, 256, 0, w, h, 0, 0, 0}
	var b bytes.Buffer
	for _, v := range hdr {
		binary.Write(&b, binary.BigEndian, v)
	}
	b.Write(name)
	for y := range int(h) {
		for x := range int(w) {
			c := img.RGBAAt(x, y)
			b.Write([]byte{0, c.R, c.G, c.B})
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// testPicture is a picture of many colours (gradients and noise-free
// stripes), on which Tight uses JPEG and the palette encodings many
// colours.
func testPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(255 * x / w), uint8(255 * y / h), uint8((x*y/7 + x) % 256), 255})
		}
	}
	return img
}

// compareScreens returns the part of pixels whose channels differ by more
// than tol, and the mean absolute error per channel.
func compareScreens(got, want *image.RGBA) (differ, mae float64) {
	var n, sum int
	for y := range want.Rect.Dy() {
		for x := range want.Rect.Dx() {
			g, w := got.RGBAAt(x, y), want.RGBAAt(x, y)
			d := []int{absInt(int(g.R) - int(w.R)), absInt(int(g.G) - int(w.G)), absInt(int(g.B) - int(w.B))}
			sum += d[0] + d[1] + d[2]
			if slices.Max(d) > compareTol {
				n++
			}
		}
	}
	px := float64(want.Rect.Dx() * want.Rect.Dy())
	return float64(n) / px, float64(sum) / (3 * px)
}

// compareTol is set per case by the test (not concurrently).
var compareTol int

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// newRecording waits for a sealed recording in dir that is not in seen
// and returns it.
func newRecording(t testing.TB, dir string, seen map[string]bool) string {
	t.Helper()
	deadline := time.Now().Add(vnctest.Timeout)
	for {
		names, _ := filepath.Glob(filepath.Join(dir, "*", "*.wsrec"))
		more, _ := filepath.Glob(filepath.Join(dir, "*.wsrec"))
		for _, name := range append(names, more...) {
			if seen[name] {
				continue
			}
			if r, err := format.Open(name, format.ReaderOptions{}); err == nil {
				sealed := r.Sealed()
				r.Close()
				if sealed {
					seen[name] = true
					return name
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new sealed recording in %s within %v", dir, vnctest.Timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// snapshotAt runs snapshot on rec at wall-clock time at and returns the
// picture.
func snapshotAt(t *testing.T, rec string, at time.Time, extra ...string) *image.RGBA {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shot.png")
	args := append([]string{"snapshot", rec, "--at", at.UTC().Format(time.RFC3339Nano), "--no-cursor", "-o", out}, extra...)
	code, _, se := runCmd(t, args...)
	if code != 0 {
		keepRecording(t, rec)
		t.Fatalf("snapshot: exit %d: %s", code, se)
	}
	return readPNG(t, out)
}

// Encodings (RFC 6143 §7.7, rfbproto) the Go client asks for.
const (
	encRaw, encCopyRect, encRRE, encCoRRE, encHextile = 0, 1, 2, 4, 5
	encZlib, encTight, encZRLE                        = 6, 7, 16
	encCursor, encDesktopSize                         = -239, -223
	encQuality6, encCompress2                         = -32 + 6, -256 + 2
)

// TestScreenEncodings records one session per encoding (and pixel
// format) of a Go client through wsproxy in front of one Xvnc, changes
// the screen during each, and compares snapshot at the moment of an xwd
// screenshot with it. TigerVNC does not implement TightPNG (it is a
// noVNC/libvncserver encoding): format/rfb/screen's unit tests cover it.
func TestScreenEncodings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Xvnc and wsproxy")
	}
	vnctest.Require(t, "xwud", "x11-apps")
	bin := wsproxyBinary(t)
	const w, h = 400, 300
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{Width: w, Height: h})
	dir := t.TempDir()
	addr := vnctest.StartServer(t, "wsproxy", func(addr string) *exec.Cmd {
		return exec.Command(bin, "--record-dir", dir, "--record-flush", "100ms", "--shutdown-timeout", "0", addr, x.RFBAddr)
	}, nil)
	pic := filepath.Join(t.TempDir(), "picture.xwd")
	if err := writeXWD(pic, testPicture(160, 120)); err != nil {
		t.Fatal(err)
	}
	x.Start(t, "xwud", "-in", pic, "-geometry", "+230+170", "-noclick")
	const title = "wsrecord-inspect-screen"
	x.Start(t, "xterm", "-geometry", "36x8+0+0", "-title", title, "-xrm", "XTerm*allowTitleOps: false",
		"-e", "sh", "-c", `i=0; while [ $i -lt 4 ]; do i=$((i+1)); echo "line $i of the screen test"; done; exec sleep 3600`)
	x.Run(t, "xdotool", "search", "--sync", "--limit", "1", "--onlyvisible", "--name", "^"+title+"$")
	time.Sleep(300 * time.Millisecond) // xwud maps its window

	type pixelFormat struct {
		bpp, depth int
		trueColour bool
		max        [3]uint16
		shift      [3]uint8
	}
	rgb565 := &pixelFormat{16, 16, true, [3]uint16{31, 63, 31}, [3]uint8{11, 5, 0}}
	bgr233 := &pixelFormat{8, 8, false, [3]uint16{}, [3]uint8{}}
	seen := map[string]bool{}
	colours := []string{"#204060", "#605040", "#406020", "#803030", "#308080", "#707070"}
	for i, tt := range []struct {
		name    string
		encs    []int32
		pf      *pixelFormat
		tol     int
		differ  float64
		mae     float64
		resize  bool
		moveWin bool
	}{
		{name: "Raw", encs: []int32{encRaw}, differ: 0.005},
		{name: "CopyRect", encs: []int32{encCopyRect, encRaw}, differ: 0.005, moveWin: true},
		{name: "RRE", encs: []int32{encRRE}, differ: 0.005},
		{name: "CoRRE", encs: []int32{encCoRRE}, differ: 0.005},
		{name: "Hextile", encs: []int32{encHextile}, differ: 0.005},
		{name: "Zlib", encs: []int32{encZlib}, differ: 0.005},
		{name: "ZRLE", encs: []int32{encZRLE}, differ: 0.005, resize: true},
		{name: "Tight", encs: []int32{encTight, encCompress2}, differ: 0.005},
		{name: "TightJPEG", encs: []int32{encTight, encQuality6}, tol: 255, differ: 1, mae: 3},
		{name: "RGB565", encs: []int32{encZRLE}, pf: rgb565, tol: 8, differ: 0.005},
		{name: "ColourMap8", encs: []int32{encHextile}, pf: bgr233, tol: 128, differ: 0.005, mae: 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x.Run(t, "xsetroot", "-solid", colours[i%len(colours)])
			c := dialRFB(t, addr)
			go c.drain()
			if tt.pf != nil {
				c.setPixelFormat(t, tt.pf.bpp, tt.pf.depth, tt.pf.trueColour, tt.pf.max, tt.pf.shift)
			}
			c.setEncodings(t, append(tt.encs, encCursor, encDesktopSize)...)
			c.request(t, false)
			c.poll(t, 300*time.Millisecond)
			// Change the screen while the client watches.
			x.Run(t, "xsetroot", "-solid", colours[(i+1)%len(colours)])
			if tt.moveWin {
				x.Run(t, "xdotool", "search", "--name", "^"+title+"$", "windowmove", "60", "40")
			}
			width, height := w, h
			if tt.resize {
				if out, err := x.Command("xrandr", "--fb", "480x360").CombinedOutput(); err != nil {
					t.Logf("xrandr --fb 480x360: %v: %s (resizing not tested)", err, out)
				} else {
					// A client that parsed the DesktopSize would now ask
					// for the new area, as this one does.
					width, height = 480, 360
					time.Sleep(100 * time.Millisecond)
					c.width, c.height = width, height
					c.request(t, false)
				}
			}
			c.poll(t, 700*time.Millisecond)
			at := time.Now()
			want := x.Screenshot(t)
			c.poll(t, 300*time.Millisecond)
			c.close()
			if tt.moveWin {
				x.Run(t, "xdotool", "search", "--name", "^"+title+"$", "windowmove", "0", "0")
			}
			if tt.resize && width != w {
				x.Run(t, "xrandr", "--fb", fmt.Sprintf("%dx%d", w, h))
			}
			rec := newRecording(t, dir, seen)
			if want.Rect.Dx() != width || want.Rect.Dy() != height {
				t.Fatalf("xwd: %v, want %dx%d", want.Rect.Size(), width, height)
			}
			got := snapshotAt(t, rec, at)
			if got.Rect.Size() != want.Rect.Size() {
				t.Fatalf("snapshot of %v, xwd of %v", got.Rect.Size(), want.Rect.Size())
			}
			compareTol = tt.tol
			differ, mae := compareScreens(got, want)
			t.Logf("%s: %.3f %% of pixels differ by more than %d, mean absolute error %.2f", tt.name, 100*differ, tt.tol, mae)
			if differ > tt.differ || tt.mae > 0 && mae > tt.mae || tt.mae == 0 && math.IsNaN(mae) {
				t.Errorf("%.3f %% of pixels differ by more than %d (bound %.1f %%), mean absolute error %.2f (bound %g)",
					100*differ, tt.tol, 100*tt.differ, mae, tt.mae)
				saveForDebug(t, rec, got, want)
			}
			if tt.name == "Raw" {
				checkSeekOnRecording(t, rec)
			}
		})
	}
}

// saveForDebug keeps the pictures of a failed comparison, and the
// recording, when $WSPROXY_TEST_KEEP names a directory.
func saveForDebug(t *testing.T, rec string, got, want *image.RGBA) {
	dir := os.Getenv("WSPROXY_TEST_KEEP")
	if dir == "" {
		return
	}
	base := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-"))
	writeImage(base+"-got.png", true, got, nil)
	writeImage(base+"-want.png", true, want, nil)
	keepRecording(t, rec)
	t.Logf("kept %s-*", base)
}

// keepRecording copies rec to $WSPROXY_TEST_KEEP, when it names a
// directory, as the test's name with .wsrec.
func keepRecording(t *testing.T, rec string) {
	dir := os.Getenv("WSPROXY_TEST_KEEP")
	if dir == "" {
		return
	}
	b, _ := os.ReadFile(rec)
	os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-")+".wsrec"), b, 0o644)
}

// checkSeekOnRecording checks at command level, on a real recording, that
// snapshots through a seek index (of a keyframe every 100 ms) equal those
// decoded from the start, at 50 random times.
func checkSeekOnRecording(t *testing.T, rec string) {
	t.Helper()
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	x, err := screen.BuildIndex(f, fi.Size(), screen.IndexOptions{Interval: 100 * time.Millisecond})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.Create(screen.IndexPath(rec))
	if err != nil {
		t.Fatal(err)
	}
	x.WriteTo(idx)
	idx.Close()
	defer os.Remove(screen.IndexPath(rec))
	r, err := format.Open(rec, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := r.Summary()
	r.Close()
	dir := t.TempDir()
	args := func(out string, extra ...string) []string {
		a := []string{"snapshot", rec, "-o", filepath.Join(dir, out)}
		rng := rand.New(rand.NewPCG(uint64(fi.Size()), 50)) // the same times for both
		for range 50 {
			a = append(a, "--at", (s.Duration/4*3*time.Duration(rng.IntN(1000))/1000 + s.Duration/4).String())
		}
		return append(a, extra...)
	}
	for _, a := range [][]string{args("index.png"), args("start.png", "--no-index")} {
		if code, _, se := runCmd(t, a...); code != 0 {
			t.Fatalf("%v: exit %d: %s", a, code, se)
		}
	}
	t.Logf("seek: %d keyframes in %v of session", len(x.Keyframes()), s.Duration)
	for i := 1; i <= 50; i++ {
		a, _ := os.ReadFile(numbered(filepath.Join(dir, "index.png"), i, 50))
		b, _ := os.ReadFile(numbered(filepath.Join(dir, "start.png"), i, 50))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("snapshot %d: through the index differs from decoding from the start", i)
		}
	}
}
