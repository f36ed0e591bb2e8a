package main

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/inspect")

// goldenDir holds the expected output of every golden case.
const goldenDir = "../../testdata/inspect"

// goldenCase is one or more command lines whose output, exit statuses
// included, must match testdata/inspect/NAME.golden. In the arguments, $REC
// stands for the format package's fixtures, $RFB for format/rfb's, $FIX for
// the fixture directory of TestMain and $TMP for the case's own temporary
// directory.
type goldenCase struct {
	name  string
	steps []string // command lines, split on spaces
	// binary marks steps whose stdout is binary: the golden file has its
	// hex dump.
	binary bool
}

func steps(lines ...string) []string { return lines }

var goldenCases = []goldenCase{
	// info
	{name: "info-sealed-small", steps: steps("info $REC/sealed-small.wsrec")},
	{name: "info-sealed-small-json", steps: steps("info --json $REC/sealed-small.wsrec")},
	{name: "info-sealed-signed", steps: steps("info $REC/sealed-signed.wsrec")},
	{name: "info-sealed-empty", steps: steps("info $REC/sealed-empty.wsrec")},
	{name: "info-unsealed-killed", steps: steps("info $REC/unsealed-killed.wsrec")},
	{name: "info-truncated-mid-chunk", steps: steps("info $REC/truncated-mid-chunk.wsrec", "info --json $REC/truncated-mid-chunk.wsrec")},
	{name: "info-tampered-chunk1", steps: steps("info $REC/tampered-chunk1.wsrec")},
	{name: "info-websockify", steps: steps("info $REC/websockify-vnc-session.txt", "info --json $REC/websockify-vnc-session.txt")},
	{name: "info-not-a-recording", steps: steps("info $REC/websockify-vnc-session.client.json", "info $REC/missing.wsrec")},
	{name: "info-files", steps: steps("info $REC/sealed-small.wsrec $REC/unsealed-killed.wsrec $REC/truncated-mid-chunk.wsrec $REC/websockify-vnc-session.txt")},
	{name: "info-dir", steps: steps("info $FIX/recordings", "info --json $FIX/recordings")},
	{name: "info-dir-sorted", steps: steps("info --sort duration --reverse $FIX/recordings", "info --sort name $FIX/recordings", "info --sort size $FIX/recordings")},
	{name: "info-dir-filters", steps: steps(
		"info --user alice $FIX/recordings",
		"info --client 203.0.113.* $FIX/recordings",
		"info --client 192.0.2.?0:* --target vnc?.example:5900 $FIX/recordings",
		"info --token desk-2 $FIX/recordings",
		"info --target /run/* $FIX/recordings",
		"info --since 2026-11-02 $FIX/recordings",
		"info --since 2026-11-01T12:00:20 --until 2026-11-03T00:00 $FIX/recordings",
		"info --until 2026-10-31T00:00:00+01:00 $FIX/recordings",
		"info --user nobody $FIX/recordings",
	)},
	{name: "info-usage", steps: steps("info --since yesterday $REC", "info --since 2026-11-02 --until 2026-11-01 $REC", "info --sort user $REC")},

	// frames
	{name: "frames-sealed-small", steps: steps("frames $REC/sealed-small.wsrec")},
	{name: "frames-sealed-small-json", steps: steps("frames --json $REC/sealed-small.wsrec")},
	{name: "frames-range-hex", steps: steps("frames --from 20ms --to 30ms --hex $REC/sealed-small.wsrec", "frames --from 20ms --to 30ms --hex --json $REC/sealed-small.wsrec")},
	{name: "frames-filters", steps: steps(
		"frames --dir client --min-size 200 $REC/sealed-small.wsrec",
		"frames --dir target --to 10ms --json $REC/sealed-small.wsrec",
		"frames --grep ^marker $REC/sealed-small.wsrec",
		"frames --from 1s $REC/sealed-small.wsrec",
	)},
	{name: "frames-websockify", steps: steps("frames $REC/websockify-vnc-session.txt", "frames --json --from 400ms --dir client $REC/websockify-vnc-session.txt")},
	{name: "frames-websockify-grep", steps: steps("frames --grep RFB|root@ --hex $REC/websockify-vnc-session.txt")},
	{name: "frames-unsealed-killed", steps: steps("frames --from 50ms $REC/unsealed-killed.wsrec")},
	{name: "frames-truncated-mid-chunk", steps: steps("frames $REC/truncated-mid-chunk.wsrec")},
	{name: "frames-tampered-chunk1", steps: steps("frames $REC/tampered-chunk1.wsrec", "frames --json --from 40ms $REC/tampered-chunk1.wsrec")},
	{name: "frames-usage", steps: steps("frames --to 1s --from 2s $REC/sealed-small.wsrec", "frames --grep ( $REC/sealed-small.wsrec", "frames --dir both $REC/sealed-small.wsrec", "frames --min-size -1 $REC/sealed-small.wsrec")},

	// dump
	{name: "dump-websockify", binary: true, steps: steps("dump --dir target --to 100ms $REC/websockify-vnc-session.txt", "dump --dir client --grep ^\\x04 $REC/websockify-vnc-session.txt")},
	{name: "dump-sealed-small", binary: true, steps: steps("dump --from 20ms --to 30ms $REC/sealed-small.wsrec", "dump --min-size 1000 $REC/sealed-small.wsrec")},
	{name: "dump-to-file", steps: steps("dump --dir client -o $TMP/client.bin $REC/websockify-vnc-session.txt", "info $TMP/client.bin", "dump -o $TMP/client.bin $REC/websockify-vnc-session.txt")},
	{name: "dump-truncated-mid-chunk", binary: true, steps: steps("dump --dir client $REC/truncated-mid-chunk.wsrec")},

	// verify
	{name: "verify-fixtures", steps: steps(
		"verify $REC/sealed-small.wsrec",
		"verify $REC/sealed-signed.wsrec",
		"verify $REC/sealed-empty.wsrec",
		"verify $REC/tampered-chunk1.wsrec",
		"verify $REC/unsealed-killed.wsrec",
		"verify $REC/truncated-mid-chunk.wsrec",
		"verify $REC/websockify-vnc-session.txt",
		"verify $REC/websockify-vnc-session.client.json",
		"verify $REC/missing.wsrec",
	)},
	{name: "verify-pubkey", steps: steps(
		"verify --pubkey $FIX/signer.pub $REC/sealed-signed.wsrec",
		"verify --pubkey $FIX/other.pub $REC/sealed-signed.wsrec",
		"verify --pubkey $FIX/signer.pub $REC/sealed-small.wsrec",
		"verify --pubkey $FIX/signer.pub $REC/tampered-chunk1.wsrec",
		"verify --pubkey $FIX/signer.pub $REC/unsealed-killed.wsrec",
	)},
	{name: "verify-several", steps: steps(
		"verify $REC/sealed-small.wsrec $REC/unsealed-killed.wsrec",
		"verify $REC/unsealed-killed.wsrec $REC/missing.wsrec",
		"verify --pubkey $FIX/signer.pub $REC/sealed-small.wsrec $REC/missing.wsrec",
		"verify $REC/tampered-chunk1.wsrec $REC/missing.wsrec $REC/sealed-signed.wsrec",
		"verify --json --pubkey $FIX/signer.pub $REC/sealed-small.wsrec $REC/sealed-signed.wsrec $REC/tampered-chunk1.wsrec $REC/truncated-mid-chunk.wsrec $REC/websockify-vnc-session.txt $REC/missing.wsrec",
	)},
	{name: "verify-usage", steps: steps("verify", "verify --bogus $REC/sealed-small.wsrec", "verify --pubkey $FIX/signer.key $REC/sealed-small.wsrec", "verify --pubkey $REC/missing.pem $REC/sealed-small.wsrec")},

	// convert
	{name: "convert-import", steps: steps(
		"convert $REC/websockify-vnc-session.txt -o $TMP/imported.wsrec --start 2026-11-25T10:00:00Z --sign-key $FIX/signer.key",
		"info $TMP/imported.wsrec",
		"verify --pubkey $FIX/signer.pub $TMP/imported.wsrec",
		"frames --to 6ms $TMP/imported.wsrec",
		"convert $TMP/imported.wsrec -o $TMP/exported.txt --to websockify",
		"convert $REC/websockify-vnc-session.txt -o $TMP/imported.wsrec",
		"convert $REC/websockify-vnc-session.txt -o $TMP/imported.wsrec --force --start 2026-11-25T11:00:00Z",
		"info $TMP/imported.wsrec",
	)},
	{name: "convert-jsonl", steps: steps("convert $REC/sealed-small.wsrec -o - --to jsonl", "convert $REC/websockify-vnc-session.txt --to jsonl -o $TMP/ws.jsonl")},
	{name: "convert-websockify", steps: steps("convert $REC/sealed-small.wsrec -o - --to websockify")},
	{name: "convert-rewrite", steps: steps(
		"convert $REC/unsealed-killed.wsrec -o $TMP/resealed.wsrec --sign-key $FIX/signer.key",
		"verify --pubkey $FIX/signer.pub $TMP/resealed.wsrec",
		"frames --from 50ms $TMP/resealed.wsrec",
		"convert $TMP/resealed.wsrec -o $TMP/again.wsrec",
		"info $TMP/again.wsrec",
	)},
	{name: "convert-damaged", steps: steps(
		"convert $REC/tampered-chunk1.wsrec -o $TMP/out.wsrec",
		"info $TMP/out.wsrec",
		"convert $REC/truncated-mid-chunk.wsrec -o $TMP/out.wsrec",
		"frames --from 30ms $TMP/out.wsrec",
		"convert $REC/websockify-vnc-session.client.json -o $TMP/out.jsonl",
	)},
	{name: "convert-usage", steps: steps(
		"convert $REC/sealed-small.wsrec -o $TMP/out.bin",
		"convert $REC/sealed-small.wsrec -o $TMP/out.txt --to websockify --sign-key $FIX/signer.key",
		"convert $REC/sealed-small.wsrec -o $TMP/out.wsrec --sign-key $FIX/signer.pub",
		"convert $REC/sealed-small.wsrec --to wsrec",
		"convert $REC/sealed-small.wsrec -o $TMP/out.wsrec --start 2026-11-25T10:00:00Z",
	)},

	// cut
	{name: "cut", steps: steps(
		"cut $REC/sealed-signed.wsrec --from 20ms --to 40ms -o $TMP/slice.wsrec",
		"info $TMP/slice.wsrec",
		"frames $TMP/slice.wsrec",
		"verify $TMP/slice.wsrec",
		"cut $REC/sealed-signed.wsrec --from 50ms -o $TMP/slice.wsrec",
		"cut $REC/sealed-signed.wsrec --from 50ms -o $TMP/slice.wsrec --force --sign-key $FIX/signer.key",
		"frames $TMP/slice.wsrec",
		"verify --pubkey $FIX/signer.pub $TMP/slice.wsrec",
	)},
	{name: "cut-websockify", steps: steps(
		"cut $REC/websockify-vnc-session.txt --from 395ms --to 500ms --start 2026-11-25T10:00:00Z -o $TMP/slice.wsrec",
		"info $TMP/slice.wsrec",
		"frames $TMP/slice.wsrec",
	)},
	{name: "cut-damaged", steps: steps(
		"cut $REC/tampered-chunk1.wsrec --to 5ms -o $TMP/before.wsrec",
		"frames $TMP/before.wsrec",
		"cut $REC/tampered-chunk1.wsrec --from 5ms -o $TMP/after.wsrec",
		"cut $REC/truncated-mid-chunk.wsrec --from 30ms -o $TMP/end.wsrec",
		"frames $TMP/end.wsrec",
		"cut $REC/sealed-small.wsrec --from 2s --to 1s -o $TMP/x.wsrec",
	)},

	// stats
	{name: "stats-websockify", steps: steps("stats $REC/websockify-vnc-session.txt", "stats --json $REC/websockify-vnc-session.txt")},
	{name: "stats-sealed-small", steps: steps("stats --width 30 $REC/sealed-small.wsrec", "stats --json --width 10 $REC/sealed-small.wsrec")},
	{name: "stats-other", steps: steps("stats $REC/sealed-empty.wsrec", "stats $REC/truncated-mid-chunk.wsrec", "stats --width 5 $REC/sealed-small.wsrec")},

	// rfb
	{name: "rfb-xvnc-session", steps: steps("rfb $RFB/xvnc-none-noVNC-like.wsrec")},
	{name: "rfb-xvnc-session-json", steps: steps("rfb --json $RFB/xvnc-none-noVNC-like.wsrec")},
	{name: "rfb-filters", steps: steps(
		"rfb --kind pointer,client-cut-text,server-cut-text $RFB/xvnc-none-noVNC-like.wsrec",
		"rfb --from 1.2s --to 1.6s --kind key,led-state,stop $RFB/xvnc-none-noVNC-like.wsrec",
		"rfb --all --to 60ms $RFB/xvnc-none-noVNC-like.wsrec",
		"rfb --json --kind pointer --from 2.4s --to 2.6s $RFB/xvnc-none-noVNC-like.wsrec",
	)},
	{name: "rfb-xvnc-auth", steps: steps(
		"rfb $RFB/xvnc-vncauth-ok.wsrec",
		"rfb $RFB/xvnc-vncauth-wrong-password.wsrec",
		"rfb --json $RFB/xvnc-vncauth-wrong-password.wsrec",
		"rfb $RFB/xvnc-rfb33.wsrec",
	)},
	{name: "rfb-websockify", steps: steps("rfb $REC/websockify-vnc-session.txt", "rfb --json $REC/websockify-vnc-session.txt", "rfb --all $REC/websockify-vnc-session.txt")},
	{name: "rfb-encrypted", steps: steps("rfb $FIX/rfb/vencrypt-x509.wsrec", "rfb --json --all $FIX/rfb/vencrypt-x509.wsrec")},
	{name: "rfb-damaged", steps: steps(
		"rfb $FIX/rfb/xvnc-truncated.wsrec",
		"rfb --json --kind key $FIX/rfb/xvnc-tampered.wsrec",
		"rfb $FIX/rfb/websockify-cut.txt",
		"rfb --to 1s $FIX/rfb/xvnc-truncated.wsrec",
	)},
	{name: "rfb-not-rfb", steps: steps(
		"rfb $REC/sealed-small.wsrec",
		"rfb $REC/truncated-mid-chunk.wsrec",
		"rfb $REC/tampered-chunk1.wsrec",
		"rfb $REC/unsealed-killed.wsrec",
		"rfb $REC/sealed-empty.wsrec",
		"rfb $REC/websockify-vnc-session.client.json",
	)},
	{name: "rfb-usage", steps: steps("rfb --kind keys $RFB/xvnc-rfb33.wsrec", "rfb --kind key --all $RFB/xvnc-rfb33.wsrec", "rfb --from 2s --to 1s $RFB/xvnc-rfb33.wsrec")},
	{name: "rfb-novnc-chromium", steps: steps("rfb $REC/novnc-chromium-session.wsrec", "rfb --json --kind key,pointer,client-cut-text,server-cut-text $REC/novnc-chromium-session.wsrec")},

	// keys
	{name: "keys-xvnc-session", steps: steps(
		"keys $RFB/xvnc-none-noVNC-like.wsrec",
		"keys --json $RFB/xvnc-none-noVNC-like.wsrec",
		"keys --from 1.25s --to 2s $RFB/xvnc-none-noVNC-like.wsrec",
		"keys --to 1.5s $RFB/xvnc-none-noVNC-like.wsrec",
	)},
	{name: "keys-websockify", steps: steps("keys $REC/websockify-vnc-session.txt", "keys --json $REC/websockify-vnc-session.txt")},
	{name: "keys-other", steps: steps(
		"keys $RFB/xvnc-rfb33.wsrec",
		"keys $RFB/xvnc-vncauth-wrong-password.wsrec",
		"keys --json $RFB/xvnc-vncauth-wrong-password.wsrec",
		"keys $FIX/rfb/vencrypt-x509.wsrec",
		"keys $REC/sealed-small.wsrec",
		"keys --from 2s --to 1s $RFB/xvnc-rfb33.wsrec",
	)},
	{name: "keys-damaged", steps: steps(
		"keys $FIX/rfb/xvnc-truncated.wsrec",
		"keys --json $FIX/rfb/xvnc-tampered.wsrec",
		"keys $FIX/rfb/websockify-cut.txt",
	)},
	{name: "snapshot", steps: steps(
		"snapshot --at 0.5s --at 06:03:20.3 -o $TMP/s.png $REC/novnc-chromium-session.wsrec",
		"snapshot --json --at 3s --no-cursor -o $TMP/t.png $RFB/xvnc-none-noVNC-like.wsrec",
		"snapshot --at 1h -o $TMP/u.png $RFB/xvnc-none-noVNC-like.wsrec",
		"snapshot --at 0s -o $TMP/u.png $RFB/xvnc-none-noVNC-like.wsrec",
		"snapshot --at 10ms -o $TMP/u.png $REC/sealed-small.wsrec",
	)},
	{name: "contact-sheet", steps: steps(
		"contact-sheet --changes --settle 100ms -o $TMP/c.png $RFB/xvnc-none-noVNC-like.wsrec",
		"contact-sheet --json -n 2 -o $TMP/d.png $RFB/xvnc-none-noVNC-like.wsrec",
		"contact-sheet -n 2 -o $TMP/d.png $RFB/xvnc-none-noVNC-like.wsrec",
	)},
	{name: "keys-novnc-chromium", steps: steps("keys $REC/novnc-chromium-session.wsrec", "keys --json $REC/novnc-chromium-session.wsrec")},
}

