package format_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/format"
)

// TestTruncateEveryOffset cuts a sealed recording at every byte offset (a
// dense sample for the large one) and checks that the reader returns
// exactly the records of the complete chunks before the cut, with no error,
// reports the file unsealed, and Verify says Unsealed.
func TestTruncateEveryOffset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		recs   int
		max    int
		opts   format.WriterOptions
		stride int
	}{
		{"Small", 60, 200, format.WriterOptions{ChunkSize: 1024}, 1},
		{"Signed", 40, 100, format.WriterOptions{ChunkSize: 512, SignKey: testKey}, 1},
		{"Large", 1000, 2000, format.WriterOptions{ChunkSize: 32 << 10}, 0},
		{"V1Signed", 40, 100, format.WriterOptions{Version: 1, ChunkSize: 512, SignKey: testKey}, 1},
		{"EncryptedSigned", 40, 100, format.WriterOptions{ChunkSize: 512, SignKey: testKey, Recipients: recipients(t, testRecipient1)}, 1},
		{"Raw", -40, 20000, format.WriterOptions{ChunkSize: 128 << 10}, 0},
		{"RawEncrypted", -40, 20000, format.WriterOptions{ChunkSize: 128 << 10, Recipients: recipients(t, testRecipient1)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := testRecords(6, tc.recs, tc.max)
			b, ends := writeWithChunkEnds(t, recs, tc.opts)
			rng := rand.New(rand.NewPCG(7, 7))
			for cut := 0; cut < len(b); {
				checkPrefix(t, b[:cut], recs, ends)
				if tc.stride == 1 {
					cut++
				} else {
					cut += 1 + rng.IntN(600) // a dense sample: about one offset in 300
				}
			}
			// Every chunk boundary and the bytes around it, for the sample.
			for _, e := range ends {
				for d := -2; d <= 2; d++ {
					if c := int(e.offset) + d; c >= 0 && c < len(b) {
						checkPrefix(t, b[:c], recs, ends)
					}
				}
			}
		})
	}
}

type chunkEnd struct {
	offset  int64 // file size once the chunk was written
	records int   // records written by then
}

