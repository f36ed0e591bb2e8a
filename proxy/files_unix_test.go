//go:build unix

package proxy_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// specialWebDir is webDir with special files: a named pipe that nothing
// writes to (opening it blocking would never return), a unix socket, a
// link to the pipe, and a directory whose index.html is a named pipe.
func specialWebDir(t *testing.T) string {
	t.Helper()
	d := webDir(t)
	for _, fifo := range []string{"fifo", "pipe-index/index.html"} {
		p := filepath.Join(d, filepath.FromSlash(fifo))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "pipe-index", "other.txt"), []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(d, "sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Symlink("fifo", filepath.Join(d, "link-fifo")); err != nil {
		t.Fatal(err)
	}
	return d
}

// openFiles returns the number of descriptors the process has open, or -1
// where /proc does not tell.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestFileHandlerSpecial: special files are answered at once, 403, through
// a Server; many requests for them leave no goroutine, thread or
// descriptor behind (websockify, and wsproxy before, opened the pipe and
// waited for a writer for ever).
func TestFileHandlerSpecial(t *testing.T) {
	t.Parallel()
	d := specialWebDir(t)
	for _, fileOnly := range []bool{false, true} {
		h, err := proxy.NewFileHandler(d, proxy.FileOptions{FileOnly: fileOnly})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Handler: h})
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		t.Cleanup(client.CloseIdleConnections)
		listing := http.StatusOK
		if fileOnly {
			listing = http.StatusNotFound
		}
		for _, tc := range []struct {
			path   string
			status int
			body   string
		}{
			{"/fifo", 403, "403 Forbidden"},
			{"/link-fifo", 403, "403 Forbidden"},
			{"/sock", 403, "403 Forbidden"},
			{"/pipe-index/", listing, "other.txt"},
			{"/pipe-index/index.html", listing, "other.txt"}, // redirected to ./
			{"/a.txt", 200, "file a\n"},
		} {
			start := time.Now()
			resp, err := client.Get("http://" + addr + tc.path)
			if err != nil {
				t.Fatalf("file only %v: GET %s: %v", fileOnly, tc.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || (resp.StatusCode == 200 && !strings.Contains(string(b), tc.body)) {
				t.Errorf("file only %v: GET %s: got %d %q, want %d with %q", fileOnly, tc.path, resp.StatusCode, b, tc.status, tc.body)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("file only %v: GET %s took %v", fileOnly, tc.path, took)
			}
		}
	}
}

// TestFileHandlerSpecialNoLeak: many concurrent requests for a named pipe
// leave the goroutine and descriptor counts where they were.
func TestFileHandlerSpecialNoLeak(t *testing.T) {
	// Not parallel: it counts the process's goroutines and descriptors.
	d := specialWebDir(t)
	h, err := proxy.NewFileHandler(d, proxy.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Handler: h, HandshakeTimeout: time.Second})
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()

	goroutines, files := runtime.NumGoroutine(), openFiles()
	const n = 50
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, err := client.Get("http://" + addr + "/fifo")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusForbidden {
			t.Errorf("got %d, want 403", s)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), openFiles()
		if g <= goroutines+2 && f <= files+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d requests: %d goroutines and %d descriptors, want about %d and %d", n, g, f, goroutines, files)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
