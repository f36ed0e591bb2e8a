package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/metrics/metricstest"
)

// TestWebRejected: requests wsproxy refuses on the --web port (a NUL in
// the path, a malformed request, a header too large), first on their
// connection or after a file, are answered 400 or 431 (GET /%00 was a
// 500) and logged as rejected requests with the client's address and the
// session ID, and counted as bad_request.
func TestWebRejected(t *testing.T) {
	t.Parallel()
	web := t.TempDir()
	writeFile(t, filepath.Join(web, "vnc.html"), []byte("<title>noVNC</title>"))
	in := startRun(t, "--web", web, "--metrics-listen", "127.0.0.1:0", "127.0.0.1:0", startEcho(t, "tcp", nil))
	maddr := in.metricsAddr(t)
	const file = "GET /vnc.html HTTP/1.1\r\nHost: x\r\n\r\n"
	big := "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("x", 128<<10) + "\r\n\r\n"
	tests := []struct {
		name   string
		after  bool // sent after a request for a file on the same connection
		raw    string
		status int
		fields string // of the log line after session=ID; ADDR is the client's
	}{
		{"NUL", false, "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
			`status=400 reason="malformed request path: NUL byte" client=ADDR method=GET path="/\x00"`},
		{"NULAfterFile", true, "GET /vnc%00.html HTTP/1.1\r\nHost: x\r\n\r\n", 400,
			`status=400 reason="malformed request path: NUL byte" client=ADDR method=GET path="/vnc\x00.html"`},
		{"Malformed", false, "GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400,
			`status=400 reason="malformed HTTP request" client=ADDR err="malformed MIME header: missing colon: \"No colon\""`},
		{"MalformedAfterFile", true, "GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400,
			`status=400 reason="malformed HTTP request" client=ADDR err="answered by net/http: \"HTTP/1.1 400 Bad Request\""`},
		{"TooLarge", false, big, 431, `status=431 reason="request header too large" client=ADDR`},
		{"TooLargeAfterFile", true, big, 431, `status=431 reason="request header too large" client=ADDR`},
		{"MethodAfterFile", true, "DELETE /vnc.html HTTP/1.1\r\nHost: x\r\n\r\n", 405,
			`status=405 reason="method not allowed" client=ADDR method=DELETE path=/vnc.html`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", in.addr, waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(waitTimeout))
			br := bufio.NewReader(c)
			if tc.after {
				io.WriteString(c, file)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != 200 {
					t.Fatalf("file: got %d, want 200", resp.StatusCode)
				}
			}
			io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.status)
			}
			fields := strings.Replace(tc.fields, "ADDR", c.LocalAddr().String(), 1)
			in.stderr.Wait(t, regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="request rejected" session=[0-9a-f]{32} `+regexp.QuoteMeta(fields)+`$`))
		})
	}
	metricstest.Want(t, maddr, float64(len(tests)), "wsproxy_handshake_failures_total", "reason", "bad_request")
}
