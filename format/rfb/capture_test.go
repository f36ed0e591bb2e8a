package rfb

import (
	"crypto/des"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// The fixtures in testdata/rfb are real RFB sessions with TigerVNC's Xvnc
// (Debian's tigervnc-standalone-server 1.12), recorded on the TCP
// connection by a small client in this file that talks like noVNC: the
// same pixel format and encodings, replies to fences, continuous updates,
// the extended clipboard. Regenerate them with
//
//	go test ./format/rfb -run TestCapture -capture
//
// which needs Xvnc and xterm on the PATH. The sessions are scripted, so a
// new capture decodes to the same events, up to timing and pixel data;
// TestXvnc* check them.
var captureFlag = flag.Bool("capture", false, "record the testdata/rfb fixtures from a local Xvnc and xterm")

const (
	fixtureDir     = "../../testdata/rfb"
	fixtureSession = "xvnc-none-noVNC-like.wsrec"
	fixtureAuthOK  = "xvnc-vncauth-ok.wsrec"
	fixtureAuthBad = "xvnc-vncauth-wrong-password.wsrec"
	fixtureRFB33   = "xvnc-rfb33.wsrec"
	capturePass    = "wsproxy"
	captureDesktop = "wsproxy-test"
)

// What the scripted session does, checked by TestXvncSession.
var (
	captureLines = []string{"hello World", "ls -l", "ABc<Tab><Left><Ctrl+a>", "okzzz"}
	// captureClicks are the button presses: x, y, buttons.
	captureClicks = [][3]int{
		{8, 8, int(ButtonLeft)}, {8, 8, int(ButtonLeft)}, // double-click "hello" in xterm
		{100, 50, int(ButtonWheelUp)},
		{300, 200, int(ButtonRight)},
		{60, 40, int(ButtonMiddle)}, // paste in xterm: Xvnc asks for the clipboard
	}
	captureCutText      = "copied text ÄÖÜ"
	captureExtendedText = "extended clipboard\nsecond line ✓"
	captureSelection    = "hello" // what the double-click selects
	captureResize       = [2]int{400, 300}
	captureSweep        = []Encoding{EncodingZRLE, EncodingHextile, EncodingRRE, EncodingRaw, EncodingTight}
)

// noVNCPseudo are the pseudo-encodings noVNC 1.5 asks for (core/rfb.js,
// _sendEncodings), with quality 6 and compression 2.
var noVNCPseudo = []Encoding{
	PseudoQualityLevel0 + 6, PseudoCompressLevel0 + 2,
	PseudoDesktopSize, PseudoLastRect, PseudoQEMUExtendedKey, PseudoQEMULEDState,
	PseudoExtendedDesktopSize, PseudoXVP, PseudoFence, PseudoContinuousUpdates,
	PseudoDesktopName, PseudoExtendedClipboard, PseudoExtendedMouseButtons,
	PseudoVMwareCursor, PseudoCursor,
}

var noVNCEncodings = append([]Encoding{EncodingCopyRect, EncodingTight, EncodingTightPNG, EncodingZRLE,
	EncodingJPEG, EncodingHextile, EncodingRRE, EncodingZlib, EncodingRaw}, noVNCPseudo...)

func TestCapture(t *testing.T) {
	if !*captureFlag {
		t.Skip("records fixtures; run with -capture")
	}
	for _, tool := range []string{"Xvnc", "xterm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	if err := os.MkdirAll(fixtureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("session", captureSession)
	t.Run("vncauth", captureVNCAuth)
	t.Run("rfb33", captureRFB33)
}

// captureSession records the main scripted session.
func captureSession(t *testing.T) {
	display, addr := startXvnc(t, "-SecurityTypes", "None")
	r := dial(t, addr, fixtureSession)
	r.handshake(t, SecurityNone, "")
	r.send(setPixelFormat(noVNCFormat))
	r.send(setEncodings(noVNCEncodings...))
	r.send(updateRequest(false, 0, 0, 320, 240))
	r.waitFor(t, "first update", func(e Event) bool { return e.Kind == KindUpdate })

	xterm := exec.Command("xterm", "-geometry", "40x10+0+0", "-e", "sh", "-c", `printf '\a'; exec cat`)
	xterm.Env = append(os.Environ(), "DISPLAY=:"+display)
	if err := xterm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(xterm) })
	r.waitFor(t, "bell", func(e Event) bool { return e.Kind == KindBell })
	time.Sleep(500 * time.Millisecond)

	r.send(pointerEvent(0, 60, 40)) // over xterm: it has the focus
	time.Sleep(100 * time.Millisecond)
	r.typeString("hello ")
	r.key(KeyShiftL, true)
	r.typeString("W")
	r.key(KeyShiftL, false)
	r.typeString("orld")
	r.press(KeyReturn)
	r.typeString("ls -lx")
	r.press(KeyBackSpace)
	r.press(KeyReturn)
	r.press(KeyCapsLock)
	r.typeString("AB")
	r.press(KeyCapsLock)
	r.typeString("c")
	r.press(KeyTab)
	r.press(0xff51) // Left
	r.key(KeyControlL, true)
	r.typeString("a")
	r.key(KeyControlL, false)
	r.press(KeyReturn)
	r.waitFor(t, "QEMU extended key events", func(e Event) bool {
		return e.Kind == KindUpdate && hasRect(e, PseudoQEMUExtendedKey)
	})
	for _, k := range []struct {
		sym  Keysym
		code uint32
	}{{'o', 0x18}, {'k', 0x25}} {
		r.send(qemuKeyEvent(true, k.sym, k.code))
		r.send(qemuKeyEvent(false, k.sym, k.code))
		time.Sleep(30 * time.Millisecond)
	}
	for range 3 { // auto-repeat: presses without releases
		r.send(keyEvent(true, 'z'))
		time.Sleep(30 * time.Millisecond)
	}
	r.send(keyEvent(false, 'z'))
	r.send(qemuKeyEvent(true, KeyReturn, 0x1c))
	r.send(qemuKeyEvent(false, KeyReturn, 0x1c))
	time.Sleep(300 * time.Millisecond)

	for _, c := range captureClicks[:4] {
		r.click(c)
	}
	r.waitFor(t, "the selection", func(e Event) bool {
		return e.Kind == KindServerCutText && e.Text == captureSelection
	})

	r.send(cutText(msgClientCutText, captureCutText))
	time.Sleep(200 * time.Millisecond)
	r.setClipboard(captureExtendedText)
	r.send(extendedCutText(msgClientCutText, clipNotify|clipText, nil))
	time.Sleep(200 * time.Millisecond)
	r.click(captureClicks[4])
	r.waitFor(t, "the clipboard provided", func(e Event) bool {
		return e.Kind == KindClientCutText && e.Text == captureExtendedText
	})

	screen := r.screen(t)
	screen.Width, screen.Height = captureResize[0], captureResize[1]
	r.send(setDesktopSize(captureResize[0], captureResize[1], screen))
	r.waitFor(t, "the resize", func(e Event) bool { return e.Kind == KindResize && e.Width == captureResize[0] })
	time.Sleep(300 * time.Millisecond)

	for _, enc := range captureSweep {
		from := r.mark()
		r.send(setEncodings(append([]Encoding{enc}, noVNCPseudo...)...))
		r.send(updateRequest(false, 0, 0, 160, 60))
		r.waitFrom(t, from, enc.String()+" update", func(e Event) bool { return e.Kind == KindUpdate && hasRect(e, enc) })
	}
	r.send(setEncodings(noVNCEncodings...))
	time.Sleep(300 * time.Millisecond)
	r.close(t)
}

