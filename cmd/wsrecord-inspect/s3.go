package main

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format/recfile"
	"github.com/wsproxy/wsproxy/internal/objstore"
)

// s3Flags say how to reach recordings named s3://BUCKET/KEY, embedded
// in readFlags. The region (AWS_REGION), credentials and an extra CA
// bundle (AWS_CA_BUNDLE) come from the AWS environment and config files.
type s3Flags struct {
	S3Endpoint  string `name:"s3-endpoint" env:"WSRECORD_S3_ENDPOINT" placeholder:"URL" help:"URL of the S3-compatible server holding s3://BUCKET/KEY recordings. Default: AWS S3 (or AWS_ENDPOINT_URL_S3). Credentials, region and CA bundle come from the AWS environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_REGION, AWS_CA_BUNDLE)."`
	S3PathStyle bool   `name:"s3-path-style" env:"WSRECORD_S3_PATH_STYLE" help:"Address buckets as ENDPOINT/BUCKET, as most S3-compatible servers need."`

	stores map[string]*objstore.Store
}

// store returns the Store of bucket, made once.
func (f *s3Flags) store(bucket string) (*objstore.Store, error) {
	if st := f.stores[bucket]; st != nil {
		return st, nil
	}
	st, err := objstore.New(context.Background(), objstore.Config{Endpoint: f.S3Endpoint, PathStyle: f.S3PathStyle}, bucket)
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	if f.stores == nil {
		f.stores = map[string]*objstore.Store{}
	}
	f.stores[bucket] = st
	return st, nil
}

// closeStores closes the connections of the stores made.
func (f *s3Flags) closeStores() {
	for _, st := range f.stores {
		st.Close()
	}
}

// openObject opens the recording at an s3:// location: a HEAD, then
// ranged GETs of 1 MiB blocks as the recording is read (a sealed one's
// summary reads its first and last blocks only).
func (f *s3Flags) openObject(name string, opts recfile.Options) (*recording, error) {
	loc, err := objstore.ParseURL(name)
	if err != nil {
		return nil, &cli.ExitError{Code: exitUnreadable, Err: err}
	}
	if loc.IsPrefix() {
		return nil, &cli.ExitError{Code: exitUnreadable, Err: fmt.Errorf("%s: is a prefix, not a recording", name)}
	}
	st, err := f.store(loc.Bucket)
	if err != nil {
		return nil, err
	}
	o, err := st.Open(context.Background(), loc.Key, objstore.ObjectOptions{})
	if err != nil {
		return nil, &cli.ExitError{Code: exitUnreadable, Err: err}
	}
	r := &recording{name: name, obj: o, br: &barReader{ra: o}}
	file, err := recfile.New(r.br, o.Size(), opts)
	if err != nil {
		return nil, readError(name, err)
	}
	r.File = file
	return r, nil
}

// forRecordings calls fn for path, or for each recording under it if it
// is a directory or an s3:// prefix (but for names starting with "."),
// in lexical order. named says path is the file itself.
func (f *s3Flags) forRecordings(ctx context.Context, p string, fn func(name string, named bool) error) error {
	if !objstore.IsURL(p) {
		return forRecordings(p, fn)
	}
	loc, err := objstore.ParseURL(p)
	if err != nil || !loc.IsPrefix() {
		return fn(p, true)
	}
	st, err := f.store(loc.Bucket)
	if err != nil {
		return err
	}
	err = st.List(ctx, loc.Key, func(oi objstore.ObjectInfo) error {
		rel := strings.TrimPrefix(oi.Key, loc.Key)
		for elem := range strings.SplitSeq(rel, "/") {
			if strings.HasPrefix(elem, ".") || elem == "" {
				return nil
			}
		}
		return fn(objstore.Location{Bucket: loc.Bucket, Key: path.Clean(oi.Key)}.String(), false)
	})
	if err != nil {
		return &cli.ExitError{Code: exitUnreadable, Err: err}
	}
	return nil
}

// isPrefix reports whether p names an s3:// prefix.
func isPrefix(p string) bool {
	loc, err := objstore.ParseURL(p)
	return err == nil && loc.IsPrefix()
}
