package metrics_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/wsproxy/wsproxy/cmd/internal/metrics"
	"github.com/wsproxy/wsproxy/cmd/internal/metrics/metricstest"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/wstest"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen serves m on 127.0.0.1:0 until the test ends.
func listen(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	s, err := m.Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr().String()
}

// startEcho starts a TCP echo server, closed when the test ends.
func startEcho(t *testing.T) proxy.Target {
	t.Helper()
	return proxy.Target{Address: wstest.Echo(t)}
}

// startProxy serves opts with m as its Observer, until the test ends.
func startProxy(t *testing.T, m *metrics.Metrics, opts proxy.ServerOptions) string {
	t.Helper()
	opts.Observer = m
	srv, err := proxy.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	m.AddServer(srv.Stats)
	return wstest.Start(t, srv, proxy.ErrServerClosed)
}

// The metrics follow a session as it opens, carries data and closes, and
// count the connections that fail.
func TestSessionMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New("wsproxy")
	addr := startProxy(t, m, proxy.ServerOptions{Resolver: startEcho(t)})
	maddr := listen(t, m)

	before := metricstest.Scrape(t, maddr)
	for _, s := range []struct {
		name   string
		labels []string
	}{
		{"wsproxy_sessions_active", nil},
		{"wsproxy_sessions_total", []string{"outcome", "client"}},
		{"wsproxy_sessions_total", []string{"outcome", "error"}},
		{"wsproxy_handshake_failures_total", []string{"reason", "bad_request"}},
		{"wsproxy_handshake_failures_total", []string{"reason", "target_unreachable"}},
		{"wsproxy_session_duration_seconds", nil},
		{"wsproxy_heartbeat_timeouts_total", nil},
		{"wsproxy_bytes_total", []string{"direction", "client_to_target"}},
		{"wsproxy_bytes_total", []string{"direction", "target_to_client"}},
	} {
		if v, ok := before.Value(s.name, s.labels...); !ok || v != 0 {
			t.Errorf("%s %v before any connection: %v (found: %v), want 0", s.name, s.labels, v, ok)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_open_fds"} {
		if _, ok := before.Value(name); !ok {
			t.Errorf("no %s", name)
		}
	}

	c, _, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_active")
	if err := wsutil.WriteClientBinary(c, []byte("hello, target")); err != nil {
		t.Fatal(err)
	}
	if p, err := wsutil.ReadServerBinary(c); err != nil || string(p) != "hello, target" {
		t.Fatalf("echo: %q, %v", p, err)
	}
	metricstest.Want(t, maddr, 13, "wsproxy_bytes_total", "direction", "client_to_target")
	metricstest.Want(t, maddr, 13, "wsproxy_bytes_total", "direction", "target_to_client")

	wsutil.WriteClientMessage(c, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	io.Copy(io.Discard, c)
	metricstest.Want(t, maddr, 1, "wsproxy_sessions_total", "outcome", "client")
	after := metricstest.Scrape(t, maddr)
	for _, s := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wsproxy_sessions_active", nil, 0},
		{"wsproxy_sessions_total", []string{"outcome", "error"}, 0},
		{"wsproxy_session_duration_seconds", nil, 1},
		{"wsproxy_bytes_total", []string{"direction", "client_to_target"}, 13},
		{"wsproxy_bytes_total", []string{"direction", "target_to_client"}, 13},
	} {
		if v, ok := after.Value(s.name, s.labels...); !ok || v != s.want {
			t.Errorf("%s %v after the session: %v (found: %v), want %v", s.name, s.labels, v, ok, s.want)
		}
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	io.Copy(io.Discard, conn)
	conn.Close()
	metricstest.Want(t, maddr, 1, "wsproxy_handshake_failures_total", "reason", "bad_request")
}

// A target that cannot be reached counts as a failure and as a session
// ended by an error.
func TestTargetUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	m := metrics.New("wsreplay")
	addr := startProxy(t, m, proxy.ServerOptions{Resolver: proxy.Target{Address: ln.Addr().String()}})
	maddr := listen(t, m)
	c, _, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, c)
	c.Close()
	metricstest.Want(t, maddr, 1, "wsreplay_handshake_failures_total", "reason", "target_unreachable")
	metricstest.Want(t, maddr, 1, "wsreplay_sessions_total", "outcome", "error")
	metricstest.Want(t, maddr, 0, "wsreplay_sessions_active")
}

