package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Scheme starts every location this package reads.
const Scheme = "s3://"

// ErrNotURL is returned (wrapped) by ParseURL for a string that is not an
// s3:// location.
var ErrNotURL = errors.New("objstore: not an s3:// location")

// ErrNotFound is matched by the errors for a missing bucket or object.
var ErrNotFound = errors.New("objstore: not found")

// Location is a bucket and a key or key prefix in it.
type Location struct {
	Bucket string
	// Key is an object's key, or a prefix: empty (the whole bucket) or
	// ending in "/".
	Key string
}

// IsURL reports whether s names object storage (starts with s3://).
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURL parses s3://bucket/key. The key may be empty or a prefix
// ending in "/".
func ParseURL(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Location{}, fmt.Errorf("%w: %q", ErrNotURL, s)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return Location{}, fmt.Errorf("objstore: %q: no bucket", s)
	}
	if strings.ContainsAny(bucket, " ?#\\") || len(bucket) < 3 || len(bucket) > 63 {
		return Location{}, fmt.Errorf("objstore: %q: bad bucket name %q", s, bucket)
	}
	if strings.Contains(key, "//") || strings.HasPrefix(key, "/") {
		return Location{}, fmt.Errorf("objstore: %q: empty element in the key", s)
	}
	return Location{Bucket: bucket, Key: key}, nil
}

// IsPrefix reports whether l names a prefix rather than one object.
func (l Location) IsPrefix() bool { return l.Key == "" || strings.HasSuffix(l.Key, "/") }

// String returns the location as s3://bucket/key.
func (l Location) String() string { return Scheme + l.Bucket + "/" + l.Key }

// Config says how to reach the storage. The zero value means AWS S3 with
// the region and credentials of the environment and ~/.aws files.
type Config struct {
	// Endpoint is the URL of an S3-compatible server
	// (https://minio.example:9000). Zero means AWS's endpoints.
	Endpoint string
	// Region is the signing region. Zero means AWS_REGION or the config
	// file's, else us-east-1.
	Region string
	// PathStyle addresses buckets as ENDPOINT/bucket rather than
	// bucket.ENDPOINT, as most servers but AWS need.
	PathStyle bool
	// CAFile is a PEM file of the authorities that sign the server's
	// certificate, added to the system's roots. Zero means the system's.
	CAFile string
	// Timeout bounds each request. Zero means one minute.
	Timeout time.Duration
}

// Store is a bucket of an S3-compatible storage. It is safe for concurrent
// use.
type Store struct {
	client *s3.Client
	bucket string
	reqs   atomic.Int64

	mu        sync.Mutex
	transport *http.Transport // the client's, once built
}

// Close closes the client's idle connections. The Store may still be
// used: it opens new ones.
func (s *Store) Close() {
	s.mu.Lock()
	t := s.transport
	s.mu.Unlock()
	if t != nil {
		t.CloseIdleConnections()
	}
}

// New returns the Store of bucket. It makes no request: Check does.
func New(ctx context.Context, cfg Config, bucket string) (*Store, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("objstore: CA file: %w", err)
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	st := &Store{bucket: bucket}
	opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout).
		WithTransportOptions(func(t *http.Transport) {
			st.mu.Lock()
			st.transport = t
			st.mu.Unlock()
		})))
	// Retries are the caller's (with backoff over minutes, see
	// record/upload); the SDK's own few quick ones stay.
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("objstore: AWS configuration: %w", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	// Checksums only where the API requires them: S3-compatible servers
	// differ in the newer flexible checksums; parts carry Content-MD5.
	ac.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	ac.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	st.client = s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.APIOptions = append(o.APIOptions, st.countRequests)
	})
	return st, nil
}

// Client returns the S3 client, for the operations this package does not
// wrap (multipart uploads).
func (s *Store) Client() *s3.Client { return s.client }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Requests returns how many requests the Store has sent, retries
// included.
func (s *Store) Requests() int64 { return s.reqs.Load() }

// Check makes sure the bucket exists and the credentials reach it, with
// an error that says which is wrong.
func (s *Store) Check(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return fmt.Errorf("objstore: bucket %s: %w", s.bucket, Explain(err))
	}
	return nil
}

// Explain turns the SDK's errors for a missing bucket or key, or refused
// credentials, into short ones; a missing bucket or key matches
// ErrNotFound. Other errors are returned as they are.
func Explain(err error) error {
	var (
		api  smithy.APIError
		nsb  *types.NoSuchBucket
		nsk  *types.NoSuchKey
		nf   *types.NotFound
		code string
	)
	if errors.As(err, &nsb) || errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%w (%v)", ErrNotFound, err)
	}
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	switch code {
	case "NoSuchBucket", "NoSuchKey", "NotFound":
		return fmt.Errorf("%w (%v)", ErrNotFound, err)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "ExpiredToken":
		return fmt.Errorf("credentials refused (%s): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE: %w", code, err)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%w (%v)", ErrNotFound, err)
		case http.StatusForbidden:
			return fmt.Errorf("credentials refused: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE: %w", err)
		}
	}
	return err
}

// ObjectInfo describes a listed object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
	ETag     string
}

// List calls fn with every object under prefix, in key order, a page of
// up to 1000 at a time, until fn returns an error (which List returns).
func (s *Store) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("objstore: list %s: %w", Location{s.bucket, prefix}, Explain(err))
		}
		for _, o := range page.Contents {
			oi := ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag)}
			if o.LastModified != nil {
				oi.Modified = *o.LastModified
			}
			if err := fn(oi); err != nil {
				return err
			}
		}
	}
	return nil
}

// Head returns what the storage says of key, and its user metadata.
func (s *Store) Head(ctx context.Context, key string) (ObjectInfo, map[string]string, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return ObjectInfo{}, nil, fmt.Errorf("objstore: %s: %w", Location{s.bucket, key}, Explain(err))
	}
	oi := ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag)}
	if out.LastModified != nil {
		oi.Modified = *out.LastModified
	}
	return oi, out.Metadata, nil
}