// TestGolden runs every golden case. Run with -update to rewrite the
// golden files.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			var out bytes.Buffer
			for _, line := range gc.steps {
				fmt.Fprintf(&out, "$ wsrecord-inspect %s\n", line)
				args := strings.Fields(strings.NewReplacer("$REC", recordings, "$RFB", rfbFixtures, "$FIX", fix, "$TMP", tmp).Replace(line))
				var stdout, stderr bytes.Buffer
				err := runEnv(t.Context(), args, &stdout, &stderr, &env{now: func() time.Time { return testNow }})
				so := stdout.String()
				if gc.binary {
					so = hex.Dump(stdout.Bytes())
				}
				fmt.Fprintf(&out, "%s%s[exit %d]\n\n", so, prefixLines("stderr: ", stderr.String()), cli.ExitCode(err))
			}
			got := normalize(out.String(), tmp)
			path := filepath.Join(goldenDir, gc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update to accept it):\n%s", path, diff(string(want), got))
			}
		})
	}
}

// prefixLines puts prefix before every line of s.
func prefixLines(prefix, s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(prefix + line)
	}
	return b.String()
}

var randomSessionID = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// normalize replaces what differs from run to run: the directories, and
// the random session IDs of new recordings (but the fixtures' own).
func normalize(s, tmp string) string {
	s = strings.NewReplacer(tmp, "$TMP", fix, "$FIX", recordings, "$REC", rfbFixtures, "$RFB").Replace(s)
	return randomSessionID.ReplaceAllStringFunc(s, func(id string) string {
		for _, known := range append([]string{"0123456789abcdef0123456789abcdef"}, sessionIDs()...) {
			if id == known {
				return id
			}
		}
		return "<new session ID>"
	})
}

func sessionIDs() []string {
	var ids []string
	for _, s := range sessions {
		ids = append(ids, s.id)
	}
	return ids
}

// diff shows the first lines where want and got differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return "(equal)"
}
