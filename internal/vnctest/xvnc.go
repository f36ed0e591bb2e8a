package vnctest

import (
	"bytes"
	"context"
	"crypto/des"
	"fmt"
	"image/color"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RootColor is the colour of the root window of every Xvnc that StartXvnc
// starts: where no X client draws, the desktop shows it.
var RootColor = color.RGBA{R: 0x33, G: 0x66, B: 0xcc, A: 0xff}

// rootColorSpec is RootColor in the form of xsetroot -solid.
const rootColorSpec = "#3366cc"

// rfbBanner is the ProtocolVersion message that an RFB 3.8 server sends
// first (RFC 6143, section 7.1.1).
const rfbBanner = "RFB 003.008\n"

// XvncOptions configures StartXvnc.
type XvncOptions struct {
	// Width and Height are the size of the screen in pixels. Zero means
	// 640 and 480.
	Width, Height int

	// Password, if not empty, makes the server ask for VNC authentication
	// (RFC 6143, section 7.2.2) with this password, of which only the first
	// 8 bytes count. Empty means no authentication (security type None).
	Password string
}

// Xvnc is a running TigerVNC server: an X server whose screen is served over
// RFB on RFBAddr, 24 bits deep, its root window filled with RootColor. No
// window manager runs; the pointer stays in the middle of the screen, where
// the root window's cursor is invisible. It is stopped in t.Cleanup. Its
// methods must be called from the test's goroutine.
type Xvnc struct {
	// Display is the X display, ":N", for DISPLAY.
	Display string
	// RFBAddr is the address of the RFB server, "127.0.0.1:PORT".
	RFBAddr string
	// Width and Height are the size of the screen in pixels.
	Width, Height int

	terminals int // how many StartTerminal started, to name their windows
}

// StartXvnc starts Xvnc on a free display and a free port of 127.0.0.1,
// waits until the port answers with the RFB 3.8 banner, and sets the root
// window's colour to RootColor. It skips the test (fails it when CI is set)
// if Xvnc or xsetroot is missing.
func StartXvnc(t testing.TB, opts XvncOptions) *Xvnc {
	t.Helper()
	Require(t, "Xvnc", "tigervnc-standalone-server")
	Require(t, "xsetroot", "x11-xserver-utils")
	Require(t, "/etc/X11/fonts/misc/xfonts-base.alias", "xfonts-base")
	x := &Xvnc{Width: opts.Width, Height: opts.Height}
	if x.Width == 0 {
		x.Width = 640
	}
	if x.Height == 0 {
		x.Height = 480
	}
	security := []string{"-SecurityTypes", "None"}
	if opts.Password != "" {
		file := filepath.Join(t.TempDir(), "passwd")
		if err := os.WriteFile(file, vncPasswordFile(opts.Password), 0o600); err != nil {
			t.Fatal(err)
		}
		security = []string{"-SecurityTypes", "VncAuth", "-PasswordFile", file}
	}
	var display int
	command := func(addr string) *exec.Cmd {
		// A display that looks free; if another server takes it first,
		// Xvnc exits and startServer tries again with another one.
		display = freeDisplay()
		_, port, _ := net.SplitHostPort(addr)
		args := []string{
			":" + strconv.Itoa(display),
			"-geometry", fmt.Sprintf("%dx%d", x.Width, x.Height),
			"-depth", "24",
			"-rfbport", port,
			"-interface", "127.0.0.1",
			"-nolisten", "tcp",
			"-desktop", "vnctest",
			// The readiness probe and tests that drop connections
			// before authenticating would otherwise get 127.0.0.1
			// black-listed after five ("Too many security failures").
			"-BlacklistThreshold", "1000000",
		}
		return exec.Command("Xvnc", append(args, security...)...)
	}
	ready := func(ctx context.Context, addr string) error {
		if _, err := os.Stat(displaySocket(display)); err != nil {
			return err
		}
		return answersRFB(ctx, addr)
	}
	_, x.RFBAddr = startServer(t, "Xvnc", command, ready)
	x.Display = ":" + strconv.Itoa(display)
	x.Run(t, "xsetroot", "-solid", rootColorSpec)
	return x
}

// freeDisplay returns a display number whose socket and lock file do not
// exist. It starts from a random number, so that tests in parallel, here or
// in other packages, rarely try the same one.
func freeDisplay() int {
	for n := 100 + rand.IntN(800); ; n++ {
		_, errSocket := os.Stat(displaySocket(n))
		_, errLock := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		if os.IsNotExist(errSocket) && os.IsNotExist(errLock) {
			return n
		}
	}
}

// displaySocket returns the path of the Unix socket of X display n.
func displaySocket(n int) string {
	return fmt.Sprintf("/tmp/.X11-unix/X%d", n)
}

// answersRFB returns nil when the server at addr sends the RFB 3.8 banner.
func answersRFB(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	got := make([]byte, len(rfbBanner))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read RFB banner: %w", err)
	}
	if string(got) != rfbBanner {
		return fmt.Errorf("got banner %q, want %q", got, rfbBanner)
	}
	return nil
}

// vncPasswordFile returns the content of a TigerVNC password file (as
// vncpasswd -f writes) for password: its first 8 bytes, zero-padded, DES
// encrypted with the fixed key of VNC's d3des. That key, e8 4a d6 60 c4 72
// 1a e0 in the bit order of standard DES, only obfuscates.
func vncPasswordFile(password string) []byte {
	key := []byte{0xe8, 0x4a, 0xd6, 0x60, 0xc4, 0x72, 0x1a, 0xe0}
	block, err := des.NewCipher(key)
	if err != nil {
		panic(err) // the key has the right size
	}
	plain := make([]byte, 8)
	copy(plain, password)
	out := make([]byte, 8)
	block.Encrypt(out, plain)
	return out
}

// Command returns a command that runs the X client name with args on the
// display.
func (x *Xvnc) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = x.env()
	return cmd
}

// env returns the environment of the X clients: the test's, with DISPLAY set
// to the display.
func (x *Xvnc) env() []string {
	return append(os.Environ(), "DISPLAY="+x.Display)
}

// Start starts the X client name with args on the display; t.Cleanup stops
// it, and its output is logged if the test fails.
func (x *Xvnc) Start(t testing.TB, name string, args ...string) {
	t.Helper()
	startProcess(t, filepath.Base(name), x.Command(name, args...))
}

// Run runs the X client name with args on the display, up to Timeout, and
// returns its standard output. It fails the test if the client fails.
func (x *Xvnc) Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = x.env()
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.Bytes())
	}
	return out
}
