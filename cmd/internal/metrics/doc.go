// Package metrics serves the Prometheus metrics of wsproxy and wsreplay on
// a listener of their own (--metrics-listen): /metrics in the Prometheus
// text format, from a registry of the process's own (never the global
// default registry), and /healthz for load balancers and orchestrators.
//
// A Metrics is the proxy.Observer of the server, counting sessions and
// handshake failures as they happen; byte counts are read from the
// server's and the recorder's Stats when /metrics is scraped, so the
// proxy's data path keeps no shared counters. Package proxy knows nothing
// of Prometheus.
package metrics
