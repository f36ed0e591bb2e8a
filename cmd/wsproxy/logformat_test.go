package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestLogFormatJSON: with --log-format json every line on stderr and in
// --log-file is a JSON object, and every line about a connection, whether
// it became a session or was rejected or dropped before, carries the
// session ID, the same on all the lines of one connection.
func TestLogFormatJSON(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "wsproxy.log")
	in := startRun(t, "--log-format", "json", "--log-file", logFile, "127.0.0.1:0", startEcho(t, "tcp", nil))

	// A plain GET without --web: 405, "request rejected".
	resp, err := http.Get("http://" + in.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d, want 405", resp.StatusCode)
	}
	// A connection that closes before its first byte: "connection dropped".
	c, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A session: "session open", "session closed".
	wc := mustDialWS(t, "ws://"+in.addr+"/", nil)
	if err := wsutil.WriteClientBinary(wc, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if p, err := wsutil.ReadServerBinary(wc); err != nil || string(p) != "hello" {
		t.Fatalf("echo: %q %v", p, err)
	}
	ws.WriteFrame(wc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	readClose(t, wc)
	for _, msg := range []string{`"msg":"request rejected"`, `"msg":"connection dropped"`, `"msg":"session closed"`} {
		waitFor(t, msg, func() bool { return strings.Contains(in.stderr.String(), msg) })
	}
	in.cancel()
	if err := in.exit(t); err != nil {
		t.Fatal(err)
	}

	fromFile, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for where, out := range map[string]string{"stderr": in.stderr.String(), "log file": string(fromFile)} {
		sessions := map[string]string{} // msg → session
		for line := range strings.Lines(out) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s: line %q is not JSON: %v", where, line, err)
			}
			msg, _ := m["msg"].(string)
			if m["time"] == nil || m["level"] == nil || msg == "" {
				t.Errorf("%s: line %q lacks time, level or msg", where, line)
			}
			switch msg {
			case "request rejected", "connection dropped", "session open", "session closed":
				s, _ := m["session"].(string)
				if !id.MatchString(s) {
					t.Errorf("%s: %q line without a session ID: %s", where, msg, line)
				}
				sessions[msg] = s
			}
		}
		if len(sessions) != 4 {
			t.Fatalf("%s: lines seen %v, want the four kinds:\n%s", where, sessions, out)
		}
		if sessions["session open"] != sessions["session closed"] {
			t.Errorf("%s: session open %s, closed %s: want the same ID", where, sessions["session open"], sessions["session closed"])
		}
		if sessions["request rejected"] == sessions["connection dropped"] || sessions["request rejected"] == sessions["session open"] {
			t.Errorf("%s: different connections share an ID: %v", where, sessions)
		}
	}
}
