package main

import (
	"os/exec"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/vnctest"
)

// TestNoVNC is the end-to-end test of the issue: noVNC's vnc_lite.html,
// served by wsproxy --web from Debian's novnc package, in headless Chromium,
// connects through wsproxy to Xvnc, shows the desktop, and the keys typed
// into the page reach a terminal on the desktop; over ws:// and over wss://.
func TestNoVNC(t *testing.T) {
	bin := wsproxyBinary(t)
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
			addr := vnctest.StartServer(t, "wsproxy", func(addr string) *exec.Cmd {
				args := []string{"--web", vnctest.NoVNCDir}
				if tc.cert != nil {
					args = append(args, "--cert", tc.cert.CertFile, "--key", tc.cert.KeyFile, "--ssl-only")
				}
				return exec.Command(bin, append(args, addr, x.RFBAddr)...)
			}, nil)
			v := b.OpenNoVNC(t, tc.scheme+"://"+addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
			v.WaitConnected(t, x.Width, x.Height)
			// The bottom right corner is far from the terminal.
			v.WaitPixel(t, x.Width-1, x.Height-1, vnctest.RootColor)
			v.Type(t, tc.text)
			typed += tc.text
			term.WaitTyped(t, typed)
			v.WaitCanvas(t, x.Screenshot(t))
		})
	}
}
