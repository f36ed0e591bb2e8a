package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// webDir returns a directory as --web serves it: a file, a directory with
// index.html, one without, and links in and out of it.
func webDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	files := map[string]string{
		"a.txt":           "file a\n",
		"app/index.html":  "<p>app</p>\n",
		"list/b.txt":      "file b\n",
		"list/c.txt":      "file c\n",
		"list/.d/sub.txt": "sub\n",
	}
	for name, content := range files {
		p := filepath.Join(d, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for link, to := range map[string]string{
			"link-a":       "a.txt",
			"link-out":     outside,
			"link-rel-out": "../" + filepath.Base(filepath.Dir(outside)) + "/secret.txt",
			"loop1":        "loop2",
			"loop2":        "loop1",
		} {
			if err := os.Symlink(to, filepath.Join(d, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

// get answers a GET of path with h.
func get(h http.Handler, path string) (int, string) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "http://x/", nil)
	r.URL.Path = path
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestFileHandler(t *testing.T) {
	t.Parallel()
	d := webDir(t)
	long := "/" + strings.Repeat("a", 300)
	for _, tc := range []struct {
		name     string
		fileOnly bool
		path     string
		status   int
		body     string // a part of the body
	}{
		{name: "File", path: "/a.txt", status: 200, body: "file a\n"},
		{name: "Index", path: "/app/", status: 200, body: "<p>app</p>"},
		{name: "IndexFileOnly", fileOnly: true, path: "/app/", status: 200, body: "<p>app</p>"},
		{name: "DirRedirect", path: "/app", status: 301},
		{name: "Listing", path: "/list/", status: 200, body: `<a href="c.txt">c.txt</a>`},
		{name: "ListingFileOnly", fileOnly: true, path: "/list/", status: 404},
		{name: "RootListing", path: "/", status: 200, body: `<a href="a.txt">a.txt</a>`},
		{name: "Missing", path: "/nope", status: 404},
		{name: "UnderAFile", path: "/a.txt/x", status: 404},
		{name: "NameTooLong", path: long, status: 404},
		{name: "DotDot", path: "/../a.txt", status: 200, body: "file a\n"},
		{name: "NUL", path: "/a.txt\x00", status: 400},
		{name: "LinkInside", path: "/link-a", status: 200, body: "file a\n"},
		{name: "LinkOutside", path: "/link-out", status: 403},
		{name: "RelativeLinkOutside", path: "/link-rel-out", status: 403},
		{name: "LinkLoop", path: "/loop1", status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if runtime.GOOS == "windows" && strings.Contains(tc.path, "link") {
				t.Skip("no symbolic links")
			}
			h, err := proxy.NewFileHandler(d, proxy.FileOptions{FileOnly: tc.fileOnly})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			status, body := get(h, tc.path)
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("GET %q: got %d %q, want %d with %q", tc.path, status, body, tc.status, tc.body)
			}
			if strings.Contains(body, "secret") {
				t.Errorf("GET %q: got the file outside the directory", tc.path)
			}
		})
	}
}

func TestFileHandlerErrors(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	file := filepath.Join(d, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"Missing": filepath.Join(d, "missing"), "File": file} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, err := proxy.NewFileHandler(dir, proxy.FileOptions{})
			if err == nil {
				h.Close()
				t.Fatal("got no error")
			}
			if !strings.HasPrefix(err.Error(), "web: ") || !strings.Contains(err.Error(), dir) {
				t.Errorf("got %q, want a web: error naming %s", err, dir)
			}
		})
	}
}

// TestFileHandlerClosed: after Close, requests are answered, with errors.
func TestFileHandlerClosed(t *testing.T) {
	t.Parallel()
	h, err := proxy.NewFileHandler(webDir(t), proxy.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if status, _ := get(h, "/a.txt"); status < 400 {
		t.Errorf("got %d after Close, want an error", status)
	}
}

// TestFileTraversal sends request lines as a hostile client writes them,
// unnormalised, to a Server with --web's handler: none reaches the file
// beside the directory, and each gets an answer, not a hang.
func TestFileTraversal(t *testing.T) {
	t.Parallel()
	d := webDir(t)
	h, err := proxy.NewFileHandler(d, proxy.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() }) // after the parallel subtests
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Handler: h})
	outside := filepath.Base(filepath.Dir(d)) // the temporary directory beside d
	for _, target := range []string{
		"/../secret.txt",
		"/../../../../etc/passwd",
		"/%2e%2e/secret.txt",
		"/%2E%2E%2Fsecret.txt",
		"/..%2fsecret.txt",
		"/list/..%2f..%2f" + outside + "%2fsecret.txt",
		"/..%5csecret.txt",
		"/list/%2e%2e/%2e%2e/" + outside + "/secret.txt",
		"//etc/passwd",
		"/./.././secret.txt",
		"/link-out",
		"/link-rel-out",
		"/link-out/",
		"/a.txt/..%2f..%2fsecret.txt",
		"http://x/../secret.txt",
		"/%c0%ae%c0%ae/secret.txt",
		"/..;/secret.txt",
		"*",
	} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "secret") || strings.Contains(string(body), "root:") {
				t.Errorf("GET %s: %d, got a file outside the directory: %q", target, resp.StatusCode, body)
			}
			if resp.StatusCode == http.StatusInternalServerError {
				t.Errorf("GET %s: 500, want a client error: %q", target, body)
			}
		})
	}
}
