package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// countRequests adds a step to every operation's stack that counts each
// request sent, retries included (the Finalize step runs once per
// attempt).
func (s *Store) countRequests(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("objstoreCount",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			s.reqs.Add(1)
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// Block sizes of an Object's cache.
const (
	DefaultBlockSize = 1 << 20
	minBlockSize     = 4 << 10
	cacheBlocks      = 8
)

// ObjectOptions configure Open. The zero value means the defaults.
type ObjectOptions struct {
	// BlockSize is the size of each ranged GET, aligned on multiples of
	// it. Zero means DefaultBlockSize (1 MiB).
	BlockSize int64
}

// Object is a stored object read through ranged GETs: its ReadAt fetches
// the aligned blocks a read spans and keeps the last few, so that the
// small reads of a recording's frames cost one request per block. The
// object is read at the version Open found (If-Match on its ETag): one
// replaced meanwhile fails the read.
//
// An Object is safe for concurrent use. It holds no connection: it needs
// no Close.
type Object struct {
	st    *Store
	ctx   context.Context
	key   string
	size  int64
	etag  string
	mod   time.Time
	block int64

	mu    sync.Mutex
	cache []cachedBlock // most recently used last
}

type cachedBlock struct {
	n    int64 // block number
	data []byte
}

// Open finds key (one HEAD request) and returns it for reading. ctx
// bounds every later read. It returns an error matching ErrNotFound for a
// missing key.
func (s *Store) Open(ctx context.Context, key string, opts ObjectOptions) (*Object, error) {
	oi, _, err := s.Head(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.OpenInfo(ctx, oi, opts), nil
}

// OpenInfo returns the object oi (from List or Head) for reading, without
// a request.
func (s *Store) OpenInfo(ctx context.Context, oi ObjectInfo, opts ObjectOptions) *Object {
	bs := opts.BlockSize
	if bs <= 0 {
		bs = DefaultBlockSize
	}
	bs = max(bs, minBlockSize)
	return &Object{st: s, ctx: ctx, key: oi.Key, size: oi.Size, etag: oi.ETag, mod: oi.Modified, block: bs}
}

// Size returns the object's size in bytes.
func (o *Object) Size() int64 { return o.size }

// Stat describes the object as a read-only file: its key's last element,
// size and modification time.
func (o *Object) Stat() (fs.FileInfo, error) { return objectInfo{o}, nil }

// Close does nothing: an Object holds no connection. It lets an Object
// stand for an open file.
func (o *Object) Close() error { return nil }

type objectInfo struct{ o *Object }

func (i objectInfo) Name() string       { return path.Base(i.o.key) }
func (i objectInfo) Size() int64        { return i.o.size }
func (i objectInfo) Mode() fs.FileMode  { return 0o444 }
func (i objectInfo) ModTime() time.Time { return i.o.mod }
func (i objectInfo) IsDir() bool        { return false }
func (i objectInfo) Sys() any           { return nil }

// Key returns the object's key.
func (o *Object) Key() string { return o.key }

// ReadAt reads len(p) bytes at off, as io.ReaderAt does: io.EOF when the
// object ends first.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("objstore: negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= o.size {
			return n, io.EOF
		}
		b, err := o.blockAt(at / o.block)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[at%o.block:])
	}
	return n, nil
}

// blockAt returns block i, from the cache or by a ranged GET.
func (o *Object) blockAt(i int64) ([]byte, error) {
	o.mu.Lock()
	for j, c := range o.cache {
		if c.n == i {
			o.cache = append(append(o.cache[:j:j], o.cache[j+1:]...), c)
			o.mu.Unlock()
			return c.data, nil
		}
	}
	o.mu.Unlock()
	from := i * o.block
	to := min(from+o.block, o.size) // exclusive
	in := &s3.GetObjectInput{
		Bucket: aws.String(o.st.bucket), Key: aws.String(o.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", from, to-1)),
	}
	if o.etag != "" {
		in.IfMatch = aws.String(o.etag)
	}
	out, err := o.st.client.GetObject(o.ctx, in)
	if err != nil {
		return nil, fmt.Errorf("objstore: read %s at %d: %w", Location{o.st.bucket, o.key}, from, Explain(err))
	}
	defer out.Body.Close()
	data := make([]byte, to-from)
	if _, err := io.ReadFull(out.Body, data); err != nil {
		return nil, fmt.Errorf("objstore: read %s at %d: %w", Location{o.st.bucket, o.key}, from, err)
	}
	o.mu.Lock()
	if len(o.cache) >= cacheBlocks {
		o.cache = append(o.cache[:0], o.cache[1:]...)
	}
	o.cache = append(o.cache, cachedBlock{n: i, data: data})
	o.mu.Unlock()
	return data, nil
}
