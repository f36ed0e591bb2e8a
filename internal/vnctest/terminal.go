package vnctest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Terminal is an xterm on an Xvnc display, in its top left corner, that
// holds the X input focus and writes what is typed into it to a file, byte
// for byte: its shell puts the tty in raw mode without echo, so every key
// reaches the file at once (Return as "\r") and nothing is drawn but the
// cursor. It is stopped in t.Cleanup.
type Terminal struct {
	// Path is the file that receives the typed bytes.
	Path string
}

// StartTerminal starts a Terminal on the display and waits until it has the
// input focus and its shell reads. It skips the test (fails it when CI is
// set) if xterm or xdotool is missing.
func (x *Xvnc) StartTerminal(t testing.TB) *Terminal {
	t.Helper()
	Require(t, "xterm", "xterm")
	Require(t, "xdotool", "xdotool")
	dir := t.TempDir()
	term := &Terminal{Path: filepath.Join(dir, "typed")}
	// A title of its own, which xterm must not let the shell change, finds
	// the window for xdotool.
	x.terminals++
	title := fmt.Sprintf("vnctest-terminal-%d", x.terminals)
	// The shell creates the file only after stty, so once the file exists
	// the tty is raw.
	x.Start(t, "xterm",
		"-geometry", "40x5+0+0",
		"-title", title,
		"-xrm", "XTerm*allowTitleOps: false",
		"-e", "sh", "-c", `stty raw -echo && exec cat >"$0"`, term.Path)
	deadline := time.Now().Add(Timeout)
	for {
		if _, err := os.Stat(term.Path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("xterm: its shell did not create %s within %v", term.Path, Timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without a window manager nothing gives the new window the focus.
	x.Run(t, "xdotool", "search", "--sync", "--limit", "1", "--name", "^"+title+"$",
		"windowfocus", "--sync", "%1")
	return term
}

// Typed returns what was typed into the terminal so far.
func (term *Terminal) Typed(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(term.Path)
	if err != nil {
		t.Fatalf("terminal: %v", err)
	}
	return string(b)
}

// WaitTyped waits up to Timeout until what was typed into the terminal is
// exactly want. It fails the test at once when the typed bytes stop being a
// prefix of want, and after Timeout with what arrived.
func (term *Terminal) WaitTyped(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		got := term.Typed(t)
		switch {
		case got == want:
			return
		case !strings.HasPrefix(want, got):
			t.Fatalf("typed into the terminal: got %q, want %q", got, want)
		case time.Now().After(deadline):
			t.Fatalf("typed into the terminal: got %q after %v, want %q", got, Timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
