package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
)

// The mutation battery: every subcommand, in-process through run, on
// damaged copies of recordings under testdata, made by deterministic
// mutations: bit flips, truncations, inserted, removed and repeated bytes,
// huge length and count fields, messages changed inside a recording sealed
// anew (RFB messages of huge declared lengths among them), bad numbers,
// escapes and quotes in websockify's text. A run must not panic, must end
// before its deadline, must exit with a status the README documents for
// the command, and must say why on stderr when it fails (verify: in its
// verdict on stdout). A command that writes a file must leave no
// temporary file behind, and no output when it fails for any reason but a
// damaged or cut-off input. Reading from the middle of a recording whose
// trailer was changed must print the original's records or fail.

// batteryRunTimeout is the deadline of one run; a run on these files of a
// few KiB takes milliseconds.
const batteryRunTimeout = 10 * time.Second

// batteryFixtures are the recordings mutated: a sealed and signed wsrec
// file of several chunks, two holding VNC sessions, and a websockify one
// without its two longest lines.
var batteryFixtures = []string{
	filepath.Join(recordings, "sealed-signed.wsrec"),
	filepath.Join(recordings, noVNCFixture),
	"../../testdata/rfb/xvnc-vncauth-ok.wsrec",
	filepath.Join(recordings, "websockify-vnc-session.txt"),
}

// mutant is a damaged copy of a fixture.
type mutant struct {
	name string
	data []byte
}

// batteryCommand is a command line run on each mutant; in and out stand
// for the mutant's file and an output file.
type batteryCommand struct {
	args []string
	// codes are the exit statuses the README allows.
	codes []int
	// writes is true when the command writes the file out.
	writes bool
	// ext is the extension out needs.
	ext string
}

// Exit statuses of the commands other than verify: success, failure (rfb
// and keys: not an RFB session), unreadable, damaged or cut off.
var readCodes = []int{cli.ExitOK, cli.ExitFailure, exitUnreadable, exitDamaged}

// batterySlots are the command lines run on the mutants. Each mutant gets
// a quarter of the slots, in turn, so that every slot sees a quarter of the
// mutants of every fixture and kind of damage; the original gets them all.
// The variants of a slot take turns from one of its runs to the next; an
// empty one skips the run (writing costs ten times as much as reading).
// One run costs about 2 ms of CPU, 20 ms with the race detector.
var batterySlots = [][]batteryCommand{
	{
		{args: []string{"info", "in"}, codes: readCodes},
		{args: []string{"info", "--json", "in"}, codes: readCodes},
	},
	{
		{args: []string{"frames", "--hex", "in"}, codes: readCodes},
		{args: []string{"frames", "--from", "1s", "--dir", "target", "in"}, codes: readCodes},
		{args: []string{"frames", "--from", "300ms", "--to", "2s", "--grep", "RFB|\\x00", "in"}, codes: readCodes},
	},
	{{args: []string{"dump", "in"}, codes: readCodes}},
	{{args: []string{"verify", "in"}, codes: []int{exitValid, exitTampered, exitUnsealed, exitSignature, exitVerifyRead}}},
	{{args: []string{"stats", "in"}, codes: readCodes}},
	{{args: []string{"rfb", "--all", "in"}, codes: readCodes}},
	{{args: []string{"keys", "in"}, codes: readCodes}},
	{
		{args: []string{"convert", "in", "-o", "out", "--to", "wsrec"}, codes: readCodes, writes: true},
		{},
		{args: []string{"convert", "in", "-o", "out", "--to", "websockify"}, codes: readCodes, writes: true},
		{},
		{args: []string{"convert", "in", "-o", "out", "--to", "jsonl"}, codes: readCodes, writes: true},
		{},
		{args: []string{"cut", "in", "--from", "0s", "--to", "2s", "-o", "out"}, codes: readCodes, writes: true},
		{},
		{args: []string{"cut", "in", "--from", "1s", "--to", "1m", "-o", "out"}, codes: readCodes, writes: true},
		{},
		{args: []string{"dump", "--dir", "client", "in", "-o", "out"}, codes: readCodes, writes: true},
		{},
		{args: []string{"stats", "in", "--png", "out"}, codes: readCodes, writes: true},
		{},
	},
	{
		{args: []string{"snapshot", "in", "--at", "300ms", "-o", "out"}, codes: readCodes, writes: true, ext: ".png"},
		{},
		{args: []string{"contact-sheet", "in", "-n", "3", "--width", "64", "-o", "out"}, codes: readCodes, writes: true, ext: ".png"},
		{},
		{args: []string{"snapshot", "in", "--no-index", "--no-cursor", "--at", "1s", "-o", "out"}, codes: readCodes, writes: true, ext: ".jpg"},
		{},
	},
}

