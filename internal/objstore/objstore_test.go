package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wsproxy/wsproxy/internal/objstore"
	"github.com/wsproxy/wsproxy/internal/s3test"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     objstore.Location
		prefix   bool
		err      bool
	}{
		{"Key", "s3://bkt/a/c.wsrec", objstore.Location{Bucket: "bkt", Key: "a/c.wsrec"}, false, false},
		{"Prefix", "s3://bkt/rec/", objstore.Location{Bucket: "bkt", Key: "rec/"}, true, false},
		{"Bucket", "s3://bkt", objstore.Location{Bucket: "bkt"}, true, false},
		{"BucketSlash", "s3://bkt/", objstore.Location{Bucket: "bkt"}, true, false},
		{"ErrNoBucket", "s3:///k", objstore.Location{}, false, true},
		{"ErrNotURL", "/tmp/x", objstore.Location{}, false, true},
		{"ErrEmptyElem", "s3://bkt/a//c", objstore.Location{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := objstore.ParseURL(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseURL(%q) error %v, want error %v", tt.in, err, tt.err)
			}
			if err != nil {
				return
			}
			if got != tt.want || got.IsPrefix() != tt.prefix {
				t.Errorf("ParseURL(%q) = %+v (prefix %v), want %+v (prefix %v)", tt.in, got, got.IsPrefix(), tt.want, tt.prefix)
			}
		})
	}
}

func TestObject(t *testing.T) {
	srv := s3test.Start(t, "recs")
	st := srv.Store("recs")
	ctx := t.Context()
	data := make([]byte, 300<<10+17)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	put(t, st, "a/obj", data)

	o, err := st.Open(ctx, "a/obj", objstore.ObjectOptions{BlockSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if o.Size() != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", o.Size(), len(data))
	}
	t.Run("Reads", func(t *testing.T) {
		for _, r := range []struct{ off, n int }{{0, 12}, {65530, 20}, {len(data) - 40, 40}, {100, 200 << 10}} {
			got := make([]byte, r.n)
			if _, err := o.ReadAt(got, int64(r.off)); err != nil {
				t.Fatalf("ReadAt(%d, %d): %v", r.off, r.n, err)
			}
			if !bytes.Equal(got, data[r.off:r.off+r.n]) {
				t.Errorf("ReadAt(%d, %d): wrong bytes", r.off, r.n)
			}
		}
	})
	t.Run("EOF", func(t *testing.T) {
		got := make([]byte, 100)
		n, err := o.ReadAt(got, int64(len(data)-10))
		if n != 10 || err != io.EOF {
			t.Errorf("ReadAt past the end = %d, %v; want 10, EOF", n, err)
		}
	})
	t.Run("Cache", func(t *testing.T) {
		o, _ := st.Open(ctx, "a/obj", objstore.ObjectOptions{BlockSize: 64 << 10})
		before := st.Requests()
		b := make([]byte, 10)
		for range 5 {
			o.ReadAt(b, 5)
			o.ReadAt(b, 70<<10)
		}
		if got := st.Requests() - before; got != 2 {
			t.Errorf("10 reads in 2 blocks: %d requests, want 2", got)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := st.Open(ctx, "nope", objstore.ObjectOptions{})
		if !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Open(missing) = %v, want ErrNotFound", err)
		}
	})
	t.Run("List", func(t *testing.T) {
		for i := range 5 {
			put(t, st, fmt.Sprintf("l/%02d", i), []byte{byte(i)})
		}
		var keys []string
		err := st.List(ctx, "l/", func(oi objstore.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(keys) != "[l/00 l/01 l/02 l/03 l/04]" {
			t.Errorf("List = %v", keys)
		}
	})
	t.Run("CheckMissingBucket", func(t *testing.T) {
		err := srv.Store("nobucket").Check(ctx)
		if !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Check = %v, want ErrNotFound", err)
		}
	})
	t.Run("CheckBadCredentials", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
		err := srv.Store("recs").Check(ctx)
		if err == nil || errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Check with a wrong secret = %v, want a credentials error", err)
		}
		t.Log(err)
	})
}

func put(t *testing.T, st *objstore.Store, key string, data []byte) {
	t.Helper()
	_, err := st.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
}
