package vnctest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium.
const chromiumPath = "/usr/bin/chromium"

// BrowserOptions configures StartBrowser.
type BrowserOptions struct {
	// Trust lists certificates that the browser accepts for https and wss
	// although no authority it knows signed them. Empty means none.
	Trust []*Cert
}

// Browser is a headless Chromium that the test drives through the DevTools
// protocol; each page that it opens is a tab of its own. It is closed in
// t.Cleanup. Its methods must be called from the test's goroutine.
type Browser struct {
	ctx context.Context // of the browser's first tab, which stays blank
	log *eventLog
}

// StartBrowser starts Chromium with a fresh profile in a directory of
// t.TempDir. It skips the test (fails it when CI is set) if
// /usr/bin/chromium is missing.
//
// The flags, all needed on a CI machine, are --headless --no-sandbox
// --disable-gpu --disable-quic --no-first-run --disable-background-networking
// --disable-component-update --disable-sync --user-data-dir. The
// certificates in opts.Trust are trusted by their public key's hash in
// --ignore-certificate-errors-spki-list, which Chromium honours only with
// --user-data-dir; every other certificate error stays an error.
func StartBrowser(t testing.TB, opts BrowserOptions) *Browser {
	t.Helper()
	Require(t, chromiumPath, "chromium")
	dir := t.TempDir()
	output, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { output.Close() })
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.CombinedOutput(output),
	}
	if len(opts.Trust) > 0 {
		hashes := make([]string, len(opts.Trust))
		for i, c := range opts.Trust {
			hashes[i] = spkiHash(c)
		}
		flags = append(flags, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(hashes, ",")))
	}
	b := &Browser{log: &eventLog{}}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(b.log.printf), chromedp.WithLogf(b.log.printf))
	b.ctx = ctx
	t.Cleanup(func() {
		// Close gracefully, so that Chromium's helpers end before t.TempDir
		// removes the profile.
		ctx, cancelClose := context.WithTimeout(ctx, stopGrace)
		if err := chromedp.Cancel(ctx); err != nil {
			t.Errorf("close chromium: %v", err)
		}
		cancelClose()
		cancel()
		allocCancel() // waits for the browser's process
		if t.Failed() {
			output.Sync()
			t.Logf("chromium's output, without D-Bus errors:\n%s\nchromium's events:\n%s", chromiumOutput(output.Name()), b.log)
		}
	})
	// The first Run starts the browser, which lives as long as its context;
	// only a timer, stopped when it is up, bounds the start.
	start := time.AfterFunc(Timeout, cancel)
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("1"))
	if !start.Stop() {
		t.Fatalf("chromium did not start within %v: %v", Timeout, err)
	}
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// eventLog collects what the browser and its pages say, to log when a test
// fails. It is safe for concurrent use.
type eventLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *eventLog) printf(format string, args ...any) {
	l.add(fmt.Sprintf(format, args...))
}

func (l *eventLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, time.Now().Format("15:04:05.000 ")+line)
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// listen adds the console messages and uncaught exceptions of a tab, named
// tab, to the log. It is a chromedp.Listen callback: it must return fast.
func (l *eventLog) listen(tab string) func(ev any) {
	return func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			args := make([]string, len(ev.Args))
			for i, a := range ev.Args {
				args[i] = remoteString(a)
			}
			l.add(fmt.Sprintf("%s: console.%s: %s", tab, ev.Type, strings.Join(args, " ")))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			l.add(fmt.Sprintf("%s: exception at %s:%d: %s", tab, d.URL, d.LineNumber+1, text))
		}
	}
}

// remoteString returns a console argument as text.
func remoteString(o *runtime.RemoteObject) string {
	switch {
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return strings.Trim(string(o.Value), `"`)
	default:
		return string(o.Type)
	}
}

// chromiumOutput returns what Chromium wrote to the file path, without the
// errors about D-Bus, which is not running on a CI machine and which the tests
// do not need.
func chromiumOutput(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			out.WriteString(line)
		}
	}
	return out.String()
}