// batterySeek is run on every mutant of a length field of the trailer.
var batterySeek = batteryCommand{args: []string{"frames", "--from", "300ms", "in"}, codes: readCodes}

// batteryRounds is how many sets of mutants the battery makes of each
// fixture, each from other random numbers: go test -run
// TestMutationBattery -battery.rounds 100 runs a longer battery.
var batteryRounds = flag.Int("battery.rounds", 1, "rounds of TestMutationBattery")

// TestMutationBattery runs batterySlots on the mutants of each fixture.
func TestMutationBattery(t *testing.T) {
	t.Parallel()
	for i, fixture := range batteryFixtures {
		b, err := os.ReadFile(fixture)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(fixture), func(t *testing.T) {
			t.Parallel()
			for round := range *batteryRounds {
				dir := t.TempDir()
				out := t.TempDir()
				var seekWant string // batterySeek's output for the original
				for k, m := range mutants(b, uint64(i), uint64(round)) {
					in := filepath.Join(dir, m.name)
					if err := os.WriteFile(in, m.data, 0o644); err != nil {
						t.Fatal(err)
					}
					switch {
					case k == 0:
						seekWant, _ = runMutant(t, batterySeek, in, "")
						seekWant = strings.ReplaceAll(seekWant, in, "IN")
					case strings.Contains(m.name, "-trailer-") || strings.Contains(m.name, "-index-"):
						// Reading from the middle trusts the trailer's
						// index: every mutant of one of its fields is read
						// so, and as the records are the original's, they
						// are printed as the original's, or not at all.
						got, code := runMutant(t, batterySeek, in, "")
						if got = strings.ReplaceAll(got, in, "IN"); code == 0 && got != seekWant {
							t.Errorf("%s: exit status 0, and not the original's records:\n%s\nwant\n%s", m.name, got, seekWant)
						}
					}
					for j, variants := range batterySlots {
						if k > 0 && (j+k+round)%4 != 0 {
							continue
						}
						if c := variants[(k/4+round)%len(variants)]; c.args != nil {
							runMutant(t, c, in, filepath.Join(out, fmt.Sprintf("%d-%s%s", k, c.args[0], c.ext)))
						}
					}
				}
				// All of them at once, as a directory.
				runMutant(t, batteryCommand{args: []string{"info", "in"}, codes: readCodes}, dir, "")
			}
		})
	}
}

// runMutant runs one command line on in, checks the outcome, and returns
// its stdout and exit status.
func runMutant(t *testing.T, c batteryCommand, in, out string) (string, int) {
	t.Helper()
	args := slices.Clone(c.args)
	for i, a := range args {
		switch a {
		case "in":
			args[i] = in
		case "out":
			args[i] = out
		}
	}
	line := strings.Join(args, " ")
	ctx, cancel := context.WithTimeout(t.Context(), batteryRunTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	type result struct {
		err   error
		panic string
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{panic: fmt.Sprintf("%v\n%s", v, debug.Stack())}
			}
		}()
		done <- result{err: run(ctx, args, &stdout, &stderr)}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(batteryRunTimeout + 5*time.Second):
		// Its goroutine is left running: goleak reports it too.
		t.Errorf("%s: still running after %v", line, batteryRunTimeout+5*time.Second)
		return "", -1
	}
	if res.panic != "" {
		t.Errorf("%s: panic: %s", line, res.panic)
		return "", -1
	}
	code := cli.ExitCode(res.err)
	if !slices.Contains(c.codes, code) {
		t.Errorf("%s: exit status %d (%v), want one of %v; stderr:\n%s", line, code, res.err, c.codes, &stderr)
	}
	if code != 0 {
		if c.args[0] == "verify" {
			if !strings.Contains(stdout.String(), in) {
				t.Errorf("%s: exit status %d without a verdict naming the file; stdout:\n%s", line, code, &stdout)
			}
		} else if strings.TrimSpace(stderr.String()) == "" {
			t.Errorf("%s: exit status %d and nothing on stderr", line, code)
		}
	}
	if c.writes {
		checkOutput(t, line, out, code, stderr.String())
	}
	return stdout.String(), code
}

