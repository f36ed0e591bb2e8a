// Package objstore reaches recordings in S3-compatible object storage
// (AWS S3, MinIO, Ceph RGW, SeaweedFS, versitygw) for wsproxy's programs:
// it parses s3://bucket/key locations, makes a client from the standard
// AWS environment and configuration chain (credentials are never taken
// from the command line), lists a prefix page by page, and reads an object
// as an io.ReaderAt over ranged GETs with a small block cache, so that a
// recording's header and trailer cost two requests and a replay streams.
//
// It is the one package that links the AWS SDK (aws-sdk-go-v2), so that
// programs that do not use object storage do not link it.
package objstore
