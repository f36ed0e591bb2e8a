package main

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsproxy/wsproxy/cmd/internal/metrics/metricstest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

var metricsListeningRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// TestMetrics follows a replay through wsreplay's metrics, and counts a
// request for a recording that does not exist.
func TestMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRecording(t, dir, "a.wsrec")
	writeRecording(t, dir, "b.wsrec")
	c := start(t, "--metrics-listen", "127.0.0.1:0", "127.0.0.1:0", dir)
	maddr := c.stderr.Wait(t, metricsListeningRE)[1]
	if status, body := metricstest.Get(t, maddr, "/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 ok", status, body)
	}
	metricstest.Want(t, maddr, 0, "wsreplay_sessions_active")

	cl := wstest.Dial(t, "ws://"+c.addr+"/?token=a.wsrec", wstest.DialOptions{})
	cl.Expect(t, "hello")
	cl.Expect(t, "world")
	cl.ExpectClose(t, ws.StatusNormalClosure)
	metricstest.Want(t, maddr, 1, "wsreplay_sessions_total", "outcome", "target")
	m := metricstest.Scrape(t, maddr)
	for _, s := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wsreplay_sessions_active", nil, 0},
		{"wsreplay_session_duration_seconds", nil, 1},
		{"wsreplay_bytes_total", []string{"direction", "target_to_client"}, 10},
		{"wsreplay_bytes_total", []string{"direction", "client_to_target"}, 0},
	} {
		if v, ok := m.Value(s.name, s.labels...); !ok || v != s.want {
			t.Errorf("%s %v: %v (found: %v), want %v", s.name, s.labels, v, ok, s.want)
		}
	}
	if _, ok := m.Value("wsreplay_recording_errors_total"); ok {
		t.Error("wsreplay has recording metrics; it records nothing")
	}

	if conn, _, _, err := ws.Dial(t.Context(), "ws://"+c.addr+"/?token=nope.wsrec"); err == nil {
		conn.Close()
		t.Fatal("an unknown recording was served")
	}
	metricstest.Want(t, maddr, 1, "wsreplay_handshake_failures_total", "reason", "unknown_token")

	c.stop()
	if err := c.wait(t); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + maddr + "/healthz"); err == nil {
		t.Error("the metrics listener still serves after exit")
	}
}