// checkOutput checks what a command that writes out left behind.
func checkOutput(t *testing.T, line, out string, code int, stderr string) {
	t.Helper()
	if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp")); len(tmps) > 0 {
		t.Errorf("%s: left %v behind", line, tmps)
	}
	_, err := os.Stat(out)
	switch {
	case code == 0 && err != nil:
		t.Errorf("%s: exit status 0 and no output: %v", line, err)
	case code != 0 && code != exitDamaged && err == nil:
		t.Errorf("%s: exit status %d and an output file", line, code)
	case strings.Contains(stderr, "nothing written") && err == nil:
		t.Errorf("%s: says nothing was written, but wrote %s", line, out)
	case strings.Contains(stderr, "holds everything before") && err != nil:
		t.Errorf("%s: says what it wrote, but wrote nothing: %v", line, err)
	}
}

// mutants returns the fixture's damaged copies, the same for the same
// fixture and seeds.
func mutants(b []byte, seed1, seed2 uint64) []mutant {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	var ms []mutant
	add := func(name string, data []byte) { ms = append(ms, mutant{name, data}) }
	if isWebsockify(b) {
		// Without its long lines (framebuffer updates of 100 KiB and
		// more), so that the mutants stay small.
		var short []byte
		for line := range bytes.Lines(b) {
			if len(line) < 4<<10 {
				short = append(short, line...)
			}
		}
		b = short
		add("websockify-original", b)
		for i, m := range websockifyMutations {
			add(fmt.Sprintf("websockify-%d", i), m(b, rng))
		}
	} else {
		add("original", b)
		for j, f := range firstOfEach(lengthFields(b)) {
			// Huge values and 0, in turn from one field and round to the
			// next; 8-byte fields first get the largest int64, which
			// overflows once added to.
			vs := map[int][]uint64{
				2: {1<<16 - 1, 0},
				4: {1<<31 - 1, 1<<32 - 1, 0},
				8: {1<<63 - 1, 1<<64 - 1, 1 << 32, 0},
			}[f.size]
			if f.size == 8 {
				j = 0
			}
			v := vs[(j+int(seed2))%len(vs)]
			add(fmt.Sprintf("len-%d-%s-%x", f.off, f.name, v), setField(b, f, v))
		}
	}
	for i := range 5 {
		p := rng.IntN(len(b) * 8)
		add(fmt.Sprintf("flip-%d-bit-%d", i, p), flip(b, p))
	}
	for _, n := range []int{0, 9, len(b) / 2, len(b) - 12, len(b) - 1} {
		if n >= 0 && n < len(b) {
			add(fmt.Sprintf("cut-at-%d", n), bytes.Clone(b[:n]))
		}
	}
	for i := range 2 {
		p := rng.IntN(len(b))
		ins := make([]byte, []int{1, 4096}[i])
		for j := range ins {
			ins[j] = byte(rng.IntN(256))
		}
		add(fmt.Sprintf("insert-%d-at-%d", len(ins), p), slices.Concat(b[:p], ins, b[p:]))
	}
	for i := range 2 {
		p := rng.IntN(len(b))
		n := min([]int{1, 300}[i], len(b)-p)
		add(fmt.Sprintf("remove-%d-at-%d", n, p), slices.Concat(b[:p], b[p+n:]))
	}
	p := rng.IntN(len(b))
	add(fmt.Sprintf("twice-from-%d", p), slices.Concat(b, b[p:]))
	if !isWebsockify(b) {
		ms = append(ms, resealed(b, rng)...)
	}
	return ms
}

