package metrics

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// Endpoint is what a program's --metrics-listen starts: its Metrics,
// served on a listener of their own. A nil *Endpoint (the option not given)
// does nothing, so a program calls its methods without checking. Its
// methods are safe for concurrent use; Close must be called once the
// program's server has stopped.
type Endpoint struct {
	m   *Metrics
	srv *Server
}

// Start serves the metrics of the program named namespace ("wsproxy",
// "wsreplay") on addr and logs the address. It returns nil without an
// error when addr is empty, and the error of listening.
func Start(ctx context.Context, namespace, addr string, log *slog.Logger) (*Endpoint, error) {
	if addr == "" {
		return nil, nil
	}
	m := New(namespace)
	srv, err := m.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	log.Info("metrics listening", "addr", srv.Addr().String())
	return &Endpoint{m: m, srv: srv}, nil
}

// Observer returns the metrics as a proxy.Server's Observer; nil for a nil
// Endpoint.
func (e *Endpoint) Observer() proxy.Observer {
	if e == nil {
		return nil
	}
	return e.m
}

// AddServer adds the byte counts of a proxy.Server (its Stats method).
func (e *Endpoint) AddServer(stats func() proxy.Stats) {
	if e != nil {
		e.m.AddServer(stats)
	}
}

// AddRecorder adds the totals of a record.Recorder (its Stats method).
func (e *Endpoint) AddRecorder(stats func() record.Stats) {
	if e != nil {
		e.m.AddRecorder(stats)
	}
}

// Drain makes /healthz answer 503: the program has begun to shut down.
func (e *Endpoint) Drain() {
	if e != nil {
		e.m.Drain()
	}
}

// Close stops the listener (Server.Close).
func (e *Endpoint) Close() {
	if e != nil {
		e.srv.Close()
	}
}

// Register adds a collector of the program's own (the recording
// uploader's), whose metric names it prefixes with Namespace.
func (e *Endpoint) Register(c prometheus.Collector) {
	if e != nil {
		e.m.reg.MustRegister(c)
	}
}

// Namespace returns the program's metric namespace ("wsproxy"); "" for a
// nil Endpoint.
func (e *Endpoint) Namespace() string {
	if e == nil {
		return ""
	}
	return e.m.ns
}
