package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/wsproxy/wsproxy/format"
)

var largeSize = flag.Int64("inspect.large", 1<<30, "payload bytes of the recording BenchmarkInfoLarge makes")

// writeLarge writes a sealed recording of about size payload bytes: 64 KiB
// target→client messages (screen updates) of incompressible data, every
// 10 ms, and a few small client messages; so the file is about as large as
// its payload.
func writeLarge(t testing.TB, name string, size int64) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 4<<20)
	w, err := format.NewWriter(bw, format.Header{Start: testNow, Meta: map[string]string{format.MetaUser: "alice"}},
		format.WriterOptions{FlushInterval: -1, Level: zstd.SpeedFastest})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	p := make([]byte, 64<<10)
	var tm time.Duration
	for n := int64(0); n < size; n += int64(len(p)) {
		rng.Read(p)
		tm += 10 * time.Millisecond
		if err := w.WriteMessage(tm, format.TargetToClient, format.Binary, p); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessage(tm, format.ClientToTarget, format.Binary, p[:10]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}

// readBytes returns how many bytes this process has read with read
// system calls (rchar of /proc/self/io), or false where that is unknown.
func readBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// TestInfoLargeReadsHeaderAndTrailer summarises a 64 MiB sealed recording
// and counts the bytes the process read meanwhile: the header and the
// trailer, not the chunks. It does not run in parallel, so that no other
// test reads at the same time.
func TestInfoLargeReadsHeaderAndTrailer(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB file")
	}
	if _, ok := readBytes(); !ok {
		t.Skip("no /proc/self/io here")
	}
	name := filepath.Join(t.TempDir(), "large.wsrec")
	writeLarge(t, name, 64<<20)
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := readBytes()
	start := time.Now()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"info", "--json", name}, &stdout, &stderr); err != nil {
		t.Fatalf("info: %v\n%s", err, &stderr)
	}
	elapsed := time.Since(start)
	after, _ := readBytes()
	if !strings.Contains(stdout.String(), `"status":"sealed"`) || !strings.Contains(stdout.String(), `"target_bytes":67108864`) {
		t.Fatalf("got %s", &stdout)
	}
	read := after - before
	t.Logf("info read %d of %d bytes in %v", read, fi.Size(), elapsed)
	if read > 256<<10 {
		t.Errorf("info read %d bytes of a %d-byte sealed recording: want only its header and trailer", read, fi.Size())
	}
}

// BenchmarkInfoLarge times info on a sealed recording of -inspect.large
// payload bytes (1 GiB by default; the file is made once, uncounted).
func BenchmarkInfoLarge(b *testing.B) {
	name := filepath.Join(b.TempDir(), "large.wsrec")
	writeLarge(b, name, *largeSize)
	fi, err := os.Stat(name)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := run(b.Context(), []string{"info", name}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
}

// benchRecording writes, once per benchmark, a sealed recording of a VNC
// session's shape: screen updates of 1 to 64 KiB of raw pixels from the
// target (runs of colours from a palette, which compress about 4 to 1),
// small input events from the client. It returns the file and its payload
// bytes.
func benchRecording(b *testing.B, size int64) (string, int64) {
	b.Helper()
	name := filepath.Join(b.TempDir(), "bench.wsrec")
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{Start: testNow}, format.WriterOptions{FlushInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var palette [64][4]byte
	for i := range palette {
		palette[i] = [4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), 0}
	}
	pixels := make([]byte, 0, 32<<20)
	for len(pixels) < cap(pixels) {
		c := palette[rng.IntN(len(palette))]
		for range 1 + rng.IntN(8) {
			pixels = append(pixels, c[:]...)
		}
	}
	var total int64
	var tm time.Duration
	for total < size {
		tm += time.Duration(rng.IntN(20)) * time.Millisecond
		n, dir := 1024+rng.IntN(63<<10), format.TargetToClient
		if rng.IntN(4) == 0 {
			n, dir = 8, format.ClientToTarget
		}
		off := rng.IntN(len(pixels) - n)
		p := pixels[off : off+n]
		if err := w.WriteMessage(tm, dir, format.Binary, p); err != nil {
			b.Fatal(err)
		}
		total += int64(len(p))
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return name, total
}

// BenchmarkScan reads a whole recording through the commands that scan
// it; MB/s is of payload.
func BenchmarkScan(b *testing.B) {
	name, payload := benchRecording(b, 256<<20)
	for _, args := range [][]string{
		{"frames", name},
		{"frames", "--json", name},
		{"frames", "--grep", "^\xff{4}", name},
		{"stats", name},
		{"dump", "-o", "-", name},
		{"verify", name},
	} {
		b.Run(args[0]+strings.Join(args[1:len(args)-1], ""), func(b *testing.B) {
			b.SetBytes(payload)
			for b.Loop() {
				if err := run(b.Context(), args, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