// writeWithChunkEnds writes recs and notes the file size after each chunk.
func writeWithChunkEnds(t *testing.T, recs []format.Record, opts format.WriterOptions) ([]byte, []chunkEnd) {
	t.Helper()
	var buf bytes.Buffer
	opts.FlushInterval = -1
	w, err := format.NewWriter(&buf, testHeader(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var ends []chunkEnd
	for i, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		if len(ends) == 0 || int64(buf.Len()) != ends[len(ends)-1].offset {
			// The chunk written by this Write held the records before r
			// (it ended before r did not fit) or also r (full after r).
			n := i
			if last := recordsIn(t, buf.Bytes()); last == i+1 {
				n = i + 1
			}
			ends = append(ends, chunkEnd{int64(buf.Len()), n})
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != ends[len(ends)-1].offset {
		ends = append(ends, chunkEnd{int64(buf.Len()), len(recs)})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ends
}

func recordsIn(t *testing.T, b []byte) int {
	t.Helper()
	r := open(t, bytes.Clone(b))
	recs, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// testRecords returns n random records of at most max payload bytes,
// compressible like screen data, or for a negative n, -n records of
// random bytes of max bytes each.
func testRecords(seed uint64, n, max int) []format.Record {
	if n < 0 {
		return incompressible(seed, -n, max)
	}
	return randomRecords(rand.New(rand.NewPCG(seed, uint64(n))), n, max)
}

func checkPrefix(t *testing.T, p []byte, recs []format.Record, ends []chunkEnd) {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(p), int64(len(p)), format.ReaderOptions{Identities: testIDs})
	if err != nil {
		if !errors.Is(err, format.ErrTruncated) || len(ends) > 0 && int64(len(p)) >= ends[0].offset {
			t.Fatalf("cut at %d: NewReader: %v", len(p), err)
		}
		return
	}
	defer r.Close()
	want := 0
	for _, e := range ends {
		if e.offset <= int64(len(p)) {
			want = e.records
		}
	}
	got, err := readAll(r)
	if err != nil {
		t.Fatalf("cut at %d: %v after %d records", len(p), err, len(got))
	}
	if len(got) != want {
		t.Fatalf("cut at %d: read %d records, want %d", len(p), len(got), want)
	}
	assertRecords(t, got, recs[:want])
	if r.Sealed() {
		t.Fatalf("cut at %d: reads as sealed", len(p))
	}
	v, err := r.Verify(format.VerifyOptions{})
	if err != nil || v.Status != format.Unsealed {
		t.Fatalf("cut at %d: Verify: %v %+v, want unsealed", len(p), err, v)
	}
	s, err := r.Summary()
	if err != nil || s.Sealed || s.Records != uint64(want) {
		t.Fatalf("cut at %d: Summary: %+v %v", len(p), s, err)
	}
}

// TestBitFlips flips every bit of small sealed recordings (one bit in
// about stride of the raw ones), one at a time, and checks that each flip
// is detected: the reader refuses the file, or Verify reports anything but
// Valid. An encrypted recording is also verified without its identity.
func TestBitFlips(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		recs     int // negative: random bytes of max each, see testRecords
		max      int
		opts     format.WriterOptions
		stride   int
		noKeyToo bool
	}{
		{"Unsigned", 12, 60, format.WriterOptions{ChunkSize: 200}, 1, false},
		{"Signed", 12, 60, format.WriterOptions{ChunkSize: 200, SignKey: testKey}, 1, false},
		{"V1Unsigned", 12, 60, format.WriterOptions{Version: 1, ChunkSize: 200}, 1, false},
		{"V1Signed", 12, 60, format.WriterOptions{Version: 1, ChunkSize: 200, SignKey: testKey}, 1, false},
		{"SHA256", 12, 60, format.WriterOptions{Hash: format.SHA256, ChunkSize: 200}, 1, false},
		{"Encrypted", 12, 60, format.WriterOptions{ChunkSize: 200, Recipients: recipients(t, testRecipient1)}, 1, true},
		{"EncryptedSigned", 12, 60, format.WriterOptions{ChunkSize: 200, SignKey: testKey, Recipients: recipients(t, testRecipient1)}, 1, true},
		{"RawSigned", -12, 9000, format.WriterOptions{ChunkSize: 64 << 10, SignKey: testKey}, 211, false},
		{"RawEncrypted", -12, 9000, format.WriterOptions{ChunkSize: 64 << 10, Recipients: recipients(t, testRecipient1)}, 211, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := testRecords(8, tc.recs, tc.max)
			b := write(t, recs, tc.opts, true)
			if v, err := open(t, b).Verify(format.VerifyOptions{}); err != nil || v.Status != format.Valid {
				t.Fatalf("unflipped: %+v %v", v, err)
			}
			statuses := map[format.VerifyStatus]int{}
			refused := 0
			for bit := 0; bit < len(b)*8; bit += 1 + (bit*7919)%tc.stride {
				f := bytes.Clone(b)
				f[bit/8] ^= 1 << (bit % 8)
				if tc.noKeyToo {
					checkFlipWithoutKey(t, f, bit)
				}
				r, err := format.NewReader(bytes.NewReader(f), int64(len(f)), format.ReaderOptions{Identities: testIDs})
				if err != nil {
					refused++
					continue
				}
				// Reading without verifying never returns altered records:
				// zstd's content checksum catches what the chain would.
				if got, err := readAll(r); err == nil && !reflect.DeepEqual(got, recs) {
					for i := range got {
						if i < len(recs) && !reflect.DeepEqual(got[i], recs[i]) {
							t.Logf("record %d: got %+v\nwant %+v", i, got[i], recs[i])
						}
					}
					t.Fatalf("bit %d (byte %d of %d) flipped: Next returned altered records without an error (%d records, want %d)", bit, bit/8, len(b), len(got), len(recs))
				}
				v, err := r.Verify(format.VerifyOptions{})
				r.Close()
				if err != nil {
					t.Fatalf("bit %d: Verify error: %v", bit, err)
				}
				if v.Status == format.Valid {
					t.Fatalf("bit %d (byte %d of %d) flipped: Verify says valid", bit, bit/8, len(b))
				}
				statuses[v.Status]++
			}
			t.Logf("%d bits: %d refused by NewReader, Verify: %v", len(b)*8, refused, statuses)
		})
	}
}

// checkFlipWithoutKey checks that Verify finds the flipped bit of an
// encrypted recording without its identity: the chain covers the
// ciphertext.
func checkFlipWithoutKey(t *testing.T, f []byte, bit int) {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(f), int64(len(f)), format.ReaderOptions{})
	if err != nil {
		return
	}
	defer r.Close()
	v, err := r.Verify(format.VerifyOptions{})
	if err != nil {
		t.Fatalf("bit %d: Verify without identity: %v", bit, err)
	}
	if v.Status == format.Valid {
		t.Fatalf("bit %d (byte %d of %d) flipped: Verify without identity says valid", bit, bit/8, len(f))
	}
}

func TestVerifyStatuses(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(9, 9)), 200, 1000)
	signed := write(t, recs, format.WriterOptions{ChunkSize: 4096, SignKey: testKey}, true)
	unsigned := write(t, recs, format.WriterOptions{ChunkSize: 4096}, true)
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	pub := testKey.Public().(ed25519.PublicKey)

	// Flip a bit in the compressed data of the third chunk.
	tampered := bytes.Clone(unsigned)
	third := chunkOffset(t, unsigned, 2)
	tampered[third+104+20] ^= 0x10

	for _, tc := range []struct {
		name    string
		data    []byte
		key     ed25519.PublicKey
		want    format.VerifyStatus
		trusted bool
	}{
		{"ValidUnsigned", unsigned, nil, format.Valid, false},
		{"ValidSignedUntrusted", signed, nil, format.Valid, false},
		{"ValidSignedTrusted", signed, pub, format.Valid, true},
		{"SignatureMissing", unsigned, pub, format.SignatureMissing, false},
		{"SignatureInvalidOtherKey", signed, otherKey.Public().(ed25519.PublicKey), format.SignatureInvalid, false},
		{"Tampered", tampered, nil, format.Tampered, false},
		{"Unsealed", unsigned[:third], nil, format.Unsealed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := open(t, tc.data).Verify(format.VerifyOptions{PublicKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != tc.want || v.Trusted != tc.trusted {
				t.Fatalf("got %v (trusted %v, problem %v), want %v (trusted %v)", v.Status, v.Trusted, v.Problem, tc.want, tc.trusted)
			}
			if tc.want == format.Tampered && (v.Problem == nil || v.Problem.Chunk != 2 || v.Problem.Offset != third || v.Chunks != 2) {
				t.Fatalf("tampered: problem %+v after %d good chunks, want chunk 2 at %d", v.Problem, v.Chunks, third)
			}
		})
	}
}

