package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/record"
)

// DurationBuckets are the upper bounds, in seconds, of the session
// duration histogram: from a failed connection (100 ms) through
// interactive sessions of minutes to a working day.
var DurationBuckets = []float64{0.1, 1, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800}

// Outcomes of the sessions_total counter (label outcome).
const (
	OutcomeClient = "client" // the client closed the session
	OutcomeTarget = "target" // the target closed its connection
	OutcomeProxy  = "proxy"  // the proxy closed it cleanly: idle timeout, shutdown
	OutcomeError  = "error"  // an error ended it: see CloseInfo.Err
)

// Metrics are the metrics of one wsproxy or wsreplay process, in a
// registry of their own, with Go runtime and process metrics. A Metrics is
// the proxy.Observer that keeps the session and failure counts; its
// methods are safe for concurrent use. Create it with New.
type Metrics struct {
	ns  string
	reg *prometheus.Registry

	active     prometheus.Gauge
	sessions   *prometheus.CounterVec
	failures   *prometheus.CounterVec
	duration   prometheus.Histogram
	heartbeats prometheus.Counter

	health health
}

var _ proxy.Observer = (*Metrics)(nil)

// New returns the metrics of a program, named namespace_* ("wsproxy" or
// "wsreplay"), with every label value of sessions_total and
// handshake_failures_total at zero.
func New(namespace string) *Metrics {
	m := &Metrics{ns: namespace, reg: prometheus.NewRegistry()}
	m.active = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "sessions_active",
		Help: "Sessions open now: upgraded WebSocket connections, from the upgrade to the end of the closing handshake.",
	})
	m.sessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sessions_total",
		Help: "Sessions ended, by outcome: closed by the client, by the target, by the proxy (idle timeout, shutdown), or ended by an error.",
	}, []string{"outcome"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "handshake_failures_total",
		Help: "Connections that did not become a session, by reason; target_unreachable counts upgraded sessions whose target could not be dialled.",
	}, []string{"reason"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "session_duration_seconds",
		Help:    "Duration of the sessions that ended.",
		Buckets: DurationBuckets,
	})
	m.heartbeats = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "heartbeat_timeouts_total",
		Help: "Sessions closed because the client did not answer a ping in time.",
	})
	for _, o := range []string{OutcomeClient, OutcomeTarget, OutcomeProxy, OutcomeError} {
		m.sessions.WithLabelValues(o)
	}
	for _, r := range proxy.RejectReasons() {
		m.failures.WithLabelValues(r.String())
	}
	m.reg.MustRegister(
		m.active, m.sessions, m.failures, m.duration, m.heartbeats,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry the metrics are in, for tests and for
// adding metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AddServer adds namespace_bytes_total{direction}, the payload bytes the
// server forwarded each way, read from stats at each scrape (a
// proxy.Server's or replay.Server's Stats). Call it once.
func (m *Metrics) AddServer(stats func() proxy.Stats) {
	m.reg.MustRegister(&serverCollector{
		stats: stats,
		desc: prometheus.NewDesc(prometheus.BuildFQName(m.ns, "", "bytes_total"),
			"Payload bytes forwarded, by direction: client_to_target, target_to_client (decoded bytes for base64 sessions).",
			[]string{"direction"}, nil),
	})
}

// AddRecorder adds namespace_recording_bytes_written_total and
// namespace_recording_errors_total, read from stats at each scrape (a
// record.Recorder's Stats). Call it once.
func (m *Metrics) AddRecorder(stats func() record.Stats) {
	m.reg.MustRegister(&recorderCollector{
		stats: stats,
		bytes: prometheus.NewDesc(prometheus.BuildFQName(m.ns, "recording", "bytes_written_total"),
			"Bytes written to recording files.", nil, nil),
		errors: prometheus.NewDesc(prometheus.BuildFQName(m.ns, "recording", "errors_total"),
			"Failures to create, write, sync or close a recording file.", nil, nil),
	})
}

// Rejected counts a handshake failure.
func (m *Metrics) Rejected(reason proxy.RejectReason, _ error) {
	m.failures.WithLabelValues(reason.String()).Inc()
}

// SessionOpened counts an open session.
func (m *Metrics) SessionOpened(*proxy.SessionInfo) { m.active.Inc() }

// SessionClosed counts a session that ended, by its outcome, and its
// duration.
func (m *Metrics) SessionClosed(_ *proxy.SessionInfo, ci proxy.CloseInfo) {
	m.active.Dec()
	m.sessions.WithLabelValues(Outcome(ci)).Inc()
	m.duration.Observe(ci.Duration.Seconds())
}

// HeartbeatTimeout counts a heartbeat timeout.
func (m *Metrics) HeartbeatTimeout(*proxy.SessionInfo) { m.heartbeats.Inc() }

// Outcome returns the outcome label of a session that ended as ci says.
func Outcome(ci proxy.CloseInfo) string {
	switch {
	case ci.Err != nil:
		return OutcomeError
	case ci.By == proxy.SideClient:
		return OutcomeClient
	case ci.By == proxy.SideTarget:
		return OutcomeTarget
	}
	return OutcomeProxy
}

// serverCollector reads a server's byte counts at scrape time.
type serverCollector struct {
	stats func() proxy.Stats
	desc  *prometheus.Desc
}

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.ToTarget), "client_to_target")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.ToClient), "target_to_client")
}

// recorderCollector reads a recorder's totals at scrape time.
type recorderCollector struct {
	stats         func() record.Stats
	bytes, errors *prometheus.Desc
}

func (c *recorderCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.errors
}

func (c *recorderCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(st.BytesWritten))
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(st.Errors))
}