// captureVNCAuth records VNC authentication, accepted and refused.
func captureVNCAuth(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pass, obfuscatePassword(capturePass), 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr := startXvnc(t, "-SecurityTypes", "VncAuth", "-PasswordFile", pass)

	r := dial(t, addr, fixtureAuthOK)
	r.handshake(t, SecurityVNCAuth, capturePass)
	r.send(setPixelFormat(noVNCFormat))
	r.send(setEncodings(noVNCEncodings...))
	r.send(updateRequest(false, 0, 0, 320, 240))
	r.waitFor(t, "first update", func(e Event) bool { return e.Kind == KindUpdate })
	r.send(pointerEvent(0, 10, 10))
	r.press('x')
	time.Sleep(200 * time.Millisecond)
	r.close(t)

	r = dial(t, addr, fixtureAuthBad)
	r.handshake(t, SecurityVNCAuth, "wrong")
	r.close(t)
}

// captureRFB33 records a protocol 3.3 handshake.
func captureRFB33(t *testing.T) {
	_, addr := startXvnc(t, "-SecurityTypes", "None", "-Protocol3.3")
	r := dial(t, addr, fixtureRFB33)
	r.handshake(t, SecurityNone, "")
	r.send(setEncodings(EncodingHextile, EncodingRaw, PseudoCursor, PseudoDesktopSize))
	r.send(updateRequest(false, 0, 0, 320, 240))
	r.waitFor(t, "first update", func(e Event) bool { return e.Kind == KindUpdate })
	r.press('q')
	time.Sleep(200 * time.Millisecond)
	r.close(t)
}

