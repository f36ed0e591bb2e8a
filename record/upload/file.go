package upload

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/wsproxy/wsproxy/internal/objstore"
)

// file is a recording of the spool on its way to the storage. Its upload
// fields belong to the worker that holds it busy; the others are guarded
// by Uploader.mu.
type file struct {
	name      string
	key       string
	live      bool // the Recorder still writes it
	recovered bool // left by a previous process
	busy      bool
	failures  int
	retryAt   time.Time
	closedAt  time.Time
	size      atomic.Int64 // at the last look

	// Owned by the worker.
	probed   bool   // a recovered file's stored state was looked up
	uploadID string // of its multipart upload, once begun
	parts    []types.CompletedPart
	sent     int64 // bytes in parts
}

// mpUpload is a multipart upload found by listUploads.
type mpUpload struct {
	id        string
	initiated time.Time
}

// step sends what is due of f: whole parts while it grows, the rest once
// it is closed, then checks and removes it. done reports that f is
// stored (or gone).
func (u *Uploader) step(ctx context.Context, f *file, live bool) (done bool, err error) {
	path := filepath.Join(u.opts.Dir, filepath.FromSlash(f.name))
	osf, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		u.log.Error("upload: recording vanished from the spool before it was stored", "file", path, "key", f.key)
		u.abort(ctx, f.key, f.uploadID)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer osf.Close()
	fi, err := osf.Stat()
	if err != nil {
		return false, err
	}
	size := fi.Size()
	f.size.Store(size)
	if f.recovered && !f.probed {
		stored, err := u.probe(ctx, f, osf, size)
		if err != nil {
			return false, err
		}
		f.probed = true
		if stored {
			return true, u.finish(f, path, size, "already stored")
		}
	}
	ps := u.opts.PartSize
	// Whole parts while the file grows; once closed, all but the last.
	for size-f.sent > ps || live && size-f.sent == ps {
		if err := u.sendPart(ctx, f, osf, f.sent, ps); err != nil {
			return false, err
		}
	}
	if live {
		return false, nil
	}
	meta, err := metadata(osf, size)
	if err != nil {
		u.log.Warn("upload: recording metadata unreadable; stored without", "file", path, "err", err)
	}
	if f.uploadID == "" {
		if err := u.put(ctx, f, osf, size, meta); err != nil {
			return false, err
		}
	} else {
		if size > f.sent || len(f.parts) == 0 {
			if err := u.sendPart(ctx, f, osf, f.sent, size-f.sent); err != nil {
				return false, err
			}
		}
		if err := u.complete(ctx, f, meta); err != nil {
			return false, err
		}
	}
	if err := u.verify(ctx, f.key, osf, size); err != nil {
		return false, err
	}
	u.mu.Lock()
	closedAt := f.closedAt
	u.mu.Unlock()
	var lag time.Duration
	if !closedAt.IsZero() {
		lag = time.Since(closedAt)
		u.lag.Store(int64(lag))
	}
	err = u.finish(f, path, size, "stored", "lag", lag.Round(time.Microsecond))
	// Counted once the spool file is gone: Stats then tells a caller
	// that it was both stored and removed (TestRecovery saw the count
	// before the removal, under load).
	u.uploaded.Add(1)
	return true, err
}

// finish removes a stored file from the spool unless Keep.
func (u *Uploader) finish(f *file, path string, size int64, what string, attrs ...any) error {
	u.log.Info("upload: recording "+what, append([]any{"key", f.key, "bytes", size, "parts", len(f.parts), "kept", u.opts.Keep}, attrs...)...)
	if u.opts.Keep {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.log.Error("upload: remove the stored recording from the spool", "file", path, "err", err)
	}
	return nil
}

// readRange reads n bytes of osf at off.
func readRange(osf *os.File, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := osf.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read the spool file at %d: %w", off, err)
	}
	return b, nil
}

// sendPart sends n bytes at off as the next part, beginning the multipart
// upload if needed.
func (u *Uploader) sendPart(ctx context.Context, f *file, osf *os.File, off, n int64) error {
	if len(f.parts) >= MaxParts {
		return fmt.Errorf("%s: more than %d parts: the recording exceeds %d bytes (split it with --record-max-size)", f.key, MaxParts, MaxParts*u.opts.PartSize)
	}
	c := u.opts.Store.Client()
	if f.uploadID == "" {
		meta, _ := metadata(osf, 0)
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(u.opts.Store.Bucket()), Key: aws.String(f.key), Metadata: meta,
			ContentType: aws.String(contentType(f.name)),
		})
		if err != nil {
			return fmt.Errorf("begin the upload of %s: %w", f.key, objstore.Explain(err))
		}
		f.uploadID = aws.ToString(out.UploadId)
		u.log.Info("upload: begun", "key", f.key, "upload_id", f.uploadID)
	}
	data, err := readRange(osf, off, n)
	if err != nil {
		return err
	}
	sum := md5.Sum(data)
	num := int32(len(f.parts) + 1)
	out, err := c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(u.opts.Store.Bucket()), Key: aws.String(f.key), UploadId: aws.String(f.uploadID),
		PartNumber: aws.Int32(num), Body: bytes.NewReader(data), ContentLength: aws.Int64(n),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		var nsu *types.NoSuchUpload
		if errors.As(err, &nsu) {
			// Aborted meanwhile (by a lifecycle rule, another node's
			// clean-up): start again from the beginning.
			u.log.Warn("upload: multipart upload vanished; starting again", "key", f.key, "upload_id", f.uploadID)
			f.uploadID, f.parts, f.sent = "", nil, 0
		}
		return fmt.Errorf("part %d of %s: %w", num, f.key, objstore.Explain(err))
	}
	f.parts = append(f.parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag})
	f.sent += n
	u.uploadedBytes.Add(n)
	u.log.Debug("upload: part sent", "key", f.key, "part", num, "bytes", n)
	return nil
}

