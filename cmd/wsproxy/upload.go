package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/metrics"
	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/record/upload"
)

// uploadFlags send the recordings of --record-dir to object storage,
// embedded in rootCmd.
type uploadFlags struct {
	RecordUpload          string `env:"WSPROXY_RECORD_UPLOAD" placeholder:"s3://BUCKET/PREFIX/" group:"Recording upload" help:"Send every recording of --record-dir to S3-compatible storage as the session runs (multipart, a part each 8 MiB), keyed PREFIX/ plus its --record-name; remove it from --record-dir once the stored object is checked. Recordings left by a previous run are sent at start. Credentials come from the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws, instance roles), never from the command line."`
	RecordUploadEndpoint  string `env:"WSPROXY_RECORD_UPLOAD_ENDPOINT" placeholder:"URL" group:"Recording upload" help:"URL of an S3-compatible server (MinIO, Ceph RGW, SeaweedFS, versitygw). Default: AWS S3."`
	RecordUploadRegion    string `env:"WSPROXY_RECORD_UPLOAD_REGION" placeholder:"REGION" group:"Recording upload" help:"Signing region. Default: AWS_REGION or the AWS config file's, else us-east-1."`
	RecordUploadPathStyle bool   `env:"WSPROXY_RECORD_UPLOAD_PATH_STYLE" group:"Recording upload" help:"Address the bucket as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT, as most S3-compatible servers need."`
	RecordUploadCA        string `env:"WSPROXY_RECORD_UPLOAD_CA" type:"path" placeholder:"FILE" group:"Recording upload" help:"Also trust the authorities in FILE (PEM) for the storage's certificate."`
	RecordUploadKeep      bool   `env:"WSPROXY_RECORD_UPLOAD_KEEP" group:"Recording upload" help:"Keep the recordings in --record-dir once they are stored."`
	RecordSpoolMax        string `env:"WSPROXY_RECORD_SPOOL_MAX" placeholder:"SIZE" group:"Recording upload" help:"Refuse new recordings while --record-dir holds SIZE bytes not yet stored (suffixes K, M, G); --record-policy then applies: strict refuses new sessions, best-effort runs them unrecorded until there is room. Default: no limit."`
}

// uploadDrain bounds the wait at exit for the uploads of the last
// recordings; what is left is sent at the next start.
const uploadDrain = 30 * time.Second

// validate checks the upload flags on their own and with --record-dir.
func (f *uploadFlags) validate(r *recordFlags) error {
	if f.RecordUpload == "" {
		for name, set := range map[string]bool{
			"--record-upload-endpoint": f.RecordUploadEndpoint != "", "--record-upload-region": f.RecordUploadRegion != "",
			"--record-upload-path-style": f.RecordUploadPathStyle, "--record-upload-ca": f.RecordUploadCA != "",
			"--record-upload-keep": f.RecordUploadKeep, "--record-spool-max": f.RecordSpoolMax != "",
		} {
			if set {
				return fmt.Errorf("%s needs --record-upload", name)
			}
		}
		return nil
	}
	if r.RecordDir == "" {
		return errors.New("--record-upload needs --record-dir, its spool")
	}
	loc, err := objstore.ParseURL(f.RecordUpload)
	if err != nil {
		return fmt.Errorf("--record-upload: %w", err)
	}
	if loc.Key != "" && !loc.IsPrefix() {
		return fmt.Errorf("--record-upload %s: give a prefix ending in / (keys follow --record-name)", f.RecordUpload)
	}
	if _, err := cli.ParseSize(f.RecordSpoolMax); err != nil {
		return fmt.Errorf("--record-spool-max: %w", err)
	}
	if f.RecordUploadEndpoint != "" && !strings.HasPrefix(f.RecordUploadEndpoint, "http://") && !strings.HasPrefix(f.RecordUploadEndpoint, "https://") {
		return fmt.Errorf("--record-upload-endpoint %s: not an http:// or https:// URL", f.RecordUploadEndpoint)
	}
	return nil
}

// startUpload starts the uploader the flags describe, spooling in dir, or
// returns nil when recordings are not uploaded. It fails, with an error
// that says why, when the bucket cannot be reached.
func (f *uploadFlags) startUpload(ctx context.Context, dir string, log *slog.Logger) (*upload.Uploader, error) {
	if f.RecordUpload == "" {
		return nil, nil
	}
	loc, _ := objstore.ParseURL(f.RecordUpload) // checked by validate
	limit, _ := cli.ParseSize(f.RecordSpoolMax)
	st, err := objstore.New(ctx, objstore.Config{
		Endpoint: f.RecordUploadEndpoint, Region: f.RecordUploadRegion,
		PathStyle: f.RecordUploadPathStyle, CAFile: f.RecordUploadCA,
	}, loc.Bucket)
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--record-upload: %w", err)}
	}
	up, err := upload.New(upload.Options{Store: st, Prefix: loc.Key, Dir: dir, Keep: f.RecordUploadKeep, MaxSpool: limit, Logger: log})
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--record-upload: %w", err)}
	}
	if err := up.Start(ctx); err != nil {
		return nil, fmt.Errorf("--record-upload %s: %w", f.RecordUpload, err)
	}
	log.Info("recordings upload", "to", f.RecordUpload, "spool", dir)
	return up, nil
}

// registerUpload adds the uploader's metrics to m.
func registerUpload(m *metrics.Endpoint, up *upload.Uploader) {
	if up != nil {
		m.Register(newUploadCollector(m.Namespace(), up.Stats))
	}
}

// stopUpload waits, up to uploadDrain, for the last uploads.
func stopUpload(up *upload.Uploader, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), uploadDrain)
	defer cancel()
	if err := up.Close(ctx); err != nil {
		log.Warn("recordings upload", "err", err)
	}
}

// uploadCollector reads an uploader's totals at scrape time.
type uploadCollector struct {
	stats                                        func() upload.Stats
	uploaded, bytes, errors, pending, spool, lag *prometheus.Desc
}

func newUploadCollector(ns string, stats func() upload.Stats) *uploadCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "recording_upload", name), help, nil, nil)
	}
	return &uploadCollector{
		stats:    stats,
		uploaded: d("objects_total", "Recordings stored in object storage and checked."),
		bytes:    d("bytes_total", "Bytes sent to object storage."),
		errors:   d("errors_total", "Failed tries to send a recording (each is retried)."),
		pending:  d("pending", "Recordings in the spool not yet stored."),
		spool:    d("spool_bytes", "Bytes of the recordings in the spool not yet stored."),
		lag:      d("lag_seconds", "Time from the last stored recording's end to its check in storage."),
	}
}

func (c *uploadCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.uploaded, c.bytes, c.errors, c.pending, c.spool, c.lag} {
		ch <- d
	}
}

func (c *uploadCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(c.uploaded, prometheus.CounterValue, float64(st.Uploaded))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(st.UploadedBytes))
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(st.Errors))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.spool, prometheus.GaugeValue, float64(st.SpoolBytes))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, st.LastLag.Seconds())
}
