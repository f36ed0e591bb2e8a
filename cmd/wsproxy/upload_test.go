package main

import (
	"context"
	crand "crypto/rand"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/internal/s3test"
)

const uploadBucket = "recordings"

// uploadArgs are the options that send the recordings of dir to srv.
func uploadArgs(srv *s3test.Server, dir string) []string {
	return []string{"--record-dir", dir, "--record-upload", "s3://" + uploadBucket + "/fleet/",
		"--record-upload-endpoint", srv.Endpoint(), "--record-upload-path-style"}
}

// storedKeys lists the keys under fleet/.
func storedKeys(t *testing.T, st *objstore.Store) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), "fleet/", func(oi objstore.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRecordUpload: a session recorded with --record-upload lands in the
// bucket, sealed, and leaves the spool.
func TestRecordUpload(t *testing.T) {
	srv := s3test.Start(t, uploadBucket)
	dir := t.TempDir()
	in := startRun(t, append(uploadArgs(srv, dir), "--metrics-listen", "127.0.0.1:0", "127.0.0.1:0", startEcho(t, "tcp", nil))...)
	c := mustDialWS(t, "ws://"+in.addr+"/?token=s1", nil)
	for range 10 {
		assertEcho(t, c, "hello")
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	readClose(t, c)
	st := srv.Store(uploadBucket)
	defer st.Close()
	waitFor(t, "the recording stored and gone from the spool", func() bool {
		return len(storedKeys(t, st)) == 1 && len(recordings(t, dir)) == 0
	})
	key := storedKeys(t, st)[0]
	v := s3test.Verify(t, st, key)
	if v.Status != format.Valid || v.Records != 22 {
		t.Errorf("stored: %v, %d records; want valid, 22", v.Status, v.Records)
	}
	_, meta, _ := st.Head(context.Background(), key)
	if meta["status"] != "sealed" || !strings.HasPrefix(meta["client"], "127.0.0.1:") {
		t.Errorf("metadata %v", meta)
	}
	m := metricsListeningRE.FindStringSubmatch(in.stderr.String())
	if m == nil {
		t.Fatal("no metrics address in the log")
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"wsproxy_recording_upload_objects_total 1\n", "wsproxy_recording_upload_pending 0\n", "wsproxy_recording_upload_errors_total 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRecordUploadErrors: what cannot work fails at start, with a message
// that says why.
func TestRecordUploadErrors(t *testing.T) {
	srv := s3test.Start(t, uploadBucket)
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  string // AWS_SECRET_ACCESS_KEY
		code int
		want string
	}{
		{"ErrNoDir", []string{"--record-upload", "s3://recordings/", "6080", "localhost:5900"}, "", cli.ExitUsage, "--record-upload needs --record-dir"},
		{"ErrNotPrefix", []string{"--record-dir", dir, "--record-upload", "s3://recordings/x", "6080", "localhost:5900"}, "", cli.ExitUsage, "give a prefix ending in /"},
		{"ErrNotURL", []string{"--record-dir", dir, "--record-upload", "/tmp/x", "6080", "localhost:5900"}, "", cli.ExitUsage, "not an s3:// location"},
		{"ErrEndpointAlone", []string{"--record-upload-endpoint", "http://x", "6080", "localhost:5900"}, "", cli.ExitUsage, "--record-upload-endpoint needs --record-upload"},
		{"ErrNoBucket", []string{"--record-dir", dir, "--record-upload", "s3://nosuchbucket/", "--record-upload-endpoint", srv.Endpoint(), "--record-upload-path-style", "127.0.0.1:0", "localhost:5900"}, "", 1, "bucket nosuchbucket: objstore: not found"},
		{"ErrCredentials", []string{"--record-dir", dir, "--record-upload", "s3://recordings/", "--record-upload-endpoint", srv.Endpoint(), "--record-upload-path-style", "127.0.0.1:0", "localhost:5900"}, "wrong", 1, "credentials refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("AWS_SECRET_ACCESS_KEY", tt.env)
			}
			var stdout, stderr strings.Builder
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if code := cli.ExitCode(err); code != tt.code || err == nil {
				t.Fatalf("exit code %d (%v), want %d", code, err, tt.code)
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

// TestRecordUploadKilled: wsproxy SIGKILLed while it uploads a long
// session leaves an unsealed spool file and a multipart upload; the next
// wsproxy completes it, marked unsealed, and the stored recording's
// final chain is the local original's.
func TestRecordUploadKilled(t *testing.T) {
	srv := s3test.Start(t, uploadBucket)
	dir := t.TempDir()
	st := srv.Store(uploadBucket)
	defer st.Close()
	p := startBinary(t, func(cmd *exec.Cmd) { cmd.Env = os.Environ() },
		append(uploadArgs(srv, dir), "--record-flush", "50ms", "127.0.0.1:0", startEcho(t, "tcp", nil))...)
	c := mustDialWS(t, "ws://"+p.addr+"/?token=killed", nil)
	buf := make([]byte, 64<<10)
	for range 100 { // 6.4 MiB each way: more than a part
		crand.Read(buf)
		if err := wsutil.WriteClientBinary(c, buf); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(buf); {
			q, err := wsutil.ReadServerBinary(c)
			if err != nil {
				t.Fatal(err)
			}
			n += len(q)
		}
	}
	waitFor(t, "a part stored", func() bool {
		ups, err := st.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(uploadBucket)})
		if err != nil || len(ups.Uploads) == 0 {
			return false
		}
		u := ups.Uploads[0]
		ps, err := st.Client().ListParts(context.Background(), &s3.ListPartsInput{Bucket: aws.String(uploadBucket), Key: u.Key, UploadId: u.UploadId})
		return err == nil && len(ps.Parts) > 0
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	c.Close()
	spool := recordings(t, dir)
	if len(spool) != 1 {
		t.Fatalf("spool after SIGKILL: %q, want one file", spool)
	}
	local := spool[0]
	key := "fleet/" + filepath.Base(local)
	r, err := format.Open(local, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := r.Verify(format.VerifyOptions{})
	r.Close()
	if want.Status != format.Unsealed {
		t.Fatalf("spool file after SIGKILL: %v, want unsealed", want.Status)
	}

	in := startRun(t, append(uploadArgs(srv, dir), "127.0.0.1:0", "localhost:1")...)
	waitFor(t, "the recording stored and gone from the spool", func() bool {
		_, _, err := st.Head(context.Background(), key)
		return err == nil && len(recordings(t, dir)) == 0
	})
	if !strings.Contains(in.stderr.String(), "resuming an upload") {
		t.Errorf("the second run did not resume the upload; stderr:\n%s", in.stderr)
	}
	v := s3test.Verify(t, st, key)
	if v.Status != format.Unsealed || v.Chain != want.Chain || v.Records != want.Records {
		t.Errorf("stored: %v chain %v, %d records; want unsealed, chain %v, %d records", v.Status, v.Chain, v.Records, want.Chain, want.Records)
	}
	if _, meta, _ := st.Head(context.Background(), key); meta["status"] != "unsealed" {
		t.Errorf("status metadata %q, want unsealed", meta["status"])
	}
}