// resealed returns copies of a wsrec recording whose records were changed
// and which were then written and sealed anew: they pass the format's
// checks, so that the damage reaches the readers of what the messages
// hold (the RFB decoder, keys, stats). The RFB messages that declare a
// length (cut texts, framebuffer updates) get huge ones.
func resealed(b []byte, rng *rand.Rand) []mutant {
	r, err := format.NewReader(bytes.NewReader(b), int64(len(b)), format.ReaderOptions{})
	if err != nil {
		return nil
	}
	defer r.Close()
	h := r.Header()
	var recs []format.Record
	var msgs []int // indexes of the messages in recs
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		rec.Payload = bytes.Clone(rec.Payload)
		if rec.Kind == format.KindMessage && len(rec.Payload) > 0 {
			msgs = append(msgs, len(recs))
		}
		recs = append(recs, rec)
	}
	if len(msgs) == 0 {
		return nil
	}
	var ms []mutant
	add := func(name string, recs []format.Record) {
		out, _, err := rewrite(h, recs, 1<<10)
		if err == nil {
			ms = append(ms, mutant{"resealed-" + name, out})
		}
	}
	// change returns a copy of recs whose message i has payload p.
	change := func(i int, p []byte) []format.Record {
		c := slices.Clone(recs)
		c[i].Payload = p
		return c
	}
	pick := func() (int, []byte) {
		i := msgs[rng.IntN(len(msgs))]
		return i, bytes.Clone(recs[i].Payload)
	}
	for range 3 {
		i, p := pick()
		bit := rng.IntN(len(p) * 8)
		p[bit/8] ^= 1 << (bit % 8)
		add(fmt.Sprintf("flip-%d-bit-%d", i, bit), change(i, p))
	}
	for range 2 {
		i, p := pick()
		at := rng.IntN(len(p))
		copy(p[at:], []byte{0xff, 0xff, 0xff, 0xff})
		add(fmt.Sprintf("ff-%d-at-%d", i, at), change(i, p))
	}
	i, p := pick()
	n := rng.IntN(len(p))
	add(fmt.Sprintf("short-%d-to-%d", i, n), change(i, p[:n]))
	i, _ = pick()
	add(fmt.Sprintf("drop-%d", i), slices.Delete(slices.Clone(recs), i, i+1))
	i, _ = pick()
	add(fmt.Sprintf("twice-%d", i), slices.Insert(slices.Clone(recs), i, recs[i]))
	i, _ = pick()
	c := slices.Clone(recs)
	c[i].Dir = 3 - c[i].Dir // the other way
	add(fmt.Sprintf("turn-%d", i), c)
	// RFB messages of huge declared lengths, after the handshake.
	at := msgs[len(msgs)/2]
	for _, m := range []struct {
		name string
		dir  format.Direction
		p    []byte
	}{
		{"server-cut-text", format.TargetToClient, []byte{3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'x'}},
		{"client-cut-text", format.ClientToTarget, []byte{6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 'x'}},
		{"update-rects", format.TargetToClient, []byte{0, 0, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
		{"colour-map", format.TargetToClient, []byte{1, 0, 0, 0, 0xff, 0xff}},
		{"set-encodings", format.ClientToTarget, []byte{2, 0, 0xff, 0xff, 0, 0, 0, 0}},
	} {
		rec := recs[at]
		rec.Dir, rec.Payload = m.dir, m.p
		add("huge-"+m.name, slices.Insert(slices.Clone(recs), at, rec))
	}
	return ms
}

func isWebsockify(b []byte) bool { return bytes.HasPrefix(b, []byte("var VNC_frame")) }

func flip(b []byte, bit int) []byte {
	c := bytes.Clone(b)
	c[bit/8] ^= 1 << (bit % 8)
	return c
}

// field is a little-endian integer in a wsrec file that sizes or counts
// something (format/SPEC.md).
type field struct {
	name      string
	off, size int
}

func setField(b []byte, f field, v uint64) []byte {
	c := bytes.Clone(b)
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], v)
	copy(c[f.off:f.off+f.size], buf[:f.size])
	return c
}

// lengthFields walks a wsrec file's frames and returns its length and
// count fields: frame sizes, the header's metadata count and first key and
// value lengths, each chunk header's counts and sizes, and the trailer's
// chunk count, record count, data end and own size.
func lengthFields(b []byte) []field {
	const skippable = 0x184D2A57
	var fs []field
	le32 := func(off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }
	off := 0
	for off+8 <= len(b) && le32(off) == skippable {
		size := le32(off + 4)
		fs = append(fs, field{"frame-size", off + 4, 4})
		payload := off + 8
		if payload+size > len(b) || size < 4 {
			break
		}
		next := payload + size
		switch string(b[payload : payload+4]) {
		case "WRHD":
			fs = append(fs, field{"meta-count", payload + 76, 4})
			if size >= 86 {
				fs = append(fs, field{"key-len", payload + 80, 2})
				if k := int(binary.LittleEndian.Uint16(b[payload+80:])); payload+82+k+4 <= next {
					fs = append(fs, field{"value-len", payload + 82 + k, 4})
				}
			}
		case "WRCK":
			fs = append(fs,
				field{"chunk-records", payload + 8, 4},
				field{"chunk-uncompressed", payload + 12, 4},
				field{"chunk-compressed", payload + 16, 4},
				field{"chunk-bytes", payload + 48, 8},
			)
			next += le32(payload + 16) // the zstd frame that follows
		case "WRTR":
			fs = append(fs,
				field{"trailer-chunks", payload + 8, 4},
				field{"trailer-records", payload + 16, 8},
				field{"trailer-duration", payload + 24, 8},
				field{"trailer-bytes", payload + 56, 8},
				field{"trailer-data-end", payload + 64, 8},
				field{"trailer-size", len(b) - 12, 4},
			)
			// The seek index: its first and last entries.
			if n := le32(payload + 8); n > 0 && payload+72+40*n <= next {
				for _, e := range []int{payload + 72, payload + 72 + 40*(n-1)} {
					fs = append(fs,
						field{"index-offset", e, 8},
						field{"index-first-time", e + 8, 8},
						field{"index-last-time", e + 16, 8},
						field{"index-records", e + 24, 4},
						field{"index-uncompressed", e + 28, 4},
						field{"index-compressed", e + 32, 4},
					)
				}
			}
		}
		off = next
	}
	return fs
}

