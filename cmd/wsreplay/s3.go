package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/replay"
)

// s3Flags say how to reach recordings given as s3://BUCKET/PREFIX/ or
// s3://BUCKET/KEY, embedded in rootCmd. Region, credentials and an extra
// CA bundle come from the AWS environment and config files.
type s3Flags struct {
	S3Endpoint  string `name:"s3-endpoint" env:"WSREPLAY_S3_ENDPOINT" placeholder:"URL" group:"Object storage" help:"URL of the S3-compatible server holding s3://BUCKET/PREFIX/ recordings. Default: AWS S3 (or AWS_ENDPOINT_URL_S3). Credentials, region and CA bundle come from the AWS environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_REGION, AWS_CA_BUNDLE)."`
	S3PathStyle bool   `name:"s3-path-style" env:"WSREPLAY_S3_PATH_STYLE" group:"Object storage" help:"Address buckets as ENDPOINT/BUCKET, as most S3-compatible servers need."`
}

// stores splits args into local paths and object storage locations, made
// into replay Stores after checking that their buckets answer. close
// closes their connections.
func (f *s3Flags) stores(ctx context.Context, args []string) (paths []string, stores []replay.Store, close func(), err error) {
	var made []*objstore.Store
	close = func() {
		for _, st := range made {
			st.Close()
		}
	}
	byBucket := map[string]*objstore.Store{}
	for _, a := range args {
		if !objstore.IsURL(a) {
			paths = append(paths, a)
			continue
		}
		loc, err := objstore.ParseURL(a)
		if err != nil {
			return nil, nil, close, &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
		st := byBucket[loc.Bucket]
		if st == nil {
			if st, err = objstore.New(ctx, objstore.Config{Endpoint: f.S3Endpoint, PathStyle: f.S3PathStyle}, loc.Bucket); err != nil {
				return nil, nil, close, &cli.ExitError{Code: cli.ExitUsage, Err: err}
			}
			made = append(made, st)
			if err := st.Check(ctx); err != nil {
				return nil, nil, close, fmt.Errorf("%s: %w", a, err)
			}
			byBucket[loc.Bucket] = st
		}
		s := &s3Store{st: st, loc: loc}
		if !loc.IsPrefix() {
			// One object: served under its last element, as a file is.
			s.only = path.Base(loc.Key)
			s.loc.Key = strings.TrimSuffix(loc.Key, s.only)
			if _, err := s.Open(ctx, s.only); err != nil {
				return nil, nil, close, fmt.Errorf("%s: %w", a, err)
			}
		}
		stores = append(stores, s)
	}
	return paths, stores, close, nil
}

// s3Store is a prefix of a bucket (or one object of it) as a
// replay.Store: recordings are named by their keys less the prefix.
type s3Store struct {
	st   *objstore.Store
	loc  objstore.Location // Key is the prefix
	only string            // the one name served, if given as an object
}

func (s *s3Store) String() string { return s.loc.String() + s.only }

func (s *s3Store) List(ctx context.Context, fn func(replay.StoreEntry) error) error {
	return s.st.List(ctx, s.loc.Key+s.only, func(oi objstore.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, s.loc.Key)
		if s.only != "" && name != s.only {
			return nil
		}
		for elem := range strings.SplitSeq(name, "/") {
			if elem == "" || strings.HasPrefix(elem, ".") {
				return nil // as a directory's dot files are
			}
		}
		return fn(replay.StoreEntry{Name: name, Size: oi.Size, Modified: oi.Modified})
	})
}

func (s *s3Store) Open(ctx context.Context, name string) (replay.StoreFile, error) {
	if s.only != "" && name != s.only {
		return nil, fs.ErrNotExist
	}
	o, err := s.st.Open(ctx, s.loc.Key+name, objstore.ObjectOptions{})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return o, err
}