// startXvnc starts Xvnc on a free display and port, stopped when the test
// ends, and returns the display number and the RFB address.
func startXvnc(t *testing.T, args ...string) (display, addr string) {
	t.Helper()
	n := 40
	for ; n < 100; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	display = strconv.Itoa(n)
	cmd := exec.Command("Xvnc", append([]string{":" + display, "-geometry", "320x240", "-depth", "24",
		"-rfbport", strconv.Itoa(port), "-interface", "127.0.0.1", "-desktop", captureDesktop, "-nolisten", "tcp"}, args...)...)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(cmd) })
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close() // Xvnc logs the aborted connection and goes on
			time.Sleep(100 * time.Millisecond)
			return display, addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("Xvnc did not listen on %s: %v", addr, err)
		}
	}
}

// stop ends a process started by the capture, politely first, so that
// Xvnc removes its lock file.
func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// obfuscatePassword returns a TigerVNC password file for pass: DES with
// the fixed key every VNC implementation uses (TigerVNC
// common/rfb/obfuscate.cxx, as vncpasswd -f writes it).
func obfuscatePassword(pass string) []byte {
	return vncDES([]byte{23, 82, 107, 6, 35, 78, 88, 7}, padKey(pass))
}

// vncDES encrypts b, a multiple of 8 bytes, with DES in ECB mode, taking
// the key's bits in VNC's reversed order (RFC 6143 §7.2.2).
func vncDES(key, b []byte) []byte {
	k := make([]byte, 8)
	for i := range k {
		k[i] = bits.Reverse8(key[i])
	}
	c, err := des.NewCipher(k)
	if err != nil {
		panic(err)
	}
	out := make([]byte, len(b))
	for i := 0; i < len(b); i += 8 {
		c.Encrypt(out[i:], b[i:i+8])
	}
	return out
}

func padKey(pass string) []byte {
	k := make([]byte, 8)
	copy(k, pass)
	return k
}

// capturer is the scripted client: it records both directions of its
// connection to a wsrec file and decodes them as they go, to follow the
// handshake and answer the server as noVNC would.
type capturer struct {
	conn net.Conn
	file *os.File
	done chan struct{}

	mu         sync.Mutex
	start      time.Time
	w          *format.Writer
	dec        *Decoder
	events     []Event
	clipboard  string
	continuous bool
	serverRaw  []byte // the server's first bytes, for the VNC challenge
}

func dial(t *testing.T, addr, name string) *capturer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Header{Meta: map[string]string{
		format.MetaTarget:  addr,
		format.MetaProgram: "wsproxy format/rfb capture test",
		format.MetaSource:  "TCP connection to TigerVNC Xvnc 1.12 (tigervnc-standalone-server), scripted client",
	}}, format.WriterOptions{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := &capturer{conn: conn, file: f, done: make(chan struct{}), start: time.Now(), w: w, dec: NewDecoder(DecoderOptions{})}
	w.Write(format.Record{Kind: format.KindOpen})
	go r.readLoop()
	return r
}

// record writes p as a message record and decodes it; with mu held.
func (r *capturer) record(dir format.Direction, p []byte) []Event {
	now := time.Since(r.start)
	if dir == format.TargetToClient && len(r.serverRaw) < 1<<16 {
		r.serverRaw = append(r.serverRaw, p...)
	}
	if err := r.w.WriteMessage(now, dir, format.Binary, p); err != nil {
		panic(err)
	}
	var evs []Event
	if err := r.dec.Feed(dir, now, p, func(e Event) { evs = append(evs, e) }); err != nil {
		panic(err)
	}
	r.events = append(r.events, evs...)
	return evs
}

func (r *capturer) send(p []byte) {
	r.mu.Lock()
	if _, err := r.conn.Write(p); err != nil {
		r.mu.Unlock()
		panic(err)
	}
	r.record(format.ClientToTarget, p)
	r.mu.Unlock()
}

// readLoop records what the server sends and answers it as noVNC does.
func (r *capturer) readLoop() {
	defer close(r.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := r.conn.Read(buf)
		if n > 0 {
			r.mu.Lock()
			evs := r.record(format.TargetToClient, append([]byte(nil), buf[:n]...))
			r.mu.Unlock()
			for _, e := range evs {
				r.answer(e)
			}
		}
		if err != nil {
			return
		}
	}
}