// chunkOffset returns the file offset of chunk n, found by its header tag.
func chunkOffset(t *testing.T, b []byte, n int) int64 {
	t.Helper()
	idx := 0
	for i := 0; i+12 <= len(b); i++ {
		if string(b[i+8:i+12]) == "WRCK" && b[i] == 0x57 && b[i+1] == 0x2a {
			if idx == n {
				return int64(i)
			}
			idx++
		}
	}
	t.Fatalf("no chunk %d", n)
	return 0
}

// TestStockZstd checks that the zstd command decompresses a recording to
// the record stream, skipping the header, chunk header and trailer frames.
func TestStockZstd(t *testing.T) {
	t.Parallel()
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zstd is not installed; .ci/install installs it")
		}
		t.Skip("SKIPPING: the zstd command is not installed (apt-get install zstd)")
	}
	for _, tc := range []struct {
		name string
		recs []format.Record
		opts format.WriterOptions
	}{
		{"Compressed", randomRecords(rand.New(rand.NewPCG(10, 10)), 300, 3000), format.WriterOptions{ChunkSize: 8192, SignKey: testKey}},
		{"V1", randomRecords(rand.New(rand.NewPCG(10, 10)), 300, 3000), format.WriterOptions{Version: 1, ChunkSize: 8192}},
		{"Raw", incompressible(11, 40, 10000), format.WriterOptions{ChunkSize: 128 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := write(t, tc.recs, tc.opts, true)
			checkStockZstd(t, zstd, b, tc.recs)
		})
	}
}

