// Package rfbtest holds the test helpers shared by the tests of the RFB
// decoder and its users: builders of RFB messages (RFC 6143 §7,
// rfbproto.rst), written from the specification independently of the
// decoder, and loaders of the records of recordings such as the RFB
// capture fixtures of testdata/rfb. It is imported by tests only.
//
// It imports format but not format/rfb, so that format/rfb's own
// (internal) tests can import it.
package rfbtest

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wsproxy/wsproxy/format"
)

// Cat joins parts into one message.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// U8 returns each of v as one byte.
func U8(v ...int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// U16 returns each of v as a big-endian 16-bit integer.
func U16(v ...int) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, uint16(x))
	}
	return b
}

// U32 returns each of v as a big-endian 32-bit integer.
func U32(v ...int64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, uint32(x))
	}
	return b
}

// FixtureDir returns the directory of the RFB capture fixtures,
// testdata/rfb at the module's root (see its README.md).
func FixtureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "rfb")
}

// Records returns the records of the wsrec recording at path, failing the
// test if it cannot be read to its end.
func Records(t testing.TB, path string) []format.Record {
	t.Helper()
	r, err := format.Open(path, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return ReadAll(t, r)
}

// RecordsOf returns the records of the wsrec recording in b.
func RecordsOf(t testing.TB, b []byte) []format.Record {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return ReadAll(t, r)
}

// ReadAll reads r's records to the end, each with a payload of its own,
// failing the test on an error.
func ReadAll(t testing.TB, r *format.Reader) []format.Record {
	t.Helper()
	var recs []format.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Payload = bytes.Clone(rec.Payload)
		recs = append(recs, rec)
	}
}

// Open returns the header, the records and the seal state of the wsrec
// recording at path, failing the test if it cannot be read to its end.
func Open(t testing.TB, path string) (format.Header, []format.Record, bool) {
	t.Helper()
	r, err := format.Open(path, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs := ReadAll(t, r)
	return r.Header(), recs, r.Sealed()
}

// Files lists the regular files under dir, as a recorder's directory
// holds them, in lexical order.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// WriteFile writes recs as a sealed wsrec recording at path, creating its
// directory, with header h, written with opts.
func WriteFile(t testing.TB, path string, h format.Header, opts format.WriterOptions, recs []format.Record) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