// complete completes f's multipart upload and sets its final metadata.
func (u *Uploader) complete(ctx context.Context, f *file, meta map[string]string) error {
	c := u.opts.Store.Client()
	bucket := aws.String(u.opts.Store.Bucket())
	_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: bucket, Key: aws.String(f.key), UploadId: aws.String(f.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: f.parts},
	})
	if err != nil {
		return fmt.Errorf("complete %s: %w", f.key, objstore.Explain(err))
	}
	// The metadata of a multipart upload is set when it begins, before
	// the recording's end is known: copy the object onto itself with the
	// final metadata.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: bucket, Key: aws.String(f.key),
		CopySource:        aws.String(u.opts.Store.Bucket() + "/" + escapeKey(f.key)),
		Metadata:          meta,
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       aws.String(contentType(f.name)),
	})
	if err != nil {
		u.log.Warn("upload: set the final metadata", "key", f.key, "err", objstore.Explain(err))
	}
	return nil
}

// put sends a small file in one request.
func (u *Uploader) put(ctx context.Context, f *file, osf *os.File, size int64, meta map[string]string) error {
	data, err := readRange(osf, 0, size)
	if err != nil {
		return err
	}
	sum := md5.Sum(data)
	_, err = u.opts.Store.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(u.opts.Store.Bucket()), Key: aws.String(f.key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(size), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		Metadata: meta, ContentType: aws.String(contentType(f.name)),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", f.key, objstore.Explain(err))
	}
	u.uploadedBytes.Add(size)
	return nil
}

// ErrMismatch is matched by the error of a stored object that differs
// from the spool's file.
var ErrMismatch = errors.New("upload: stored object differs from the recording")

// verify compares the stored object with the spool's file, in one ranged
// GET whose answer gives its size: its size, and
// its last bytes (up to 1 MiB, the trailer of a sealed recording: its
// index, final chain value and seal; for an unsealed one, its last
// chunks).
func (u *Uploader) verify(ctx context.Context, key string, osf *os.File, size int64) error {
	n := min(size, defaultVerifyWindow)
	if n == 0 {
		oi, _, err := u.opts.Store.Head(ctx, key)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if oi.Size != 0 {
			return fmt.Errorf("%w: %s has %d bytes, the spool's file none", ErrMismatch, key, oi.Size)
		}
		return nil
	}
	local, err := readRange(osf, size-n, n)
	if err != nil {
		return err
	}
	// One request: the range's answer also gives the object's size.
	out, err := u.opts.Store.Client().GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(u.opts.Store.Bucket()), Key: aws.String(key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", size-n, size-1)),
	})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable {
			return fmt.Errorf("%w: %s is shorter than the spool's file (%d bytes)", ErrMismatch, key, size)
		}
		return fmt.Errorf("verify %s: %w", key, objstore.Explain(err))
	}
	defer out.Body.Close()
	cr := aws.ToString(out.ContentRange)
	total := cr[strings.LastIndexByte(cr, '/')+1:]
	if got, err := strconv.ParseInt(total, 10, 64); err != nil || got != size {
		return fmt.Errorf("%w: %s: range answer %q, the spool's file has %d bytes", ErrMismatch, key, cr, size)
	}
	stored, err := io.ReadAll(io.LimitReader(out.Body, n+1))
	if err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	if !bytes.Equal(stored, local) {
		return fmt.Errorf("%w: %s: its last %d bytes differ", ErrMismatch, key, n)
	}
	return nil
}

