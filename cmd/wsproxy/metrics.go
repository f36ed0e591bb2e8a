package main

import "github.com/wsproxy/wsproxy/cmd/internal/metrics"

// metricsFlags are the metrics options, embedded in rootCmd.
type metricsFlags struct {
	MetricsListen string `env:"WSPROXY_METRICS_LISTEN" placeholder:"ADDR" group:"Metrics" help:"Serve Prometheus metrics (/metrics) and a health check (/healthz: 200 ok, 503 once shutting down) over plain HTTP on ADDR (host:port, or :port for every address), a listener of their own. Default: off."`

	metrics *metrics.Endpoint // nil without --metrics-listen
}
