package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	crand "crypto/rand"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/internal/s3test"
)

// putObject stores data under key.
func putObject(t *testing.T, srv *s3test.Server, bucket, key string, data []byte) {
	t.Helper()
	st := srv.Store(bucket)
	defer st.Close()
	_, err := st.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestS3 reads recordings in a real S3-compatible server: info on a
// sealed object reads only its first and last blocks (counted in the
// server's access log) and says what info says of the local file; a
// prefix lists every recording under it; verify reads one through.
func TestS3(t *testing.T) {
	srv := s3test.Start(t, "recs")
	// A sealed recording of about 3 MiB: several of the reader's 1 MiB
	// blocks.
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{Start: testNow, Meta: map[string]string{"user": "alice"}}, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 32<<10)
	for i := range 96 {
		crand.Read(payload)
		w.WriteMessage(time.Duration(i)*time.Millisecond, format.TargetToClient, format.Binary, payload)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sealed := buf.Bytes()
	localBig := filepath.Join(t.TempDir(), "big.wsrec")
	if err := os.WriteFile(localBig, sealed, 0o644); err != nil {
		t.Fatal(err)
	}
	putObject(t, srv, "recs", "a/big.wsrec", sealed)
	for _, name := range []string{"sealed-small.wsrec", "unsealed-killed.wsrec"} {
		b, err := os.ReadFile(filepath.Join(recordings, name))
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, srv, "recs", "a/"+name, b)
	}
	putObject(t, srv, "recs", "a/.hidden", []byte("x"))
	args := func(a ...string) []string {
		return append([]string{"--s3-endpoint", srv.Endpoint(), "--s3-path-style"}, a...)
	}

	t.Run("InfoRangedGET", func(t *testing.T) {
		before := len(srv.Operations())
		var obj, local bytes.Buffer
		if err := run(t.Context(), args("info", "--json", "s3://recs/a/big.wsrec"), &obj, os.Stderr); err != nil {
			t.Fatal(err)
		}
		var ops []string
		deadline := time.Now().Add(5 * time.Second)
		for len(ops) < 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			ops = srv.Operations()[before:]
		}
		gets := strings.Count(strings.Join(ops, " "), "GetObject")
		if gets != 2 || len(ops) != 3 {
			t.Errorf("info on a sealed %d-byte object: requests %v; want a HEAD and at most two GETs", len(sealed), ops)
		}
		if err := run(t.Context(), []string{"info", "--json", localBig}, &local, os.Stderr); err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		json.Unmarshal(obj.Bytes(), &a)
		json.Unmarshal(local.Bytes(), &b)
		delete(a, "file")
		delete(b, "file")
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) || a["status"] != "sealed" {
			t.Errorf("info of the object:\n%s\nof the file:\n%s", ja, jb)
		}
	})
	t.Run("InfoPrefix", func(t *testing.T) {
		var out bytes.Buffer
		err := run(t.Context(), args("info", "--json", "s3://recs/a/"), &out, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
			var row struct{ File, Status string }
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			files = append(files, row.File+" "+row.Status)
		}
		slices.Sort(files) // info orders rows by start
		want := "s3://recs/a/big.wsrec sealed s3://recs/a/sealed-small.wsrec sealed s3://recs/a/unsealed-killed.wsrec unsealed"
		if got := strings.Join(files, " "); got != want {
			t.Errorf("info over the prefix: %s, want %s", got, want)
		}
	})
	t.Run("Verify", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(t.Context(), args("verify", "s3://recs/a/sealed-small.wsrec"), &out, os.Stderr); err != nil {
			t.Fatalf("verify: %v\n%s", err, out.String())
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		var out, errb bytes.Buffer
		err := run(t.Context(), args("info", "s3://recs/a/nope.wsrec"), &out, &errb)
		if code := cli.ExitCode(err); code != exitUnreadable || !strings.Contains(out.String()+errb.String()+err.Error(), "not found") {
			t.Errorf("exit code %d (%v), stdout %q; want %d and not found", code, err, out.String(), exitUnreadable)
		}
	})
}