// probe looks up what a previous process stored of a recovered file:
// the object itself (stored is then true, once checked), or a multipart
// upload to go on with, whose parts are checked against the file (their
// ETags are the MD5 of their bytes); a part that differs, and everything
// after it, is sent again in a new upload.
func (u *Uploader) probe(ctx context.Context, f *file, osf *os.File, size int64) (stored bool, err error) {
	if _, _, err := u.opts.Store.Head(ctx, f.key); err == nil {
		if err := u.verify(ctx, f.key, osf, size); err == nil {
			u.abortAll(ctx, f.key, "")
			return true, nil
		} else if !errors.Is(err, ErrMismatch) {
			return false, err
		}
		u.log.Warn("upload: a different object is stored under the key; replacing it", "key", f.key)
	} else if !errors.Is(err, objstore.ErrNotFound) {
		return false, err
	}
	u.mu.Lock()
	ups := slices.Clone(u.uploads[f.key])
	u.mu.Unlock()
	if len(ups) == 0 {
		return false, nil
	}
	slices.SortFunc(ups, func(a, b mpUpload) int { return b.initiated.Compare(a.initiated) })
	id := ups[0].id
	parts, err := u.listParts(ctx, f.key, id)
	if err != nil {
		return false, err
	}
	var off int64
	var kept []types.CompletedPart
	for i, p := range parts {
		n := aws.ToInt64(p.Size)
		if aws.ToInt32(p.PartNumber) != int32(i+1) || n < MinPartSize || off+n > size {
			break
		}
		data, err := readRange(osf, off, n)
		if err != nil {
			return false, err
		}
		sum := md5.Sum(data)
		if etag := strings.Trim(aws.ToString(p.ETag), `"`); len(etag) == 32 && etag != hex.EncodeToString(sum[:]) {
			break
		}
		kept = append(kept, types.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag})
		off += n
	}
	if len(kept) == 0 {
		u.abortAll(ctx, f.key, "")
		return false, nil
	}
	f.uploadID, f.parts, f.sent = id, kept, off
	u.abortAll(ctx, f.key, id)
	u.log.Info("upload: resuming an upload a previous run began", "key", f.key, "upload_id", id, "parts", len(kept), "bytes", off)
	return false, nil
}

// listParts lists the parts of a multipart upload, in order.
func (u *Uploader) listParts(ctx context.Context, key, id string) ([]types.Part, error) {
	var parts []types.Part
	p := s3.NewListPartsPaginator(u.opts.Store.Client(), &s3.ListPartsInput{
		Bucket: aws.String(u.opts.Store.Bucket()), Key: aws.String(key), UploadId: aws.String(id),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the parts of %s: %w", key, objstore.Explain(err))
		}
		parts = append(parts, page.Parts...)
	}
	slices.SortFunc(parts, func(a, b types.Part) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
	return parts, nil
}

// listUploads finds the multipart uploads under Prefix, by key.
func (u *Uploader) listUploads(ctx context.Context) (map[string][]mpUpload, error) {
	out := map[string][]mpUpload{}
	p := s3.NewListMultipartUploadsPaginator(u.opts.Store.Client(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(u.opts.Store.Bucket()), Prefix: aws.String(u.opts.Prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("upload: list multipart uploads: %w", objstore.Explain(err))
		}
		for _, m := range page.Uploads {
			k := aws.ToString(m.Key)
			out[k] = append(out[k], mpUpload{id: aws.ToString(m.UploadId), initiated: aws.ToTime(m.Initiated)})
		}
	}
	return out, nil
}

// abortStale aborts the uploads found at Start that belong to no file of
// the spool and are older than StaleAge.
func (u *Uploader) abortStale(ctx context.Context, uploads map[string][]mpUpload, left []string) {
	if u.opts.StaleAge < 0 {
		return
	}
	mine := map[string]bool{}
	for _, n := range left {
		mine[u.opts.Prefix+n] = true
	}
	for key, ups := range uploads {
		if mine[key] {
			continue
		}
		for _, m := range ups {
			if time.Since(m.initiated) > u.opts.StaleAge {
				u.log.Info("upload: aborting a stale multipart upload", "key", key, "upload_id", m.id, "initiated", m.initiated)
				u.abort(ctx, key, m.id)
			}
		}
	}
}

// abortAll aborts the uploads of key found at Start but keep.
func (u *Uploader) abortAll(ctx context.Context, key, keep string) {
	u.mu.Lock()
	ups := u.uploads[key]
	delete(u.uploads, key)
	u.mu.Unlock()
	for _, m := range ups {
		if m.id != keep {
			u.abort(ctx, key, m.id)
		}
	}
}

// abort aborts an upload, if id is not empty; a failure is logged (the
// storage's lifecycle rules, or the next start, clean up).
func (u *Uploader) abort(ctx context.Context, key, id string) {
	if id == "" {
		return
	}
	_, err := u.opts.Store.Client().AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.opts.Store.Bucket()), Key: aws.String(key), UploadId: aws.String(id),
	})
	if err != nil {
		u.log.Warn("upload: abort a multipart upload", "key", key, "upload_id", id, "err", objstore.Explain(err))
		return
	}
	u.aborted.Add(1)
}

// scanSpool lists the files of the spool, skipping names that start with
// a dot, as slash-separated names.
func (u *Uploader) scanSpool() ([]string, error) {
	var names []string
	err := filepath.WalkDir(u.opts.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == u.opts.Dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll // made by the Recorder's first session
			}
			return err
		}
		if p != u.opts.Dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(u.opts.Dir, p)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("upload: spool: %w", err)
	}
	return names, nil
}

// escapeKey escapes a key for CopySource (a URL path).
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func contentType(name string) string {
	if strings.HasSuffix(name, ".txt") {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}
