package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// recordings holds the fixtures the format package keeps.
const recordings = "../../testdata/recordings"

// fix is a directory of further fixtures, made by TestMain:
//
//	signer.pub, signer.key  the key sealed-signed.wsrec is signed with
//	other.pub               another key
//	recordings/             recordings of several users, for info
//	rfb/                    damaged and encrypted RFB sessions (rfb_test.go)
var fix string

// signKey is the key of sealed-signed.wsrec (format's golden_test.go).
var signKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// testNow is the clock of the golden tests.
var testNow = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// makeFixtures fills dir with the files fix describes.
func makeFixtures(dir string) error {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	for name, key := range map[string]any{"signer.pub": signKey.Public(), "signer.key": signKey, "other.pub": other.Public()} {
		if err := writeKey(filepath.Join(dir, name), key); err != nil {
			return err
		}
	}
	if err := makeRFBFixtures(dir); err != nil {
		return err
	}
	recs := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(filepath.Join(recs, "2026-10"), 0o755); err != nil {
		return err
	}
	for _, s := range sessions {
		b, err := s.bytes()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(recs, s.file), b, 0o644); err != nil {
			return err
		}
	}
	ws, err := os.ReadFile(filepath.Join(recordings, "websockify-vnc-session.txt"))
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"rec.1":                ws,
		"notes.txt":            []byte("not a recording\n"),
		".alice-3.wsrec.1.tmp": []byte("a convert in progress\n"),
	} {
		if err := os.WriteFile(filepath.Join(recs, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeKey(name string, key any) error {
	var block pem.Block
	var err error
	if priv, ok := key.(ed25519.PrivateKey); ok {
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(priv)
	} else {
		block.Type = "PUBLIC KEY"
		block.Bytes, err = x509.MarshalPKIXPublicKey(key)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(name, pem.EncodeToMemory(&block), 0o600)
}

// session is a recording made for the tests.
type session struct {
	file   string
	id     string
	start  time.Time
	length time.Duration
	meta   map[string]string
	signed bool
	sealed bool
}

var sessions = []session{
	{"alice-1.wsrec", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), 10 * time.Second,
		map[string]string{format.MetaUser: "alice", format.MetaClient: "192.0.2.10:40000", format.MetaTarget: "vnc1.example:5900", format.MetaToken: "desk-1"}, true, true},
	{"alice-2.wsrec", "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2", time.Date(2026, 11, 3, 18, 30, 0, 0, time.UTC), 95 * time.Second,
		map[string]string{format.MetaUser: "alice", format.MetaClient: "192.0.2.10:40100", format.MetaTarget: "vnc2.example:5900", format.MetaToken: "desk-2"}, false, true},
	{"bob-1.wsrec", "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1", time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), 30 * time.Second,
		map[string]string{format.MetaUser: "bob", format.MetaClient: "198.51.100.7:5555", format.MetaRealClient: "203.0.113.9", format.MetaTarget: "vnc2.example:5900", format.MetaToken: "desk-2"}, false, false},
	{"2026-10/carol-1.wsrec", "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1", time.Date(2026, 10, 30, 23, 59, 0, 0, time.UTC), 2 * time.Minute,
		map[string]string{format.MetaUser: "carol", format.MetaClient: "192.0.2.99:1234", format.MetaTarget: "/run/vnc.sock"}, false, true},
}

// bytes writes the session: an open record, messages both ways about
// every 100 ms, a marker, and a close record (if sealed).
func (s session) bytes() ([]byte, error) {
	id, err := format.ParseSessionID(s.id)
	if err != nil {
		return nil, err
	}
	opts := format.WriterOptions{FlushInterval: -1, ChunkSize: 16 << 10}
	if s.signed {
		opts.SignKey = signKey
	}
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{SessionID: id, Start: s.start, Meta: s.meta}, opts)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(s.start.Unix()), 1))
	if err := w.Write(format.Record{Kind: format.KindOpen}); err != nil {
		return nil, err
	}
	var sent [2]uint64
	for t := time.Duration(0); t < s.length; t += time.Duration(50+rng.IntN(100)) * time.Millisecond {
		dir := format.Direction(rng.IntN(2))
		p := make([]byte, rng.IntN(64)<<uint(dir*4)) // the target sends more
		for i := range p {
			p[i] = byte(rng.IntN(8))
		}
		sent[dir] += uint64(len(p))
		if err := w.WriteMessage(t, dir, format.Binary, p); err != nil {
			return nil, err
		}
		if t > s.length/2 && t-s.length/2 < 150*time.Millisecond {
			if err := w.WriteMarker(t, "half way"); err != nil {
				return nil, err
			}
		}
	}
	if !s.sealed {
		if err := w.Flush(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	if err := w.Write(format.Record{Kind: format.KindClose, Time: s.length, Close: format.CloseInfo{
		By: format.ClosedByClient, Code: 1000, ClientBytes: sent[0], TargetBytes: sent[1],
	}}); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.file, err)
	}
	return buf.Bytes(), nil
}

// copyFile copies src into dir and returns the copy's name.
func copyFile(t testing.TB, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
