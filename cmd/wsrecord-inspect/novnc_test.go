package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/format/rfb"
	"github.com/wsproxy/wsproxy/internal/vnctest"
)

var (
	recordFixture = flag.Bool("record-fixture", false, "have TestNoVNCSession write its recording to testdata/recordings/"+noVNCFixture+" (then run -update for the golden files)")
	wsproxyBin    = flag.String("wsproxy", "", "the wsproxy binary that TestNoVNCSession runs; empty means go build ./cmd/wsproxy")
)

// noVNCFixture is a session recorded by TestNoVNCSession -record-fixture.
const noVNCFixture = "novnc-chromium-session.wsrec"

// What TestNoVNCSession does in the session, and checkNoVNCSession finds
// in its recording.
const (
	// typedLine is typed into an xterm, then Return.
	typedLine = "audit trail 42"
	// selectedWord is shown by a second xterm and selected there with a
	// double click at selectX, selectY: the X server sends it to the
	// client (ServerCutText).
	selectedWord = "copied_from_xterm_42"
	// pastedText is pasted into noVNC (ClientCutText) and then, with a
	// middle click into the first xterm at pasteX, pasteY, into the
	// session.
	pastedText = "pasted from the browser 7"
)

// The screen is noVNCWidth x noVNCHeight. The first xterm is at its top
// left (vnctest.Terminal), the second at 0,selectionTop; their characters
// are 6x13 pixels ("fixed") after a 2-pixel border, so the clicks are on
// the fourth character of their first lines.
const (
	noVNCWidth, noVNCHeight = 320, 240
	selectionTop            = 120
	selectX, selectY        = 20, selectionTop + 8
	pasteX, pasteY          = 20, 8
)

// TestNoVNCSession is the end-to-end test: a real session, noVNC in
// Chromium to Xvnc through wsproxy with --record-dir, in which known text is
// typed, a word is selected with a double click (the server's clipboard)
// and text is pasted (the client's clipboard, given to the X server with a
// middle click). keys must print the typed line, rfb the clicks where they
// were made and both clipboard texts. With -record-fixture the recording
// becomes testdata/recordings/novnc-chromium-session.wsrec, which
// TestNoVNCFixture and the golden files read.
func TestNoVNCSession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Xvnc, Chromium and wsproxy")
	}
	bin := wsproxyBinary(t)
	x := vnctest.StartXvnc(t, vnctest.XvncOptions{Width: noVNCWidth, Height: noVNCHeight})
	term := x.StartTerminal(t)
	const title = "wsrecord-inspect-selection"
	x.Start(t, "xterm", "-geometry", fmt.Sprintf("30x2+0+%d", selectionTop), "-title", title,
		"-xrm", "XTerm*allowTitleOps: false",
		"-e", "sh", "-c", `printf '%s' "$0"; exec sleep 3600`, selectedWord)
	x.Run(t, "xdotool", "search", "--sync", "--limit", "1", "--onlyvisible", "--name", "^"+title+"$")
	b := vnctest.StartBrowser(t, vnctest.BrowserOptions{})

	dir := t.TempDir()
	var proxy *exec.Cmd
	addr := vnctest.StartServer(t, "wsproxy", func(addr string) *exec.Cmd {
		proxy = exec.Command(bin, "--web", vnctest.NoVNCDir, "--record-dir", dir, "--record-flush", "100ms", "--shutdown-timeout", "0", addr, x.RFBAddr)
		return proxy
	}, nil)
	v := b.OpenNoVNC(t, "http://"+addr+"/vnc_lite.html", vnctest.NoVNCOptions{})
	v.WaitConnected(t, x.Width, x.Height)

	v.Type(t, typedLine+"\r")
	term.WaitTyped(t, typedLine+"\r")

	v.Click(t, selectX, selectY, vnctest.ButtonLeft, 2)
	// Xvnc announces the selection, noVNC asks for it, Xvnc sends it:
	// wait for it in the recording, so that the paste comes after.
	waitForEvent(t, dir, fmt.Sprintf("server-cut-text with %q", selectedWord), func(e rfb.Event) bool {
		return e.Kind == rfb.KindServerCutText && e.Text == selectedWord
	})

	v.Paste(t, pastedText)
	v.Click(t, pasteX, pasteY, vnctest.ButtonMiddle, 1)
	term.WaitTyped(t, typedLine+"\r"+pastedText)

	proxy.Process.Signal(syscall.SIGTERM) // seals the recording
	name := waitSealed(t, dir)
	checkNoVNCSession(t, name)

	if *recordFixture {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recordings, noVNCFixture), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: run go test -update to accept its golden files", filepath.Join(recordings, noVNCFixture))
	}
}