// checkStockZstd checks that zstd -dc turns recording b into recs.
func checkStockZstd(t *testing.T, zstd string, b []byte, recs []format.Record) {
	t.Helper()
	cmd := exec.Command(zstd, "-dc")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd -dc: %v", err)
	}
	// The output is the records, each a 14-byte header and its payload.
	var got []format.Record
	for p := out; len(p) > 0; {
		if len(p) < 14 {
			t.Fatalf("%d bytes left, not a record header", len(p))
		}
		n := 14 + int(uint32(p[10])|uint32(p[11])<<8|uint32(p[12])<<16|uint32(p[13])<<24)
		r := format.Record{Kind: format.Kind(p[0]), Time: time.Duration(le64(p[2:]))}
		if r.Kind == format.KindMessage {
			r.Dir, r.Type, r.Payload = format.Direction(p[1]&1), format.MessageType(p[1]>>1&1), p[14:n]
		}
		got = append(got, r)
		p = p[n:]
	}
	if len(got) != len(recs) {
		t.Fatalf("zstd -dc gave %d records, want %d", len(got), len(recs))
	}
	for i, r := range recs {
		g := got[i]
		if g.Kind != r.Kind || g.Time != r.Time || r.Kind == format.KindMessage && (g.Dir != r.Dir || g.Type != r.Type || !bytes.Equal(g.Payload, r.Payload)) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, r)
		}
	}
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// TestSeekDamagedIndex sets each field of each entry of the trailer's seek
// index to values out of range (offsets past the trailer, ones whose end
// overflows an int64) or merely wrong (times and sizes that differ from the
// chunk's): Seek never panics, and never skips a record silently: after a
// successful Seek(t), Next returns exactly the records at or after t, or
// an error.
func TestSeekDamagedIndex(t *testing.T) {
	t.Parallel()
	recs := randomRecords(rand.New(rand.NewPCG(10, 10)), 60, 300)
	b := write(t, recs, format.WriterOptions{ChunkSize: 1024}, true)
	trailer := len(b) - int(binary.LittleEndian.Uint32(b[len(b)-12:]))
	n := int(binary.LittleEndian.Uint32(b[trailer+8+8:]))
	if n < 3 {
		t.Fatalf("%d chunks, want several", n)
	}
	times := []time.Duration{0, recs[len(recs)/3].Time, recs[len(recs)/2].Time + 1, recs[len(recs)-1].Time, recs[len(recs)-1].Time + 1}
	fields := []struct {
		name      string
		off, size int
	}{{"Offset", 0, 8}, {"First", 8, 8}, {"Last", 16, 8}, {"Records", 24, 4}, {"Uncompressed", 28, 4}, {"Compressed", 32, 4}}
	for e := range n {
		for _, f := range fields {
			for _, v := range []uint64{0, 1, 1 << 20, 1<<31 - 1, 1<<32 - 1, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
				m := bytes.Clone(b)
				at := trailer + 8 + 72 + 40*e + f.off
				var buf [8]byte
				binary.LittleEndian.PutUint64(buf[:], v)
				copy(m[at:at+f.size], buf[:f.size])
				if bytes.Equal(m, b) {
					continue
				}
				r, err := format.NewReader(bytes.NewReader(m), int64(len(m)), format.ReaderOptions{})
				if err != nil {
					continue
				}
				for _, at := range times {
					if err := r.Seek(at); err != nil {
						continue
					}
					got, err := readAll(r)
					if err != nil {
						continue
					}
					var want []format.Record
					for _, rec := range recs {
						if rec.Time >= at {
							want = append(want, rec)
						}
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("entry %d %s = %#x: Seek(%v) then Next: %d records without an error, want %d", e, f.name, v, at, len(got), len(want))
					}
				}
				r.Close()
			}
		}
	}
}
