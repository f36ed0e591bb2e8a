package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/format"
	"github.com/wsproxy/wsproxy/format/recfile"
)

// runOK runs a command line that must succeed.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := runEnv(t.Context(), args, &stdout, &stderr, &env{now: func() time.Time { return testNow }}); err != nil {
		t.Fatalf("%s: %v (exit %d)\n%s", strings.Join(args, " "), err, cli.ExitCode(err), &stderr)
	}
	return stdout.String()
}

// readRecords returns the records of a recording file, payloads copied.
func readRecords(t *testing.T, name string) (format.Header, []format.Record) {
	t.Helper()
	f, err := recfile.Open(name, recfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []format.Record
	for {
		rec, err := f.Next()
		if err != nil {
			return f.Header(), recs
		}
		rec.Payload = bytes.Clone(rec.Payload)
		recs = append(recs, rec)
	}
}

// TestConvertRoundTrip converts websockify's recording to wsrec and back:
// the result must be the original, byte for byte.
func TestConvertRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	orig := filepath.Join(recordings, "websockify-vnc-session.txt")
	wsrec, back := filepath.Join(dir, "imported.wsrec"), filepath.Join(dir, "back.txt")
	runOK(t, "convert", orig, "-o", wsrec, "--sign-key", filepath.Join(fix, "signer.key"))
	runOK(t, "convert", wsrec, "-o", back, "--to", "websockify")
	want, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("websockify → wsrec → websockify: got %d bytes, want the %d of %s", len(got), len(want), orig)
	}
	// And through JSON lines, the same payloads.
	jsonl := runOK(t, "convert", wsrec, "-o", "-", "--to", "jsonl")
	if n := strings.Count(jsonl, "\n"); n != 36 {
		t.Errorf("got %d JSON lines, want a header and 35 records", n)
	}
}

// TestConvertStartFromModTime imports a websockify recording without
// --start: its start is the file's modification time less its duration.
func TestConvertStartFromModTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := copyFile(t, filepath.Join(recordings, "websockify-vnc-session.txt"), dir)
	mtime := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	if err := os.Chtimes(src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.wsrec")
	runOK(t, "convert", src, "-o", out)
	h, recs := readRecords(t, out)
	if want := mtime.Add(-1402 * time.Millisecond); !h.Start.Equal(want) {
		t.Errorf("got start %v, want %v", h.Start, want)
	}
	want := `websockify recording "websockify-vnc-session.txt", imported by wsrecord-inspect at 2026-11-26T08:00:00Z; start estimated from the file's modification time`
	if got := h.Meta[format.MetaSource]; got != want {
		t.Errorf("got source %q, want %q", got, want)
	}
	if len(recs) != 35 {
		t.Errorf("got %d records, want 35", len(recs))
	}
}

// TestConvertOutput checks that an existing file is kept without --force,
// and that a failed conversion leaves nothing behind.
func TestConvertOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.wsrec")
	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"convert", filepath.Join(recordings, "sealed-small.wsrec"), "-o", out}, &stdout, &stderr)
	if cli.ExitCode(err) != cli.ExitFailure || !strings.Contains(stderr.String(), "give --force") {
		t.Errorf("got %v, stderr %q; want a failure asking for --force", err, &stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Errorf("existing output overwritten: %q", b)
	}

	err = run(t.Context(), []string{"convert", filepath.Join(recordings, "tampered-chunk1.wsrec"), "-o", out, "--force"}, &stdout, &stderr)
	if cli.ExitCode(err) != exitDamaged {
		t.Errorf("converting a damaged recording: got exit %d, want %d", cli.ExitCode(err), exitDamaged)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Errorf("output replaced by a failed conversion: %q", b)
	}
	runOK(t, "convert", filepath.Join(recordings, "sealed-small.wsrec"), "-o", out, "--force")
	if _, recs := readRecords(t, out); len(recs) != 40 {
		t.Errorf("--force: got %d records, want 40", len(recs))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("got files %v, want only out.wsrec: a temporary file was left behind", entries)
	}
}

// TestOutputCommitRace checks that an output never replaces a file that
// appeared while it was written.
func TestOutputCommitRace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "out")
	o, err := createOutput(name, false, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("new"))
	if err := os.WriteFile(name, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := o.commit(); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("commit: got %v, want an error saying the file exists", err)
	}
	if b, _ := os.ReadFile(name); string(b) != "first" {
		t.Errorf("got %q, want the file that appeared kept", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("got %v, want the temporary file removed", entries)
	}
}

// TestCutKeepsTimes cuts a slice: its records are those of the original in
// the range, at the same times, after a marker; the header keeps the start
// and metadata.
func TestCutKeepsTimes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(fix, "recordings", "alice-2.wsrec")
	out := filepath.Join(dir, "slice.wsrec")
	from, to := 30*time.Second, 45*time.Second
	runOK(t, "cut", src, "--from", from.String(), "--to", to.String(), "-o", out)
	h0, all := readRecords(t, src)
	h, got := readRecords(t, out)
	var want []format.Record
	for _, r := range all {
		if r.Time >= from && r.Time < to {
			want = append(want, r)
		}
	}
	if len(want) < 50 {
		t.Fatalf("only %d records in the range", len(want))
	}
	if len(got) != len(want)+1 || got[0].Kind != format.KindMarker || got[0].Time != from ||
		!strings.Contains(got[0].Label, `"alice-2.wsrec" (session a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2, part 0)`) {
		t.Fatalf("got %d records starting with %+v, want a marker at %v and %d records", len(got), got[0], from, len(want))
	}
	for i, w := range want {
		g := got[i+1]
		if g.Kind != w.Kind || g.Time != w.Time || g.Dir != w.Dir || !bytes.Equal(g.Payload, w.Payload) || g.Label != w.Label {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
	}
	if !h.Start.Equal(h0.Start) || h.SessionID == h0.SessionID || h.Meta[format.MetaUser] != "alice" ||
		!strings.HasPrefix(h.Meta[format.MetaSource], `cut of wsrec recording "alice-2.wsrec"`) {
		t.Errorf("got header %+v, want the original's start and metadata, a new session ID and a source", h)
	}
	if out := runOK(t, "verify", out); !strings.Contains(out, ": valid:") {
		t.Errorf("verify: %s", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("got files %v, want only slice.wsrec", entries)
	}
}