// TestNoVNCFixture checks the recording that TestNoVNCSession kept as a
// fixture, as that test checks its own.
func TestNoVNCFixture(t *testing.T) {
	t.Parallel()
	checkNoVNCSession(t, filepath.Join(recordings, noVNCFixture))
}

// checkNoVNCSession checks what keys and rfb print for a recording of
// TestNoVNCSession.
func checkNoVNCSession(t *testing.T, name string) {
	t.Helper()
	keys := runOK(t, "keys", name)
	if !regexp.MustCompile(`(?m)^ +[0-9.]+s +[0-9.]+s  ` + regexp.QuoteMeta(typedLine) + `$`).MatchString(keys) {
		t.Errorf("keys does not show the line %q:\n%s", typedLine, keys)
	}
	if strings.Contains(keys, "not ended by Return") {
		t.Errorf("keys: the line was ended by Return:\n%s", keys)
	}

	out := runOK(t, "rfb", name)
	for _, want := range []string{
		fmt.Sprintf("client  pointer %d,%d press left\n", selectX, selectY),
		fmt.Sprintf("client  pointer %d,%d release left\n", selectX, selectY),
		fmt.Sprintf("client  pointer %d,%d press middle\n", pasteX, pasteY),
		fmt.Sprintf("client  pointer %d,%d release middle\n", pasteX, pasteY),
		fmt.Sprintf("server  server-cut-text extended provide text %q\n", selectedWord),
		fmt.Sprintf("client  client-cut-text extended provide text %q\n", pastedText),
		"client  key down Return", // with its keycode, in a QEMU extended key event

	} {
		if !strings.Contains(out, want) {
			t.Errorf("rfb does not show %q", want)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^protocol +RFB 3\.8$`),
		regexp.MustCompile(fmt.Sprintf(`(?m)^desktop +".*", %dx%d, shared$`, noVNCWidth, noVNCHeight)),
		regexp.MustCompile(`(?m)^authentication +ok$`),
		regexp.MustCompile(`(?m)^encodings +.*Tight`),
		regexp.MustCompile(`server  update \d+ rects`),
	} {
		if !want.MatchString(out) {
			t.Errorf("rfb does not match %s", want)
		}
	}
	// Two presses and releases: a double click.
	press := fmt.Sprintf("pointer %d,%d press left", selectX, selectY)
	if n := strings.Count(out, press); n != 2 {
		t.Errorf("rfb shows %q %d times, want 2 (a double click)", press, n)
	}
	if t.Failed() {
		t.Logf("rfb:\n%s", out)
	}
}

// wsproxyBinary returns -wsproxy, or builds wsproxy from this module.
// When it does not build, the test is skipped (failed when CI is set):
// cmd/wsproxy may be in the middle of a change.
func wsproxyBinary(t testing.TB) string {
	t.Helper()
	if *wsproxyBin != "" {
		return *wsproxyBin
	}
	bin := filepath.Join(t.TempDir(), "wsproxy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wsproxy/wsproxy/cmd/wsproxy").CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("go build wsproxy: %v\n%s(give a binary with -wsproxy)", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	return bin
}

// recordingIn returns the one recording under dir, or "" while there is
// none.
func recordingIn(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".wsrec") {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 1 {
		t.Fatalf("recordings %q, want one", names)
	}
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// waitForEvent waits until the recording under dir, which wsproxy is
// writing, holds an event for which match is true.
func waitForEvent(t *testing.T, dir, what string, match func(rfb.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(vnctest.Timeout)
	for {
		if name := recordingIn(t, dir); name != "" && hasEvent(name, match) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the recording within %v", what, vnctest.Timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hasEvent reports whether the recording name, sealed or not, holds an
// event for which match is true.
func hasEvent(name string, match func(rfb.Event) bool) bool {
	f, err := recfile.Open(name, recfile.Options{})
	if err != nil {
		return false
	}
	defer f.Close()
	d := rfb.NewDecoder(rfb.DecoderOptions{})
	found := false
	for !found {
		rec, err := f.Next()
		if err != nil {
			return false
		}
		d.FeedRecord(rec, func(e rfb.Event) { found = found || match(e) })
	}
	return true
}

// waitSealed waits until the recording under dir is sealed, and returns
// its name.
func waitSealed(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(vnctest.Timeout)
	for {
		if name := recordingIn(t, dir); name != "" {
			if r, err := format.Open(name, format.ReaderOptions{}); err == nil {
				sealed := r.Sealed()
				r.Close()
				if sealed {
					return name
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sealed recording in %s within %v", dir, vnctest.Timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
