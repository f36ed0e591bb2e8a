package format_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/wsproxy/wsproxy/format"
)

// Two fixed age key pairs, so that encrypted fixtures stay readable. Test
// keys only: nothing is protected with them.
const (
	testIdentity1  = "AGE-SECRET-KEY-1MR2YTL0PXELF5DQJYLH7779ZY7WVRUM5STHEQCYF9LC4V0P3T3YSUSNLQF"
	testRecipient1 = "age1spw2xvllhl8pmy0vjd7s950k77a8kw00mr8t487rv7773cua7fvsustmsp"
	testIdentity2  = "AGE-SECRET-KEY-1HHNVRQA8HDECKWE7MWZSUYT9JC3P7J766F0U4L0HJ2LCQ5Q3D97QZU4A6H"
	testRecipient2 = "age14syun0c4m3vkx65waq2qlwml56xfy5ayhptm545qgupysswpkp3ss2tdek"
)

// testIDs are what the tests' readers open encrypted recordings with.
var testIDs = func() []age.Identity {
	id, err := age.ParseX25519Identity(testIdentity1)
	if err != nil {
		panic(err)
	}
	return []age.Identity{id}
}()

func identity(t testing.TB, s string) age.Identity {
	t.Helper()
	id, err := age.ParseX25519Identity(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func recipients(t testing.TB, ss ...string) []age.Recipient {
	t.Helper()
	rs, err := format.ParseRecipients(ss, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// secretPayload is a message no encrypted file may hold in the clear.
var secretPayload = []byte("password: hunter2 hunter2 hunter2")

func TestEncryption(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(20, 20)), 200, 2000)
	recs = slices.Insert(recs, 1, format.Record{Kind: format.KindMessage, Time: recs[1].Time, Payload: secretPayload})
	h := testHeader()
	h.Meta[format.MetaToken] = "secret-token-42"
	enc := func(opts format.WriterOptions) []byte {
		var buf bytes.Buffer
		opts.Recipients = recipients(t, testRecipient1, testRecipient2)
		opts.ChunkSize, opts.FlushInterval = 4096, -1
		writeTo(t, &buf, h, recs, opts, true)
		return buf.Bytes()
	}
	b := enc(format.WriterOptions{SignKey: testKey})
	for _, clear := range [][]byte{secretPayload, []byte("secret-token-42"), []byte("192.0.2.1:50000"), []byte("localhost:5900"), []byte("kept as is")} {
		if bytes.Contains(b, clear) {
			t.Errorf("the encrypted file holds %q in the clear", clear)
		}
	}
	if !bytes.Contains(b, []byte("wsproxy test")) {
		t.Error("the program metadata is not in the clear")
	}

	for _, id := range []string{testIdentity1, testIdentity2} {
		t.Run("Identity"+id[len(id)-4:], func(t *testing.T) {
			t.Parallel()
			r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), format.ReaderOptions{Identities: []age.Identity{identity(t, id)}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Header().Meta; got[format.MetaToken] != "secret-token-42" || got["x-future-key"] != "kept as is" || len(got) != len(h.Meta) {
				t.Fatalf("metadata: got %v, want %v", got, h.Meta)
			}
			if enc, err := r.Encrypted(); !enc || err != nil {
				t.Fatalf("Encrypted: %v, %v", enc, err)
			}
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, recs)
			if err := r.Seek(recs[150].Time); err != nil {
				t.Fatal(err)
			}
			if rec, err := r.Next(); err != nil || rec.Time < recs[150].Time {
				t.Fatalf("after Seek: %+v %v", rec, err)
			}
			v, err := r.Verify(format.VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey)})
			if err != nil || v.Status != format.Valid || !v.Encrypted || !v.Decrypted || !v.Trusted || v.Records != uint64(len(recs)) {
				t.Fatalf("Verify: %+v %v", v, err)
			}
		})
	}

	t.Run("NoIdentity", func(t *testing.T) {
		t.Parallel()
		r := openWith(t, b, format.ReaderOptions{})
		h := r.Header()
		if h.Cipher != format.AES256GCM || h.ChainHash != format.BLAKE3 {
			t.Fatalf("header: cipher %v, hash %v", h.Cipher, h.ChainHash)
		}
		want := map[string]string{format.MetaProgram: "wsproxy test"}
		if !mapsEqual(h.Meta, want) {
			t.Fatalf("metadata without identity: got %v, want %v", h.Meta, want)
		}
		if _, err := r.Next(); !errors.Is(err, format.ErrNoIdentity) {
			t.Fatalf("Next: got %v, want ErrNoIdentity", err)
		}
		if err := r.Seek(0); !errors.Is(err, format.ErrNoIdentity) {
			t.Fatalf("Seek: got %v, want ErrNoIdentity", err)
		}
		s, err := r.Summary()
		if err != nil || !s.Sealed || s.Records != uint64(len(recs)) || s.Duration != recs[len(recs)-1].Time {
			t.Fatalf("Summary: %+v %v", s, err)
		}
		v, err := r.Verify(format.VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey)})
		if err != nil || v.Status != format.Valid || !v.Encrypted || v.Decrypted || !v.Trusted {
			t.Fatalf("Verify without identity: %+v %v", v, err)
		}
	})

	t.Run("WrongIdentity", func(t *testing.T) {
		t.Parallel()
		other, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		_, err = format.NewReader(bytes.NewReader(b), int64(len(b)), format.ReaderOptions{Identities: []age.Identity{other}})
		if !errors.Is(err, format.ErrWrongIdentity) {
			t.Fatalf("got %v, want ErrWrongIdentity", err)
		}
		var nm *age.NoIdentityMatchError
		if !errors.As(err, &nm) {
			t.Fatalf("%v does not wrap age's error", err)
		}
	})

	for _, tc := range []struct {
		name   string
		public []string
		want   map[string]string
	}{
		{"PublicMetaNone", []string{}, map[string]string{}},
		{"PublicMetaClient", []string{format.MetaClient, "x-future-key"}, map[string]string{format.MetaClient: "192.0.2.1:50000", "x-future-key": "kept as is"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := enc(format.WriterOptions{PublicMeta: tc.public})
			if got := openWith(t, b, format.ReaderOptions{}).Header().Meta; !mapsEqual(got, tc.want) {
				t.Fatalf("metadata without identity: got %v, want %v", got, tc.want)
			}
			got := openWith(t, b, format.ReaderOptions{Identities: []age.Identity{identity(t, testIdentity1)}}).Header().Meta
			if !mapsEqual(got, h.Meta) {
				t.Fatalf("metadata with identity: got %v, want %v", got, h.Meta)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func openWith(t testing.TB, b []byte, opts format.ReaderOptions) *format.Reader {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestParseRecipients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "recipients.txt")
	if err := os.WriteFile(file, []byte("# auditors\n"+testRecipient1+"\n\n"+testRecipient2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "id.txt")
	if err := os.WriteFile(idFile, []byte("# created: today\n"+testIdentity2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		want  int
		fails bool
	}{
		{"Key", []string{testRecipient1}, 1, false},
		{"File", []string{file}, 2, false},
		{"KeyAndFile", []string{testRecipient2, file}, 3, false},
		{"ErrBadKey", []string{"age1notakey"}, 0, true},
		{"ErrMissingFile", []string{filepath.Join(dir, "none")}, 0, true},
		{"ErrIdentityAsRecipient", []string{idFile}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, err := format.ParseRecipients(tc.args, nil)
			if tc.fails != (err != nil) || len(rs) != tc.want {
				t.Fatalf("got %d recipients, %v; want %d (error %v)", len(rs), err, tc.want, tc.fails)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("AGE-SECRET-KEY")) {
				t.Fatalf("error shows the secret key: %v", err)
			}
		})
	}
	ids, err := format.ReadIdentities(idFile, nil)
	if err != nil || len(ids) != 1 {
		t.Fatalf("ReadIdentities: %d, %v", len(ids), err)
	}
	if _, err := format.ReadIdentities(file, nil); err == nil {
		t.Fatal("ReadIdentities read a recipients file")
	}
}

// incompressible returns n records of random bytes of the given size.
func incompressible(seed uint64, n, size int) []format.Record {
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	recs := []format.Record{{Kind: format.KindOpen}}
	for i := 1; i <= n; i++ {
		p := make([]byte, size)
		rng.Read(p)
		recs = append(recs, format.Record{Kind: format.KindMessage, Time: time.Duration(i) * time.Millisecond, Dir: format.TargetToClient, Payload: p})
	}
	return recs
}

// TestStoredRaw checks that a chunk of random bytes is stored in raw zstd
// blocks, barely larger than the records, and that a compressible one is
// compressed; both read back and verify, in the clear and encrypted.
func TestStoredRaw(t *testing.T) {
	t.Parallel()
	mixed := append(incompressible(1, 40, 20000), randomRecords(rand.New(rand.NewPCG(2, 2)), 300, 3000)[1:]...)
	for i := 41; i < len(mixed); i++ {
		mixed[i].Time += mixed[40].Time
	}
	for _, tc := range []struct {
		name string
		opts format.WriterOptions
	}{
		{"Clear", format.WriterOptions{}},
		{"Encrypted", format.WriterOptions{Recipients: recipients(t, testRecipient1)}},
		{"SHA256", format.WriterOptions{Hash: format.SHA256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.ChunkSize = 256 << 10
			b := write(t, mixed, tc.opts, true)
			r := openWith(t, b, format.ReaderOptions{Identities: []age.Identity{identity(t, testIdentity1)}})
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, mixed)
			v, err := r.Verify(format.VerifyOptions{})
			if err != nil || v.Status != format.Valid {
				t.Fatalf("Verify: %+v %v", v, err)
			}
			s, _ := r.Summary()
			if s.Chunks < 4 {
				t.Fatalf("%d chunks", s.Chunks)
			}
			var raw int64 // the random payload, 800,000 bytes
			for _, rec := range mixed[:41] {
				raw += int64(len(rec.Payload))
			}
			if size := int64(len(b)); size < raw || size > raw+raw/50+s.Uncompressed-raw {
				t.Fatalf("file of %d bytes for %d random and %d other bytes", size, raw, s.Uncompressed-raw)
			}
			if tc.name == "Clear" && b[chunkOffset(t, b, 0)+104+4] != 0xA0 {
				t.Fatal("the first chunk, of random bytes, is not a raw zstd frame")
			}
			if h := r.Header().ChainHash; h != tc.opts.Hash && tc.opts.Hash != 0 || tc.opts.Hash == 0 && h != format.BLAKE3 {
				t.Fatalf("chain hash %v", h)
			}
		})
	}
}

// TestVersion1 checks that a version 1 recording is still written on
// request and read and verified as before.
func TestVersion1(t *testing.T) {
	t.Parallel()
	recs := incompressible(3, 30, 9000)
	b := write(t, recs, format.WriterOptions{Version: 1, ChunkSize: 64 << 10, SignKey: testKey}, true)
	r := open(t, b)
	if h := r.Header(); h.Version != 1 || h.ChainHash != format.SHA256 || h.Cipher != format.NoCipher {
		t.Fatalf("header %+v", h)
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, got, recs)
	v, err := r.Verify(format.VerifyOptions{PublicKey: testKey.Public().(ed25519.PublicKey)})
	if err != nil || v.Status != format.Valid || !v.Trusted {
		t.Fatalf("Verify: %+v %v", v, err)
	}
	for _, opts := range []format.WriterOptions{
		{Version: 1, Hash: format.BLAKE3},
		{Version: 1, Recipients: recipients(t, testRecipient1)},
		{Version: 3},
		{Hash: 9},
	} {
		if _, err := format.NewWriter(io.Discard, testHeader(), opts); !errors.Is(err, format.ErrInvalid) {
			t.Errorf("%+v: got %v, want ErrInvalid", opts, err)
		}
	}
}

// TestCompressedAfterRaw: after chunks of random bytes, stored raw, a
// chunk that compresses is compressed again.
func TestCompressedAfterRaw(t *testing.T) {
	t.Parallel()
	recs := incompressible(4, 20, 20000) // 400,000 bytes: chunks stored raw
	text := bytes.Repeat([]byte("screen update "), 1500)
	for i := range 20 {
		recs = append(recs, format.Record{Kind: format.KindMessage, Time: time.Second + time.Duration(i)*time.Millisecond, Payload: text})
	}
	b := write(t, recs, format.WriterOptions{ChunkSize: 64 << 10, FlushInterval: -1}, true)
	got, err := readAll(open(t, b))
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, got, recs)
	if max := 400_000 + 20*len(text)/10; len(b) > max {
		t.Fatalf("file of %d bytes, want at most %d: the text after the random bytes was not compressed", len(b), max)
	}
}
