package vnctest_test

import (
	"os/exec"
	"testing"

	"go.uber.org/goleak"

	"github.com/wsproxy/wsproxy/internal/vnctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startWebsockify starts Debian's websockify, the reference implementation,
// serving noVNC and proxying to target, over https and wss as well when cert
// is not nil. It returns its address.
func startWebsockify(t *testing.T, target string, cert *vnctest.Cert) string {
	t.Helper()
	vnctest.Require(t, "websockify", "websockify")
	return vnctest.StartServer(t, "websockify", func(addr string) *exec.Cmd {
		args := []string{"--web", vnctest.NoVNCDir}
		if cert != nil {
			args = append(args, "--cert", cert.CertFile, "--key", cert.KeyFile)
		}
		return exec.Command("websockify", append(args, addr, target)...)
	}, nil)
}

// TestWebsockify proves the harness against the reference proxy: noVNC in
// Chromium connects through websockify to Xvnc, shows the desktop's colour,
// and the keys typed into the page reach a terminal on the desktop.
func TestWebsockify(t *testing.T) {
	cert := vnctest.NewCert(t)
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{})
	term := x.StartTerminal(t)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{Trust: []*vnctest.Cert{cert}})

	typed := ""
	for _, tc := range []struct {
		name   string
		scheme string
		cert   *vnctest.Cert
		text   string
	}{
		{name: "ws", scheme: "http", text: "Hello, wsproxy 123"},
		{name: "wss", scheme: "https", cert: cert, text: " and over TLS!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startWebsockify(t, x.RFBAddr, tc.cert)
			v := b.OpenNoVNC(t, tc.scheme+"://"+addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
			v.WaitConnected(t, x.Width, x.Height)
			// The bottom right corner is far from the terminal.
			v.WaitPixel(t, x.Width-1, x.Height-1, vnctest.RootColor)
			v.Type(t, tc.text)
			typed += tc.text
			term.WaitTyped(t, typed)
			// Every pixel, the terminal's too, as the X server has it.
			v.WaitCanvas(t, x.Screenshot(t))
		})
	}
}

// TestVNCAuth checks that a password reaches Xvnc's VNC authentication, and
// that the harness sees a refused connection as one.
func TestVNCAuth(t *testing.T) {
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{Width: 320, Height: 200, Password: "secret12"})
	addr := startWebsockify(t, x.RFBAddr, nil)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	page := "http://" + addr + "/vnc_lite.html"

	t.Run("OK", func(t *testing.T) {
		v := b.OpenNoVNC(t, page, vnctest.NoVNCOptions{Password: "secret12"})
		v.WaitConnected(t, x.Width, x.Height)
		v.WaitPixel(t, 0, 0, vnctest.RootColor)
	})
	t.Run("WrongPassword", func(t *testing.T) {
		v := b.OpenNoVNC(t, page, vnctest.NoVNCOptions{Password: "wrong"})
		if got := v.WaitDisconnected(t); got != "Something went wrong, connection is closed" {
			t.Errorf("got status %q, want the failure", got)
		}
	})
}

// TestClickPaste checks Click and Paste: text pasted into noVNC reaches the
// terminal when a middle click there asks the X server for the selection,
// which Xvnc then takes from noVNC's clipboard.
func TestClickPaste(t *testing.T) {
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{Width: 320, Height: 200})
	term := x.StartTerminal(t)
	addr := startWebsockify(t, x.RFBAddr, nil)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	v := b.OpenNoVNC(t, "http://"+addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
	v.WaitConnected(t, x.Width, x.Height)
	v.Paste(t, "pasted ✓")
	v.Click(t, 10, 10, vnctest.ButtonMiddle, 1) // in the terminal
	term.WaitTyped(t, "pasted ✓")
}
