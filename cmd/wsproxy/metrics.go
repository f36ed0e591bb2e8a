package main

import (
	"context"
	"log/slog"

	"github.com/wsproxy/wsproxy/cmd/internal/metrics"
	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// metricsFlags are the metrics options, embedded in rootCmd.
type metricsFlags struct {
	MetricsListen string `env:"WSPROXY_METRICS_LISTEN" placeholder:"ADDR" group:"Metrics" help:"Serve Prometheus metrics (/metrics) and a health check (/healthz: 200 ok, 503 once shutting down) over plain HTTP on ADDR (host:port, or :port for every address), a listener of their own. Default: off."`

	metrics       *metrics.Metrics // nil without --metrics-listen
	metricsServer *metrics.Server
}

// startMetrics listens on --metrics-listen and returns the metrics as the
// proxy's Observer, with rec's totals when rec is not nil. It returns a
// nil Observer without --metrics-listen. stopMetrics stops the listener.
func (f *metricsFlags) startMetrics(ctx context.Context, rec *record.Recorder, log *slog.Logger) (proxy.Observer, error) {
	if f.MetricsListen == "" {
		return nil, nil
	}
	m := metrics.New("wsproxy")
	if rec != nil {
		m.AddRecorder(rec.Stats)
	}
	s, err := m.Listen(ctx, f.MetricsListen)
	if err != nil {
		return nil, err
	}
	f.metrics, f.metricsServer = m, s
	log.Info("metrics listening", "addr", s.Addr().String())
	return m, nil
}

// metricsFor adds the byte counts of srv to the metrics, if any.
func (f *metricsFlags) metricsFor(srv *proxy.Server) {
	if f.metrics != nil {
		f.metrics.AddServer(srv.Stats)
	}
}

// drainMetrics makes /healthz answer 503: the shutdown has begun.
func (f *metricsFlags) drainMetrics() {
	if f.metrics != nil {
		f.metrics.Drain()
	}
}

// stopMetrics closes the metrics listener, if any.
func (f *metricsFlags) stopMetrics() {
	if f.metricsServer != nil {
		f.metricsServer.Close()
	}
}
