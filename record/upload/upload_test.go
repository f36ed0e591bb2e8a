package upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/internal/s3test"
	"github.com/wsproxy/wsproxy/record"
	"github.com/wsproxy/wsproxy/record/upload"
)

const bucket = "recordings"

var start = time.Date(2026, 12, 5, 10, 4, 5, 0, time.UTC)

func header(n byte) format.Header {
	var id format.SessionID
	id[0], id[15] = 0xab, n
	return format.Header{SessionID: id, Start: start, Meta: map[string]string{
		format.MetaClient: "192.0.2.7:41000", format.MetaTarget: "localhost:5900",
		format.MetaToken: "tok-" + string('a'+rune(n)), format.MetaUser: "alice",
	}}
}

// rig is a spool, an Uploader on it and a Recorder writing to it.
type rig struct {
	srv   *s3test.Server
	store *objstore.Store
	dir   string
	up    *upload.Uploader
	rec   *record.Recorder
	log   *logBuffer
}

func newRig(t *testing.T, srv *s3test.Server, dir string, opts upload.Options) *rig {
	t.Helper()
	r := &rig{srv: srv, store: srv.Store(bucket), dir: dir, log: &logBuffer{}}
	opts.Store, opts.Dir = r.store, dir
	if opts.Prefix == "" {
		opts.Prefix = "fleet/"
	}
	if opts.Interval == 0 {
		opts.Interval = 50 * time.Millisecond
	}
	opts.MaxBackoff = 200 * time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	up, err := upload.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec, err := record.New(record.Options{Dir: dir, Name: "{session}.wsrec", Spool: up, FlushInterval: 20 * time.Millisecond, Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	r.up, r.rec = up, rec
	t.Cleanup(func() {
		rec.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		up.Close(ctx)
		if t.Failed() {
			t.Logf("uploader log:\n%s", r.log)
		}
	})
	return r
}

// write records n bytes of random (incompressible) messages.
func write(t *testing.T, s *record.Session, n int) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for i := 0; i < n; i += len(buf) {
		rand.Read(buf)
		if err := s.Frame(format.TargetToClient, format.Binary, time.Duration(i), buf); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond for up to a minute (the machine may be loaded).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForIn(t, time.Minute, what, cond)
}

// waitForIn polls cond for up to d.
func waitForIn(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedParts counts the parts of the multipart uploads of key.
func storedParts(t *testing.T, st *objstore.Store, key string) int {
	t.Helper()
	c := st.Client()
	ups, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, u := range ups.Uploads {
		ps, err := c.ListParts(context.Background(), &s3.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		if err != nil {
			t.Fatal(err)
		}
		n += len(ps.Parts)
	}
	return n
}

// verifyObject reads the stored recording through ranged GETs and checks
// its hash chain, returning its verification and status metadata.
func verifyObject(t *testing.T, st *objstore.Store, key string) (format.Verification, map[string]string) {
	t.Helper()
	v := s3test.Verify(t, st, key)
	_, meta, err := st.Head(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return v, meta
}

// localChain verifies a spool file and returns its final chain value.
func localChain(t *testing.T, path string) (format.Verification, int64) {
	t.Helper()
	r, err := format.Open(path, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v, err := r.Verify(format.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	return v, fi.Size()
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestUploadDuringSession: a long session's parts are stored before it
// ends; at its end the object is completed, checked, its metadata set,
// and the spool's copy removed.
func TestUploadDuringSession(t *testing.T) {
	srv := s3test.Start(t, bucket)
	r := newRig(t, srv, t.TempDir(), upload.Options{PartSize: upload.MinPartSize})
	s, err := r.rec.Start(header(1))
	if err != nil {
		t.Fatal(err)
	}
	key := "fleet/" + header(1).SessionID.String() + ".wsrec"
	local := filepath.Join(r.dir, header(1).SessionID.String()+".wsrec")
	write(t, s, 12<<20)
	waitFor(t, "two parts stored while the session runs", func() bool { return storedParts(t, r.store, key) >= 2 })
	if _, _, err := r.store.Head(t.Context(), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("object visible before the session ended: %v", err)
	}
	before := r.up.Stats().UploadedBytes
	want, size := localChain(t, local) // unsealed so far
	if before < 10<<20 || want.Status != format.Unsealed {
		t.Fatalf("before the end: %d bytes sent, local status %v", before, want.Status)
	}
	write(t, s, 1<<20)
	if err := s.Close(0, format.CloseInfo{By: format.ClosedByClient, Code: 1000}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spool's copy removed", func() bool { return !exists(local) })
	v, meta := verifyObject(t, r.store, key)
	if v.Status != format.Valid || v.Records < 200 {
		t.Errorf("stored recording: status %v, %d records; want valid", v.Status, v.Records)
	}
	for k, want := range map[string]string{"status": "sealed", "user": "alice", "token": "tok-b", "session": header(1).SessionID.String(), "start": "2026-12-05T10:04:05Z"} {
		if meta[k] != want {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, meta[k], want, meta)
		}
	}
	st := r.up.Stats()
	if st.Uploaded != 1 || st.Pending != 0 || st.UploadedBytes < size {
		t.Errorf("stats = %+v, want 1 uploaded, none pending, at least %d bytes", st, size)
	}
	if storedParts(t, r.store, key) != 0 {
		t.Error("multipart upload left behind")
	}
}

// TestSmallAndKeep: a recording smaller than a part is sent in one PUT;
// with Keep the spool's copy stays, byte for byte what is stored.
func TestSmallAndKeep(t *testing.T) {
	srv := s3test.Start(t, bucket)
	r := newRig(t, srv, t.TempDir(), upload.Options{Keep: true})
	s, err := r.rec.Start(header(2))
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, 200<<10)
	s.Close(0, format.CloseInfo{By: format.ClosedByTarget})
	waitFor(t, "stored", func() bool { return r.up.Stats().Uploaded == 1 })
	name := header(2).SessionID.String() + ".wsrec"
	got, err := os.ReadFile(filepath.Join(srv.Root(), bucket, "fleet", name))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		t.Fatalf("Keep: spool copy: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("stored object (%d bytes) differs from the spool's file (%d bytes)", len(got), len(want))
	}
}

// TestRecovery: a process that dies mid-upload leaves a multipart upload
// and its spool file; the next one goes on from the parts stored (checked
// against the file), completes it, and the stored recording's final
// chain is the local original's. An unsealed file stays unsealed.
func TestRecovery(t *testing.T) {
	srv := s3test.Start(t, bucket)
	dir := t.TempDir()
	r := newRig(t, srv, dir, upload.Options{PartSize: upload.MinPartSize})
	s, err := r.rec.Start(header(3))
	if err != nil {
		t.Fatal(err)
	}
	name := header(3).SessionID.String() + ".wsrec"
	key := "fleet/" + name
	write(t, s, 11<<20)
	waitFor(t, "a part stored", func() bool { return storedParts(t, r.store, key) >= 1 })
	// The uploader dies: Close with a dead context stops it mid-way.
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.up.Close(dead); err == nil {
		t.Fatal("Close with files left: no error")
	}
	s.Close(0, format.CloseInfo{By: format.ClosedByClient})
	// And a recording its writer never sealed (SIGKILL).
	unsealed := filepath.Join(dir, "killed.wsrec")
	f, _ := os.Create(unsealed)
	w, _ := format.NewWriter(f, header(4), format.WriterOptions{})
	buf := make([]byte, 1000)
	for i := range 100 {
		rand.Read(buf)
		w.WriteMessage(time.Duration(i)*time.Millisecond, format.ClientToTarget, format.Binary, buf)
	}
	w.Flush()
	f.Close()
	want, size := localChain(t, filepath.Join(dir, name))
	wantU, _ := localChain(t, unsealed)

	r2 := newRig(t, srv, dir, upload.Options{PartSize: upload.MinPartSize})
	waitFor(t, "both stored", func() bool { return r2.up.Stats().Uploaded == 2 })
	if exists(unsealed) || exists(filepath.Join(dir, name)) {
		t.Error("spool files left after they were stored")
	}
	if !strings.Contains(r2.log.String(), "resuming an upload") {
		t.Error("no resumed upload in the log")
	}
	if sent := r2.up.Stats().UploadedBytes; sent >= size {
		t.Errorf("second run sent %d bytes of a %d-byte recording: it did not resume", sent, size)
	}
	v, meta := verifyObject(t, r.store, key)
	if v.Status != format.Valid || v.Chain != want.Chain || meta["status"] != "sealed" {
		t.Errorf("resumed: status %v chain %v meta %v; want valid, chain %v, sealed", v.Status, v.Chain, meta["status"], want.Chain)
	}
	v, meta = verifyObject(t, r.store, "fleet/killed.wsrec")
	if v.Status != format.Unsealed || v.Chain != wantU.Chain || meta["status"] != "unsealed" {
		t.Errorf("unsealed: status %v chain %v meta %v; want unsealed, chain %v", v.Status, v.Chain, meta["status"], wantU.Chain)
	}
	if n := storedParts(t, r.store, "fleet/"); n != 0 {
		t.Errorf("%d parts of multipart uploads left", n)
	}
}

// TestOutage: the storage stops mid-session; the session goes on, the
// spool grows, the tries fail and are counted; once the storage is back
// the recording is stored whole.
func TestOutage(t *testing.T) {
	srv := s3test.Start(t, bucket)
	r := newRig(t, srv, t.TempDir(), upload.Options{PartSize: upload.MinPartSize})
	s, err := r.rec.Start(header(5))
	if err != nil {
		t.Fatal(err)
	}
	name := header(5).SessionID.String() + ".wsrec"
	write(t, s, 6<<20)
	waitFor(t, "a part stored", func() bool { return storedParts(t, r.store, "fleet/"+name) >= 1 })
	srv.Stop()
	write(t, s, 12<<20)
	waitFor(t, "failed tries", func() bool { return r.up.Stats().Errors >= 2 })
	if err := s.Close(0, format.CloseInfo{By: format.ClosedByClient}); err != nil {
		t.Fatalf("session during the outage: %v", err)
	}
	want, size := localChain(t, filepath.Join(r.dir, name))
	waitFor(t, fmt.Sprintf("spool bytes %d during the outage", size), func() bool { return r.up.Stats().SpoolBytes == size })
	srv.Restart()
	waitFor(t, "stored after the outage", func() bool { return r.up.Stats().Uploaded == 1 })
	v, _ := verifyObject(t, r.store, "fleet/"+name)
	if v.Status != format.Valid || v.Chain != want.Chain {
		t.Errorf("after the outage: %v %v, want valid %v", v.Status, v.Chain, want.Chain)
	}
	if !strings.Contains(r.log.String(), "will retry") {
		t.Error("no retry in the log")
	}
}

// TestSpoolLimit: at the limit new recordings are refused, and the strict
// policy refuses the session; once stored, they are admitted again.
func TestSpoolLimit(t *testing.T) {
	srv := s3test.Start(t, bucket)
	r := newRig(t, srv, t.TempDir(), upload.Options{MaxSpool: 1 << 20})
	srv.Stop()
	s, err := r.rec.Start(header(6))
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, 2<<20)
	s.Close(0, format.CloseInfo{By: format.ClosedByClient})
	waitFor(t, "spool full", func() bool { return errors.Is(r.up.Admit(), upload.ErrSpoolFull) })
	if _, err := r.rec.Start(header(7)); !errors.Is(err, upload.ErrSpoolFull) {
		t.Errorf("Start with a full spool: %v, want ErrSpoolFull", err)
	}
	srv.Restart()
	waitFor(t, "admitted again", func() bool { return r.up.Admit() == nil })
}

// TestStaleUploads: an upload under the prefix that no spool file owns is
// aborted at Start once older than StaleAge.
func TestStaleUploads(t *testing.T) {
	srv := s3test.Start(t, bucket)
	st := srv.Store(bucket)
	_, err := st.Client().CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("fleet/orphan.wsrec")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Client().CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("other/x.wsrec")})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	r := newRig(t, srv, t.TempDir(), upload.Options{StaleAge: time.Millisecond})
	if got := r.up.Stats().Aborted; got != 1 {
		t.Errorf("aborted %d uploads, want 1 (the one under the prefix)", got)
	}
}

// TestStartErrors: a missing bucket or refused credentials fail Start
// with an error that says so.
func TestStartErrors(t *testing.T) {
	srv := s3test.Start(t, bucket)
	tests := []struct {
		name, bucket, secret, want string
	}{
		{"ErrNoBucket", "nosuchbucket", s3test.SecretKey, "not found"},
		{"ErrCredentials", bucket, "wrong", "credentials refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_SECRET_ACCESS_KEY", tt.secret)
			up, err := upload.New(upload.Options{Store: srv.Store(tt.bucket), Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			err = up.Start(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	st, _ := objstore.New(context.Background(), objstore.Config{Region: "x"}, "bkt")
	tests := []struct {
		name string
		opts upload.Options
	}{
		{"ErrNoStore", upload.Options{Dir: "d"}},
		{"ErrNoDir", upload.Options{Store: st}},
		{"ErrPrefix", upload.Options{Store: st, Dir: "d", Prefix: "x"}},
		{"ErrPartSize", upload.Options{Store: st, Dir: "d", PartSize: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := upload.New(tt.opts); err == nil {
				t.Error("no error")
			}
		})
	}
}

// logBuffer is a log that tests read while the Uploader writes it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *logBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestManyConcurrent: a thousand short sessions recorded at once are all
// stored and leave the spool.
func TestManyConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand uploads")
	}
	srv := s3test.Start(t, bucket)
	r := newRig(t, srv, t.TempDir(), upload.Options{Workers: 16})
	const n = 1000
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			h := header(byte(i))
			h.SessionID = format.NewSessionID()
			s, err := r.rec.Start(h)
			if err != nil {
				t.Error(err)
				return
			}
			write(t, s, 4<<10)
			s.Close(0, format.CloseInfo{By: format.ClosedByClient})
		})
	}
	wg.Wait()
	waitForIn(t, 2*time.Minute, "a thousand recordings stored", func() bool { return r.up.Stats().Uploaded == n })
	t.Logf("%d sessions recorded and stored in %v", n, time.Since(t0).Round(time.Millisecond))
	var keys int
	r.store.List(t.Context(), "fleet/", func(objstore.ObjectInfo) error { keys++; return nil })
	if keys != n {
		t.Errorf("%d objects stored, want %d", keys, n)
	}
	waitFor(t, "an empty spool", func() bool {
		left := 0
		filepath.WalkDir(r.dir, func(_ string, d os.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				left++
			}
			return nil
		})
		return left == 0
	})
}

// TestStoredDiffers: a spool file whose key already holds other bytes
// (shorter, or as long but different) is sent again, and the object then
// matches it; one whose key holds the same bytes is only checked.
func TestStoredDiffers(t *testing.T) {
	srv := s3test.Start(t, bucket)
	dir := t.TempDir()
	want := make([]byte, 100<<10)
	rand.Read(want)
	other := bytes.Clone(want)
	other[len(other)-1] ^= 1
	files := map[string][]byte{"short.bin": want[:10], "flipped.bin": other, "same.bin": want}
	st := srv.Store(bucket)
	for name, stored := range files {
		if err := os.WriteFile(filepath.Join(dir, name), want, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("fleet/" + name), Body: bytes.NewReader(stored)}); err != nil {
			t.Fatal(err)
		}
	}
	r := newRig(t, srv, dir, upload.Options{})
	waitFor(t, "the spool emptied", func() bool {
		for name := range files {
			if exists(filepath.Join(dir, name)) {
				return false
			}
		}
		return true
	})
	for name := range files {
		got, err := os.ReadFile(filepath.Join(srv.Root(), bucket, "fleet", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: stored %d bytes (%v), want the spool's %d", name, len(got), err, len(want))
		}
	}
	if got := r.up.Stats().Uploaded; got != 2 {
		t.Errorf("%d sent again, want 2 (same.bin only checked)", got)
	}
	if !strings.Contains(r.log.String(), "replacing it") {
		t.Error("no replacement in the log")
	}
}
