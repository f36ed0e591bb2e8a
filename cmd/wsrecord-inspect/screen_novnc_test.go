package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/vnctest"
)

// TestScreenNoVNC records a session of each noVNC, Debian's 1.3 and the
// current one from npm, in headless Chromium through wsproxy in front of
// Xvnc; the screen changes (the root colour, an xterm's text); once
// noVNC's canvas equals the X server's screenshot, snapshot at that
// wall-clock time must equal it too (all but 0.5 % of the pixels; noVNC
// asks for Tight, ZRLE, Hextile and CopyRect, and the screen has few
// colours, so nothing is lossy).
func TestScreenNoVNC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Xvnc, Chromium and wsproxy")
	}
	bin := wsproxyBinary(t)
	for _, client := range []string{"Debian-1.3", "npm-1.7"} {
		t.Run(client, func(t *testing.T) {
			x := vnctest.StartXvnc(t, vnctest.XvncOptions{Width: 320, Height: 240})
			dir := t.TempDir()
			var proxy *exec.Cmd
			addr := vnctest.StartServer(t, "wsproxy", func(addr string) *exec.Cmd {
				proxy = exec.Command(bin, "--web", vnctest.NoVNCDir, "--record-dir", dir, "--record-flush", "100ms",
					"--shutdown-timeout", "0", addr, x.RFBAddr)
				return proxy
			}, nil)
			page := "http://" + addr + "/vnc_lite.html"
			opts := vnctest.NoVNCOptions{}
			if client == "npm-1.7" {
				page = vnctest.ServeNoVNCModule(t)
				host, port, _ := strings.Cut(addr, ":")
				opts = vnctest.NoVNCOptions{Host: host, Port: port}
			}
			b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
			v := b.OpenNoVNC(t, page, opts)
			v.WaitConnected(t, x.Width, x.Height)
			x.Run(t, "xsetroot", "-solid", "#5a7a3a")
			const title = "wsrecord-inspect-novnc"
			x.Start(t, "xterm", "-geometry", "30x4+0+0", "-title", title, "-xrm", "XTerm*allowTitleOps: false",
				"-e", "sh", "-c", `echo "noVNC `+client+`"; exec sleep 3600`)
			x.Run(t, "xdotool", "search", "--sync", "--limit", "1", "--onlyvisible", "--name", "^"+title+"$")
			time.Sleep(200 * time.Millisecond) // xterm draws its text
			want := x.Screenshot(t)
			v.WaitCanvas(t, want)
			at := time.Now()
			time.Sleep(200 * time.Millisecond)
			proxy.Process.Signal(syscall.SIGTERM) // seals the recording
			rec := waitSealed(t, dir)
			got := snapshotAt(t, rec, at)
			compareTol = 0
			differ, mae := compareScreens(got, want)
			t.Logf("%s: %.3f %% of pixels differ, mean absolute error %.2f", client, 100*differ, mae)
			if differ > 0.005 {
				t.Errorf("%.3f %% of pixels differ (bound 0.5 %%)", 100*differ)
				saveForDebug(t, rec, got, want)
			}
		})
	}
}
