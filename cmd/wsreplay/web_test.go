//go:build unix

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/internal/regfile"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// mkfifo makes a named pipe that nothing writes to: opening it blocking
// would never return.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rawGET sends GET path as is on a new connection and returns the status,
// and the client's address.
func rawGET(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, c.LocalAddr().String()
}

// TestWebSpecialFiles: wsreplay's --web answers a named pipe or a socket
// 403 at once (it waited for a writer for ever, as wsproxy did), and
// GET /%00 400 (it was a 500), logged as a rejected request.
func TestWebSpecialFiles(t *testing.T) {
	t.Parallel()
	web := webDir(t)
	mkfifo(t, filepath.Join(web, "fifo"))
	ln, err := net.Listen("unix", filepath.Join(web, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := start(t, "--web", web, "127.0.0.1:0", writeRecording(t, t.TempDir(), "a.wsrec"))

	start := time.Now()
	var wg sync.WaitGroup
	for i := range 100 {
		path := []string{"/fifo", "/sock"}[i%2]
		wg.Go(func() {
			if status, _ := rawGET(t, cmd.addr, path); status != http.StatusForbidden {
				t.Errorf("GET %s: got %d, want 403", path, status)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("100 requests took %v", took)
	}
	if status, _ := rawGET(t, cmd.addr, "/vnc.html"); status != http.StatusOK {
		t.Errorf("GET /vnc.html: got %d, want 200", status)
	}

	status, client := rawGET(t, cmd.addr, "/%00")
	if status != http.StatusBadRequest {
		t.Errorf("GET /%%00: got %d, want 400", status)
	}
	cmd.stderr.Wait(t, regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="request rejected" session=[0-9a-f]{32} status=400 reason="malformed request path: NUL byte" client=`+
		regexp.QuoteMeta(client)+` method=GET path="/\\x00"$`))
}

// TestSpecialRecordings: a named pipe given as a recording is refused at
// start (wsreplay waited for a writer for ever); one in a recordings
// directory, or a link to it, is neither listed nor replayed.
func TestSpecialRecordings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	fifo := filepath.Join(dir, "pipe.wsrec")
	mkfifo(t, fifo)
	if err := os.Symlink("pipe.wsrec", filepath.Join(dir, "link.wsrec")); err != nil {
		t.Fatal(err)
	}

	t.Run("Named", func(t *testing.T) {
		t.Parallel()
		done := make(chan error, 1)
		var stderr wstest.LogBuffer
		go func() { done <- run(t.Context(), []string{"127.0.0.1:0", fifo}, io.Discard, &stderr) }()
		select {
		case err := <-done:
			want := "wsreplay: error: replay: open " + fifo + ": is a named pipe, not a regular file\n"
			if !errors.Is(err, regfile.ErrSpecial) || !strings.Contains(stderr.String(), want) {
				t.Errorf("got %v, stderr %q; want %q", err, stderr.String(), want)
			}
		case <-time.After(waitTimeout):
			t.Fatal("wsreplay did not exit")
		}
	})
	t.Run("InDirectory", func(t *testing.T) {
		t.Parallel()
		cmd := start(t, "--speed", "max", "127.0.0.1:0", dir)
		_, body := get(t, http.DefaultClient, "http://"+cmd.addr+"/recordings", false)
		if !strings.Contains(body, `"name":"a.wsrec"`) || strings.Contains(body, "pipe") || strings.Contains(body, "link") {
			t.Errorf("got /recordings %s, want a.wsrec alone", body)
		}
		for _, name := range []string{"pipe.wsrec", "link.wsrec"} {
			if status, body := get(t, http.DefaultClient, "http://"+cmd.addr+"/"+name, true); status != http.StatusNotFound {
				t.Errorf("%s: got %d %q, want 404", name, status, body)
			}
		}
		c := wstest.Dial(t, "ws://"+cmd.addr+"/a.wsrec", wstest.DialOptions{})
		c.Expect(t, "hello")
		http.DefaultClient.CloseIdleConnections()
	})
}
