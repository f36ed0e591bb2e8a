// Package vnctest runs end-to-end tests of WebSocket-to-VNC proxies with real
// components: a VNC server (TigerVNC's Xvnc) with X clients on its display,
// and noVNC in a headless Chromium driven through the DevTools protocol
// (github.com/chromedp/chromedp).
//
// A test starts the pieces it needs, each stopped in t.Cleanup:
//
//	x := vnctest.StartXvnc(t, vnctest.XvncOptions{})
//	term := x.StartTerminal(t)
//	addr := vnctest.StartServer(t, "proxy", func(addr string) *exec.Cmd {
//		return exec.Command("websockify", "--web", vnctest.NoVNCDir, addr, x.RFBAddr)
//	}, nil)
//	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
//	v := b.OpenNoVNC(t, "http://"+addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
//	v.WaitConnected(t, x.Width, x.Height)
//	v.WaitPixel(t, x.Width-1, x.Height-1, vnctest.RootColor)
//	v.Type(t, "Hello")
//	term.WaitTyped(t, "Hello")
//
// # Requirements
//
// The programs come from Debian packages, which .ci/install installs:
// tigervnc-standalone-server (Xvnc), x11-xserver-utils (xsetroot), xterm,
// xdotool, x11-apps (xwd), xfonts-base, chromium and novnc. When one is
// missing, the test that needs it is skipped with a message that names the
// package; but when the environment variable CI is set, as .ci/run sets it,
// the test fails instead, so that a CI machine without the package cannot
// pass by skipping.
//
// # Time limits
//
// Every wait is bounded (see [Timeout]); a helper that runs out of time fails
// the test with what it last saw, and the output of the programs it started
// is logged when a test fails.
//
// # Concurrency
//
// Helpers take the test's testing.TB and must be called from the goroutine
// that runs the test, as t.Fatal requires. Tests that start their own Xvnc
// and browser may run in parallel: displays and ports are picked free.
package vnctest