// answer replies to a server event the way noVNC's core/rfb.js does.
func (r *capturer) answer(e Event) {
	switch {
	case e.Kind == KindFence && e.Flags&(1<<31) != 0: // _handleServerFenceMsg
		r.send(fenceMsg(e.Flags&3, e.Data))
	case e.Kind == KindEndOfContinuousUpdates && !r.continuous:
		r.continuous = true
		s := r.session()
		r.send(enableContinuousUpdates(true, 0, 0, s.Width, s.Height))
	case e.Kind == KindUpdate && !r.continuous:
		s := r.session()
		r.send(updateRequest(true, 0, 0, s.Width, s.Height))
	case e.Kind == KindServerCutText && e.Extended:
		switch e.Flags & 0xff000000 {
		case clipCaps:
			r.send(extendedCutText(msgClientCutText, clipCaps|clipRequest|clipPeek|clipNotify|clipProvide|clipText, u32(0)))
		case clipNotify:
			if e.Flags&clipText != 0 {
				r.send(extendedCutText(msgClientCutText, clipRequest|clipText, nil))
			}
		case clipRequest:
			r.mu.Lock()
			text := r.clipboard
			r.mu.Unlock()
			r.send(extendedCutText(msgClientCutText, clipProvide|clipText, clipboardProvide(text)))
		}
	}
}

func (r *capturer) session() Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dec.Session()
}

func (r *capturer) setClipboard(s string) {
	r.mu.Lock()
	r.clipboard = s
	r.mu.Unlock()
}

// mark returns the number of events so far, for waitFrom.
func (r *capturer) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitFor waits until an event satisfies ok.
func (r *capturer) waitFor(t *testing.T, what string, ok func(Event) bool) Event {
	t.Helper()
	return r.waitFrom(t, 0, what, ok)
}

// waitFrom waits until an event after the first from satisfies ok.
func (r *capturer) waitFrom(t *testing.T, from int, what string, ok func(Event) bool) Event {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		for _, e := range r.events[from:] {
			if ok(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	for _, e := range r.events {
		t.Log(e)
	}
	r.mu.Unlock()
	t.Fatalf("timed out waiting for %s", what)
	return Event{}
}

// handshake does the client's side of the handshake with security type
// sec and, for VNC authentication, password pass. It returns when the
// ServerInit or a failed SecurityResult has arrived.
func (r *capturer) handshake(t *testing.T, sec SecurityType, pass string) {
	t.Helper()
	v := r.waitFor(t, "the server version", func(e Event) bool { return e.Kind == KindVersion })
	rfb33 := v.Text == "3.3"
	if rfb33 {
		r.send(version("003.003"))
		r.waitFor(t, "the security type", func(e Event) bool { return e.Kind == KindSecurity })
	} else {
		r.send(version("003.008"))
		r.waitFor(t, "the security types", func(e Event) bool { return e.Kind == KindSecurityTypes })
		r.send(u8(int(sec)))
	}
	if sec == SecurityVNCAuth {
		c := r.waitFor(t, "the challenge", func(e Event) bool { return e.Kind == KindAuth })
		r.mu.Lock()
		challenge := r.serverRaw[c.Offset : c.Offset+16]
		r.mu.Unlock()
		r.send(vncDES(padKey(pass), challenge))
	}
	if !rfb33 || sec != SecurityNone { // 3.3 has no SecurityResult for None
		res := r.waitFor(t, "the security result", func(e Event) bool { return e.Kind == KindSecurityResult })
		if !res.OK {
			return
		}
	}
	r.send(u8(1)) // ClientInit: shared
	r.waitFor(t, "ServerInit", func(e Event) bool { return e.Kind == KindServerInit })
}

func (r *capturer) screen(t *testing.T) Screen {
	e := r.waitFor(t, "the screen layout", func(e Event) bool { return e.Kind == KindResize && len(e.Screens) > 0 })
	return e.Screens[0]
}

// click moves the pointer to x, y and presses and releases buttons.
func (r *capturer) click(c [3]int) {
	r.send(pointerEvent(0, c[0], c[1]))
	r.send(pointerEvent(Buttons(c[2]), c[0], c[1]))
	r.send(pointerEvent(0, c[0], c[1]))
	time.Sleep(40 * time.Millisecond)
}

func (r *capturer) key(k Keysym, down bool) {
	r.send(keyEvent(down, k))
	time.Sleep(20 * time.Millisecond)
}

func (r *capturer) press(k Keysym) {
	r.key(k, true)
	r.key(k, false)
}

func (r *capturer) typeString(s string) {
	for _, c := range s {
		r.press(Keysym(c))
	}
}

func (r *capturer) close(t *testing.T) {
	t.Helper()
	r.conn.Close()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w.Write(format.Record{Kind: format.KindClose, Time: time.Since(r.start), Close: format.CloseInfo{By: format.ClosedByClient}})
	if err := r.w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.file.Close(); err != nil {
		t.Fatal(err)
	}
	for _, e := range r.events {
		t.Log(e)
	}
}

func hasRect(e Event, enc Encoding) bool {
	for _, r := range e.Rects {
		if r.Encoding == enc {
			return true
		}
	}
	return false
}
