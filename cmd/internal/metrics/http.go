package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// closeTimeout bounds how long Server.Close lets a scrape in progress
// finish.
const closeTimeout = time.Second

// health is what /healthz answers.
type health struct{ draining atomic.Bool }

// Drain makes /healthz answer 503 "shutting down" from now on: the
// program has begun to shut down, so a load balancer should send new
// clients elsewhere while the open sessions drain. /metrics is still
// served until the listener is closed.
func (m *Metrics) Drain() { m.health.draining.Store(true) }

// Handler serves GET /metrics, in the Prometheus exposition formats, and
// GET /healthz: 200 "ok" while the program serves, 503 "shutting down"
// once Drain was called. Other paths are answered 404.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", m.healthz)
	return mux
}

func (m *Metrics) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if m.health.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "shutting down\n")
		return
	}
	io.WriteString(w, "ok\n")
}

// Server is the plain-HTTP listener of the metrics. Create it with Listen
// or Serve; Close must be called to stop it. Its methods are safe for
// concurrent use.
type Server struct {
	http  *http.Server
	ln    net.Listener
	done  chan struct{} // closed when http.Serve has returned
	close sync.Once
}

// Listen listens on the TCP address addr (host:port; ":port" for every
// address) and serves Handler there until Close. It returns the error of
// listening.
func (m *Metrics) Listen(ctx context.Context, addr string) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m.Serve(ln), nil
}

// Serve serves Handler on ln, in a goroutine, until Close, which closes ln.
func (m *Metrics) Serve(ln net.Listener) *Server {
	s := &Server{
		http: &http.Server{
			Handler:           m.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go s.serve()
	return s
}

func (s *Server) serve() {
	defer close(s.done)
	s.http.Serve(s.ln) // returns http.ErrServerClosed after Close
}

// Addr returns the address the metrics are served on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, lets the requests in progress finish for up to a
// second, closes the connections and waits for the server's goroutine. It
// is idempotent and returns nil.
func (s *Server) Close() error {
	s.close.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if s.http.Shutdown(ctx) != nil {
			s.http.Close()
		}
		<-s.done
	})
	return nil
}
