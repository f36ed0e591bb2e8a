package main

import (
	"bytes"
	"image/color"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/vnctest"
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

// TestNoVNCRecorded records a real noVNC session with --record-dir: the
// recording's metadata and byte counts match the session as wsproxy logged
// it, and the keys typed in the browser are RFB KeyEvents in the
// client→target records.
func TestNoVNCRecorded(t *testing.T) {
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{})
	term := x.StartTerminal(t)
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	dir := t.TempDir()
	p := startBinary(t, nil, "--web", vnctest.NoVNCDir, "--record-dir", dir, "--record-flush", "100ms", "--shutdown-timeout", "0", "127.0.0.1:0", x.RFBAddr)
	v := b.OpenNoVNC(t, "http://"+p.addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
	v.WaitConnected(t, x.Width, x.Height)
	const text = "Audit me 42"
	v.Type(t, text)
	term.WaitTyped(t, text)

	p.cmd.Process.Signal(syscall.SIGTERM) // seals the recording
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	names := recordings(t, dir)
	if len(names) != 1 {
		t.Fatalf("recordings %v, want one", names)
	}
	h, recs, sealed := readRecording(t, names[0])
	if !sealed {
		t.Fatal("recording not sealed after SIGTERM")
	}
	for k, want := range map[string]string{
		format.MetaTarget: x.RFBAddr, format.MetaOrigin: "http://" + p.addr,
	} {
		if h.Meta[k] != want {
			t.Errorf("metadata %s = %q, want %q", k, h.Meta[k], want)
		}
	}
	if !strings.Contains(h.Meta[format.MetaUserAgent], "Chrome") {
		t.Errorf("user agent %q", h.Meta[format.MetaUserAgent])
	}

	// Byte counts: the records, the close record and wsproxy's log agree.
	toTarget := bytes.Join(messages(recs, format.ClientToTarget), nil)
	toClient := bytes.Join(messages(recs, format.TargetToClient), nil)
	last := recs[len(recs)-1]
	if last.Kind != format.KindClose || last.Close.ClientBytes != uint64(len(toTarget)) || last.Close.TargetBytes != uint64(len(toClient)) {
		t.Errorf("close record %+v; records hold %d and %d bytes", last.Close, len(toTarget), len(toClient))
	}
	m := regexp.MustCompile(`msg="session closed".* to_target=(\d+) to_client=(\d+)`).FindStringSubmatch(p.stderr.String())
	if m == nil || m[1] != strconv.Itoa(len(toTarget)) || m[2] != strconv.Itoa(len(toClient)) {
		t.Errorf("log says %v; records hold %d and %d bytes", m, len(toTarget), len(toClient))
	}
	if !bytes.HasPrefix(toClient, []byte("RFB 003.008\n")) {
		t.Errorf("target→client stream starts %q", toClient[:min(len(toClient), 12)])
	}

	// Each typed character is a key press in the client→target stream, in
	// order: a KeyEvent (RFC 6143 §7.5.4: type 4, down-flag 1, padding,
	// keysym) or, as noVNC sends to servers that offer it, a QEMU extended
	// key event (type 255, subtype 0, down-flag u16, keysym, keycode).
	rest := toTarget
	for _, r := range text {
		sym := []byte{0, 0, 0, byte(r)} // ASCII keysyms are the code points
		key := append([]byte{4, 1, 0, 0}, sym...)
		qemu := append([]byte{255, 0, 0, 1}, sym...)
		i, j := bytes.Index(rest, key), bytes.Index(rest, qemu)
		if i < 0 || j >= 0 && j < i {
			i = j
		}
		if i < 0 {
			t.Fatalf("no key press for %q after the previous key in the recording", r)
		}
		rest = rest[i+8:]
	}
}

// TestNoVNCToken is the token issue's end-to-end test: noVNC in Chromium
// connects through a token from a TokenFile to one of two Xvnc servers and
// sees that one (told apart by their root colours).
func TestNoVNCToken(t *testing.T) {
	xa := vnctest.StartXvnc(t, vnctest.XvncOptions{})
	xb := vnctest.StartXvnc(t, vnctest.XvncOptions{})
	other := color.RGBA{R: 0xcc, G: 0x66, B: 0x33, A: 0xff}
	xb.Run(t, "xsetroot", "-solid", "#cc6633")
	tokens := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, tokens, []byte("# two desktops\nalpha: "+xa.RFBAddr+"\nbeta:\t"+xb.RFBAddr+"\n"))
	p := startBinary(t, nil, "--web", vnctest.NoVNCDir, "--token-plugin", "TokenFile", "--token-source", tokens, "127.0.0.1:0")
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})
	for _, tc := range []struct {
		token string
		x     *vnctest.Xvnc
		want  color.RGBA
	}{
		{"beta", xb, other},
		{"alpha", xa, vnctest.RootColor},
	} {
		v := b.OpenNoVNC(t, "http://"+p.addr+"/vnc_lite.html", vnctest.NoVNCOptions{Path: "websockify?token=" + tc.token})
		v.WaitConnected(t, tc.x.Width, tc.x.Height)
		v.WaitPixel(t, tc.x.Width-1, tc.x.Height-1, tc.want)
	}
	// An unknown token is refused before the upgrade: noVNC reports the
	// failed connection.
	v := b.OpenNoVNC(t, "http://"+p.addr+"/vnc_lite.html", vnctest.NoVNCOptions{Path: "websockify?token=gamma"})
	v.WaitDisconnected(t)
	p.stderr.Wait(t, regexp.MustCompile(`msg="request rejected" session=[0-9a-f]{32} status=404`))
}