// firstOfEach keeps the first field of each name (the header's, the first
// chunk's), and all of the trailer's.
func firstOfEach(fs []field) []field {
	var out []field
	for i, f := range fs {
		if strings.HasPrefix(f.name, "trailer-") || strings.HasPrefix(f.name, "index-") ||
			!slices.ContainsFunc(fs[:i], func(g field) bool { return g.name == f.name }) {
			out = append(out, f)
		}
	}
	return out
}

// websockifyMutations damage websockify's text: its numbers, escapes,
// quotes, brackets and lines.
var websockifyMutations = []func(b []byte, rng *rand.Rand) []byte{
	// Times far too big, negative, not numbers.
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, msRE, 3, "{99999999999999999999999999{") },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, msRE, 4, "}-9223372036854775808}") },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, msRE, 5, "{9223372036854775807{") },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, msRE, 2, "{1e9{") },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, msRE, 2, "{{") },
	// Escapes cut short or unknown.
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, escRE, 3, `\x`) },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, escRE, 4, `\xZZ`) },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, escRE, 5, `\u`) },
	func(b []byte, _ *rand.Rand) []byte { return replaceNth(b, escRE, 6, `\`) },
	// Quotes and brackets missing or doubled.
	func(b []byte, _ *rand.Rand) []byte { return bytes.Replace(b, []byte("',\n"), []byte(",\n"), 1) },
	func(b []byte, _ *rand.Rand) []byte { return bytes.Replace(b, []byte("'{"), []byte("''{"), 3) },
	func(b []byte, _ *rand.Rand) []byte { return bytes.Replace(b, []byte("["), nil, 1) },
	func(b []byte, _ *rand.Rand) []byte { return bytes.Replace(b, []byte("'EOF'];"), []byte("'EOF'"), 1) },
	func(b []byte, _ *rand.Rand) []byte {
		return bytes.Replace(b, []byte("var VNC_frame_data"), []byte("var VNC_frame_encoding = 'base64';\nvar VNC_frame_data"), 1)
	},
	// A line of 1 MiB, and one message repeated in every line.
	func(b []byte, _ *rand.Rand) []byte {
		return bytes.Replace(b, []byte("'}"), slices.Concat([]byte("'}1}"), bytes.Repeat([]byte(`\xff`), 256<<10), []byte("',\n'}")), 1)
	},
	func(b []byte, rng *rand.Rand) []byte {
		lines := strings.SplitAfter(string(b), "\n")
		i := 1 + rng.IntN(len(lines)-2)
		return []byte(strings.Join(slices.Concat(lines[:i], slices.Repeat(lines[i:i+1], 50), lines[i:]), ""))
	},
}

var (
	msRE  = regexp.MustCompile(`[{}]-?[0-9]+[{}]`)
	escRE = regexp.MustCompile(`\\x[0-9a-f]{2}`)
)

// replaceNth replaces the nth match of re in b (the last if there are
// fewer) with s.
func replaceNth(b []byte, re *regexp.Regexp, n int, s string) []byte {
	locs := re.FindAllIndex(b, n+1)
	if len(locs) == 0 {
		return bytes.Clone(b)
	}
	l := locs[min(n, len(locs)-1)]
	return slices.Concat(b[:l[0]], []byte(s), b[l[1]:])
}
