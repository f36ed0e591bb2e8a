package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/internal/s3test"
	"github.com/wsproxy/wsproxy/internal/wstest"
)

// TestServeS3 serves a prefix of a real S3-compatible server holding
// more recordings than one ListObjectsV2 page: /recordings pages through
// them, summarised by ranged reads and cached (a second listing reads no
// object), and a replay streams one.
func TestServeS3(t *testing.T) {
	srv := s3test.Start(t, "recs")
	data, err := os.ReadFile(writeRecording(t, t.TempDir(), "a.wsrec"))
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Store("recs")
	defer st.Close()
	const n = 1100
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			key := fmt.Sprintf("fleet/2026-12/%04d.wsrec", i)
			if _, err := st.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("recs"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cmd := start(t, "--s3-endpoint", srv.Endpoint(), "--s3-path-style", "--speed", "max", "127.0.0.1:0", "s3://recs/fleet/")

	listAll := func() (names []string, pages int) {
		after := ""
		for {
			status, body := get(t, http.DefaultClient, "http://"+cmd.addr+"/recordings?limit=500&prefix=2026-12/&after="+after, false)
			var list struct {
				Recordings []struct{ Name, Status string }
				Next       string
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil || status != http.StatusOK {
				t.Fatalf("/recordings: %d %q (%v)", status, body, err)
			}
			pages++
			for _, r := range list.Recordings {
				if r.Status != "sealed" {
					t.Fatalf("%s: status %s", r.Name, r.Status)
				}
				names = append(names, r.Name)
			}
			if list.Next == "" {
				return names, pages
			}
			after = list.Next
		}
	}
	t0 := time.Now()
	names, pages := listAll()
	first := time.Since(t0)
	if len(names) != n || pages != 3 || names[0] != "2026-12/0000.wsrec" || names[n-1] != fmt.Sprintf("2026-12/%04d.wsrec", n-1) {
		t.Fatalf("listed %d recordings in %d pages (%q...), want %d in 3", len(names), pages, names[:min(3, len(names))], n)
	}
	before := len(srv.Operations())
	t0 = time.Now()
	listAll()
	second := time.Since(t0)
	time.Sleep(200 * time.Millisecond) // the access log
	ops := strings.Join(srv.Operations()[before:], " ")
	if strings.Contains(ops, "GetObject") || strings.Contains(ops, "HeadObject") {
		t.Errorf("second listing read objects: %.200s", ops)
	}
	t.Logf("%d recordings: first listing %v, cached %v", n, first.Round(time.Millisecond), second.Round(time.Millisecond))

	c := wstest.Dial(t, "ws://"+cmd.addr+"/2026-12/0042.wsrec", wstest.DialOptions{})
	c.Expect(t, "hello")
	wsutil.WriteClientBinary(c, []byte("hi"))
	c.Expect(t, "world")
	c.ExpectClose(t, ws.StatusNormalClosure)
	if status, _ := get(t, http.DefaultClient, "http://"+cmd.addr+"/2026-12/9999.wsrec", true); status != http.StatusNotFound {
		t.Errorf("missing recording: %d, want 404", status)
	}
}

// TestServeS3Errors: a missing bucket or object fails at start.
func TestServeS3Errors(t *testing.T) {
	srv := s3test.Start(t, "recs")
	for _, tt := range []struct{ name, arg, want string }{
		{"ErrNoBucket", "s3://nosuchbucket/", "not found"},
		{"ErrNoObject", "s3://recs/none.wsrec", "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), []string{"--s3-endpoint", srv.Endpoint(), "--s3-path-style", "127.0.0.1:0", tt.arg}, &stderr, &stderr)
			if err == nil || cli.ExitCode(err) == 0 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
