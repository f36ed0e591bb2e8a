package main

import (
	"context"
	"encoding/base64"
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

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/metrics/metricstest"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

var metricsListeningRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// metricsAddr returns the address the instance serves its metrics on.
func (in *instance) metricsAddr(t *testing.T) string {
	t.Helper()
	return in.stderr.Wait(t, metricsListeningRE)[1]
}

// TestMetricsSession follows a recorded session through the metrics: open,
// the bytes each way, closed by the client, and the recording's bytes.
func TestMetricsSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := startRun(t, "--metrics-listen", "127.0.0.1:0", "--record-dir", dir, "127.0.0.1:0", startEcho(t, "tcp", nil))
	maddr := in.metricsAddr(t)
	if status, body := metricstest.Get(t, maddr, "/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 ok", status, body)
	}
	metricstest.Want(t, maddr, 0, "wsproxy_sessions_active")

	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_active")
	assertEcho(t, c, "twelve bytes")
	assertEcho(t, c, strings.Repeat("x", 1000))
	wsutil.WriteClientMessage(c, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	io.Copy(io.Discard, c)

	// Counted once the recording is sealed.
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_total", "outcome", "client")
	m := metricstest.Scrape(t, maddr)
	names := recordings(t, dir)
	if len(names) != 1 {
		t.Fatalf("recordings %v, want 1", names)
	}
	fi, err := os.Stat(names[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wsproxy_sessions_active", nil, 0},
		{"wsproxy_sessions_total", []string{"outcome", "error"}, 0},
		{"wsproxy_session_duration_seconds", nil, 1},
		{"wsproxy_bytes_total", []string{"direction", "client_to_target"}, 1012},
		{"wsproxy_bytes_total", []string{"direction", "target_to_client"}, 1012},
		{"wsproxy_recording_bytes_written_total", nil, float64(fi.Size())},
		{"wsproxy_recording_errors_total", nil, 0},
	} {
		if v, ok := m.Value(s.name, s.labels...); !ok || v != s.want {
			t.Errorf("%s %v: %v (found: %v), want %v", s.name, s.labels, v, ok, s.want)
		}
	}
	if _, ok := m.Value("go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
}

// TestMetricsFailures counts each kind of failed handshake once.
func TestMetricsFailures(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	tokens := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, tokens, []byte("down: "+closed.Addr().String()+"\n"))
	in := startRun(t, "--metrics-listen", "127.0.0.1:0", "--token-plugin", "TokenFile", "--token-source", tokens,
		"--auth-plugin", "BasicHTTPAuth", "--auth-source", "alice:s3cret", "127.0.0.1:0")
	maddr := in.metricsAddr(t)

	auth := ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))}})
	for _, tc := range []struct {
		name   string
		dialer ws.Dialer
		path   string
		reason string
	}{
		{"Auth", ws.Dialer{}, "/?token=down", "auth"},
		{"UnknownToken", ws.Dialer{Header: auth}, "/?token=nope", "unknown_token"},
		{"MissingToken", ws.Dialer{Header: auth}, "/", "bad_request"},
	} {
		if c, _, _, err := tc.dialer.Dial(t.Context(), "ws://"+in.addr+tc.path); err == nil {
			c.Close()
			t.Errorf("%s: the upgrade succeeded", tc.name)
		}
		metricstest.Want(t, maddr, 1, "wsproxy_handshake_failures_total", "reason", tc.reason)
	}
	d := ws.Dialer{Header: auth}
	c, br, _, err := d.Dial(t.Context(), "ws://"+in.addr+"/?token=down")
	if err != nil {
		t.Fatal(err)
	}
	if br != nil { // the close frame came with the response
		c = wstest.Buffered(c, br)
	}
	if code := readClose(t, c); code != ws.StatusInternalServerError {
		t.Errorf("unreachable target: close %d, want 1011", code)
	}
	c.Close()
	metricstest.Want(t, maddr, 1, "wsproxy_handshake_failures_total", "reason", "target_unreachable")
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_total", "outcome", "error")
	m := metricstest.Scrape(t, maddr)
	for _, reason := range []string{"tls", "plain", "timeout", "closed", "invalid_token", "resolve", "shutdown"} {
		if v, ok := m.Value("wsproxy_handshake_failures_total", "reason", reason); !ok || v != 0 {
			t.Errorf("handshake_failures_total{reason=%q}: %v (found: %v), want 0", reason, v, ok)
		}
	}
}

// TestMetricsHeartbeatTimeout counts a client that does not answer pings.
func TestMetricsHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--metrics-listen", "127.0.0.1:0", "--heartbeat", "0.05", "--heartbeat-timeout", "0.2", "127.0.0.1:0", startEcho(t, "tcp", nil))
	maddr := in.metricsAddr(t)
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	if code := readClose(t, c); code != ws.StatusGoingAway {
		t.Errorf("close %d, want 1001", code)
	}
	metricstest.Want(t, maddr, 1, "wsproxy_heartbeat_timeouts_total")
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_total", "outcome", "error")
}

// TestMetricsRecordingError counts a recording that cannot be created: its
// directory is a file.
func TestMetricsRecordingError(t *testing.T) {
	t.Parallel()
	blocked := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocked, nil)
	in := startRun(t, "--metrics-listen", "127.0.0.1:0", "--record-dir", blocked, "127.0.0.1:0", startEcho(t, "tcp", nil))
	maddr := in.metricsAddr(t)
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	if code := readClose(t, c); code != ws.StatusInternalServerError {
		t.Errorf("close %d, want 1011", code)
	}
	metricstest.Want(t, maddr, 1, "wsproxy_recording_errors_total")
	metricstest.Want(t, maddr, 0, "wsproxy_recording_bytes_written_total")
}

// TestMetricsShutdown: once a signal has started the shutdown, /healthz
// answers 503 while the open sessions drain; the metrics listener closes
// with the program.
func TestMetricsShutdown(t *testing.T) {
	t.Parallel()
	in := startRun(t, "--metrics-listen", "127.0.0.1:0", "--shutdown-timeout", "10", "127.0.0.1:0", startEcho(t, "tcp", nil))
	maddr := in.metricsAddr(t)
	c := mustDialWS(t, "ws://"+in.addr+"/", nil)
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_active")
	in.cancel() // as SIGTERM
	in.stderr.Wait(t, regexp.MustCompile(`shutting down on signal`))
	waitFor(t, "/healthz to answer 503", func() bool {
		status, _ := metricstest.Get(t, maddr, "/healthz")
		return status == http.StatusServiceUnavailable
	})
	assertEcho(t, c, "still draining")
	c.Close()
	if err := in.exit(t); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if conn, err := net.Dial("tcp", maddr); err == nil {
		conn.Close()
		t.Error("the metrics port still accepts connections after exit")
	}
}

// TestMetricsListenError: an address that cannot be listened on stops
// wsproxy at start.
func TestMetricsListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr strings.Builder
	err = run(context.Background(), []string{"--metrics-listen", ln.Addr().String(), "127.0.0.1:0", "127.0.0.1:1"}, io.Discard, &stderr)
	if err == nil || cli.ExitCode(err) == 0 || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("got %v (exit code %d), want a metrics listen error", err, cli.ExitCode(err))
	}
}
