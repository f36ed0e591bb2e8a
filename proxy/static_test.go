package proxy_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
)

// TestStaticRejected: a request refused on a connection that serves
// static files, its first or a later one, whether by the proxy or by
// net/http, is answered, logged as "request rejected" with the session ID
// and the client's address, reported to the Observer as bad_request, and
// ends the connection.
func TestStaticRejected(t *testing.T) {
	t.Parallel()
	const file = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	// net/http's own limit is MaxHeaderBytes and some: more than 8 KiB
	// passes on a keep-alive connection.
	big := "Cookie: " + strings.Repeat("x", 32<<10) + "\r\n"
	for _, tc := range []struct {
		name   string
		first  bool // the refused request is the first of the connection
		raw    string
		status int
		fields string // the log line's fields after client=ADDR
	}{
		{"NUL", true, "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
			`status=400 reason="malformed request path: NUL byte" client=ADDR method=GET path="/\x00"`},
		{"NULAfterFile", false, "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
			`status=400 reason="malformed request path: NUL byte" client=ADDR method=GET path="/\x00"`},
		{"HEADNULAfterFile", false, "HEAD /x%00y HTTP/1.1\r\nHost: x\r\n\r\n", 400,
			`status=400 reason="malformed request path: NUL byte" client=ADDR method=HEAD path="/x\x00y"`},
		{"Method", true, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405,
			`status=405 reason="method not allowed" client=ADDR method=POST path=/x`},
		{"MethodAfterFile", false, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405,
			`status=405 reason="method not allowed" client=ADDR method=POST path=/x`},
		{"Malformed", true, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400,
			`status=400 reason="malformed HTTP request" client=ADDR err="malformed MIME header: missing colon: \"No colon here\""`},
		{"MalformedAfterFile", false, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400,
			`status=400 reason="malformed HTTP request" client=ADDR err="answered by net/http: \"HTTP/1.1 400 Bad Request\""`},
		{"NoHostAfterFile", false, "GET / HTTP/1.1\r\n\r\n", 400,
			`status=400 reason="malformed HTTP request" client=ADDR err="answered by net/http: \"HTTP/1.1 400 Bad Request: missing required Host header\""`},
		{"TooLarge", true, "GET / HTTP/1.1\r\nHost: x\r\n" + big + "\r\n", 431,
			`status=431 reason="request header too large" client=ADDR`},
		{"TooLargeAfterFile", false, "GET / HTTP/1.1\r\nHost: x\r\n" + big + "\r\n", 431,
			`status=431 reason="request header too large" client=ADDR`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			obs := newChanObserver()
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
			_, addr := startServer(t, proxy.ServerOptions{
				Resolver:       startEcho(t),
				Handler:        handler,
				Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
				Observer:       obs,
				MaxHeaderBytes: 1024,
			})
			c := dial(t, addr, "")
			if !tc.first {
				c.write([]byte(file))
				if resp := c.readResponse(); resp.StatusCode != 200 {
					t.Fatalf("file: status %d, want 200", resp.StatusCode)
				}
			}
			c.write([]byte(tc.raw))
			resp, err := http.ReadResponse(c.br, &http.Request{Method: strings.Fields(tc.raw)[0]})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			c.expectEOF()

			e := obs.next(t, "rejected")
			if e.reason != proxy.RejectBadRequest {
				t.Errorf("observer: reason %v, want bad_request", e.reason)
			}
			obs.none(t)
			fields := strings.Replace(tc.fields, "ADDR", c.conn.LocalAddr().String(), 1)
			want := regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="request rejected" session=[0-9a-f]{32} ` + regexp.QuoteMeta(fields) + `$`)
			if !want.MatchString(logs.String()) {
				t.Errorf("log:\n%s\nwant a line with %s", logs.String(), want)
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 {
				t.Errorf("log: %d lines, want 1", n)
			}
		})
	}
}

// TestStaticWriteDeadline: a client that stops reading a file is cut off
// once a write has waited HandshakeTimeout; one that reads slowly but
// steadily gets the whole file, however long that takes in all (the
// deadline the handshake set at accept used to stay, and cut off any
// answer still being written HandshakeTimeout after it).
func TestStaticWriteDeadline(t *testing.T) {
	t.Parallel()
	const size = 16 << 20
	d := t.TempDir()
	f, err := os.Create(filepath.Join(d, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h, err := proxy.NewFileHandler(d, proxy.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	const limit = 300 * time.Millisecond
	_, addr := startServer(t, proxy.ServerOptions{Resolver: startEcho(t), Handler: h, HandshakeTimeout: limit})

	get := func(t *testing.T, pause func(n int64)) int64 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(64 << 10)
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		buf := make([]byte, 256<<10)
		var n int64
		for {
			pause(n)
			m, err := conn.Read(buf)
			n += int64(m)
			if err != nil {
				return n
			}
		}
	}

	t.Run("Stalled", func(t *testing.T) {
		t.Parallel()
		n := get(t, func(n int64) {
			if n == 0 {
				time.Sleep(6 * limit)
			}
		})
		if n >= size {
			t.Errorf("got %d bytes, want the connection cut before the end of the file", n)
		}
	})
	t.Run("Slow", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		n := get(t, func(int64) { time.Sleep(5 * time.Millisecond) })
		if n < size {
			t.Errorf("got %d bytes, want the whole file (%d) and its header", n, size)
		}
		if took := time.Since(start); took < 2*limit {
			t.Logf("took %v only: the limit was not put to the test", took)
		}
	})
}