// The recorder's totals are read at each scrape.
func TestRecorderMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec, err := record.New(record.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	m := metrics.New("wsproxy")
	m.AddRecorder(rec.Stats)
	maddr := listen(t, m)
	metricstest.Want(t, maddr, 0, "wsproxy_recording_bytes_written_total")

	s, err := rec.Start(format.Header{})
	if err != nil {
		t.Fatal(err)
	}
	s.Frame(format.ClientToTarget, format.Binary, time.Millisecond, []byte("recorded"))
	if err := s.Close(0, format.CloseInfo{}); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.wsrec"))
	if len(names) != 1 {
		t.Fatalf("recordings %v, want 1", names)
	}
	fi, err := os.Stat(names[0])
	if err != nil {
		t.Fatal(err)
	}
	metricstest.Want(t, maddr, float64(fi.Size()), "wsproxy_recording_bytes_written_total")
	metricstest.Want(t, maddr, 0, "wsproxy_recording_errors_total")

	// A recording directory that is a file cannot be written.
	blocked := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocked, nil, 0o600)
	bad, err := record.New(record.Options{Dir: blocked})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	m = metrics.New("wsproxy")
	m.AddRecorder(bad.Stats)
	maddr = listen(t, m)
	if _, err := bad.Start(format.Header{}); err == nil {
		t.Fatal("recording in a file: no error")
	}
	metricstest.Want(t, maddr, 1, "wsproxy_recording_errors_total")
}

// /healthz answers 200 while serving and 503 once shutting down; /metrics
// is served meanwhile; other paths are 404.
func TestHealthz(t *testing.T) {
	t.Parallel()
	m := metrics.New("wsproxy")
	maddr := listen(t, m)
	if status, body := metricstest.Get(t, maddr, "/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 \"ok\\n\"", status, body)
	}
	if status, _ := metricstest.Get(t, maddr, "/"); status != http.StatusNotFound {
		t.Errorf("GET /: %d, want 404", status)
	}
	m.Drain()
	if status, body := metricstest.Get(t, maddr, "/healthz"); status != http.StatusServiceUnavailable || body != "shutting down\n" {
		t.Errorf("GET /healthz after Drain: %d %q, want 503 \"shutting down\\n\"", status, body)
	}
	metricstest.Want(t, maddr, 0, "wsproxy_sessions_active")
}

// Close stops the listener: nothing is served after it.
func TestClose(t *testing.T) {
	t.Parallel()
	m := metrics.New("wsproxy")
	s, err := m.Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	metricstest.Get(t, addr, "/healthz")
	s.Close()
	s.Close() // idempotent
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the metrics port still accepts connections after Close")
	}
	if _, err := m.Listen(t.Context(), "not an address"); err == nil || !strings.HasPrefix(err.Error(), "metrics: ") {
		t.Errorf("Listen on a bad address: %v, want a metrics: error", err)
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ci   proxy.CloseInfo
		want string
	}{
		{"Client", proxy.CloseInfo{By: proxy.SideClient, Code: proxy.CloseNormal}, "client"},
		{"ClientGone", proxy.CloseInfo{By: proxy.SideClient, Code: proxy.CloseAbnormal}, "client"},
		{"Target", proxy.CloseInfo{By: proxy.SideTarget, Code: proxy.CloseNormal}, "target"},
		{"Proxy", proxy.CloseInfo{By: proxy.SideProxy, Code: proxy.CloseGoingAway}, "proxy"},
		{"ErrTarget", proxy.CloseInfo{By: proxy.SideTarget, Code: proxy.CloseInternalError, Err: errors.New("reset")}, "error"},
		{"ErrProxy", proxy.CloseInfo{By: proxy.SideProxy, Code: proxy.CloseInternalError, Err: errors.New("dial")}, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := metrics.Outcome(tt.ci); got != tt.want {
				t.Errorf("Outcome(%+v) = %q, want %q", tt.ci, got, tt.want)
			}
		})
	}
}

// Without --metrics-listen a program has a nil Endpoint: every method does
// nothing, and its Observer is a nil interface, which the proxy skips.
func TestNilEndpoint(t *testing.T) {
	e, err := metrics.Start(t.Context(), "wsproxy", "", slog.New(slog.DiscardHandler))
	if e != nil || err != nil {
		t.Fatalf("Start with no address: %v, %v; want nil, nil", e, err)
	}
	if o := e.Observer(); o != nil {
		t.Errorf("Observer of a nil Endpoint is %#v, want a nil interface", o)
	}
	e.AddServer(func() proxy.Stats { return proxy.Stats{} })
	e.AddRecorder(func() record.Stats { return record.Stats{} })
	e.Drain()
	e.Close()
}
