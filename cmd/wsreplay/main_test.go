package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
	"github.com/wsproxy/wsproxy/format/recfile"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notRec := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notRec, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := writeRecording(t, dir, "a.wsrec")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantErr    error    // errors.Is target, if any
		wantStdout []string // substrings; nil means empty
		wantStderr []string // substrings; nil means empty
	}{
		{name: "Help", args: []string{"--help"}, wantStdout: []string{
			"Usage: wsreplay [<source> [<recording> ...]] [flags]",
			"wsreplay [options] [source_addr:]source_port RECORDING|DIR...",
			"GET /recordings lists the recordings as JSON",
			"ws://HOST:PORT/?token=NAME&speed=4&start=90s&idle-limit=2&end=hold\n",
			"Examples:",
			"    wsreplay --version\n",
			"    wsreplay --web /usr/share/novnc 6080 ./recordings\n",
			"--version          Print the program's version and exit.",
			"--speed=\"1\"", "--idle-limit=SECONDS", "--start=OFFSET", "--loop", "--pace=\"time\"", "--pace-timeout=SECONDS", "--end=\"close\"",
			"--cert=FILE", "--key=FILE", "--ssl-only", "--unix-listen=FILE", "--web=DIR", "--log-file=FILE", "-v, --verbose",
		}},
		{name: "HelpShort", args: []string{"-h"}, wantStdout: []string{"Usage: wsreplay", "Examples:"}},
		{name: "ErrUnknownFlag", args: []string{"--bogus", "6080", "a.wsrec"}, wantCode: cli.ExitUsage, wantStderr: []string{
			"wsreplay: error: unknown flag --bogus\n",
			"Usage: wsreplay [<source> [<recording> ...]] [flags]\n",
			`Run "wsreplay --help" for more information.`,
		}},
		{name: "ErrMissingSource", wantCode: cli.ExitUsage, wantStderr: []string{"wsreplay: error: missing source: give [source_addr:]source_port", `Run "wsreplay --help"`}},
		{name: "ErrMissingRecording", args: []string{"6080"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsreplay: error: missing recording: give one or more RECORDING files or DIRs"}},
		{name: "ErrMissingRecordingUnix", args: []string{"--unix-listen", "s.sock"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsreplay: error: missing recording"}},
		{name: "ErrSource", args: []string{"localhost:http", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: source "localhost:http": want [source_addr:]source_port with a port from 0 to 65535`}},
		{name: "ErrSpeed", args: []string{"--speed", "1000", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: --speed "1000": want a speed from 0.1 to 100, or max`}},
		{name: "ErrStart", args: []string{"--start", "soon", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: --start "soon": want seconds (90, 1.5) or a duration (1m30s, 500ms) >= 0`}},
		{name: "ErrIdleLimit", args: []string{"--idle-limit=-2", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: --idle-limit "-2": want a number of seconds >= 0`}},
		{name: "ErrPace", args: []string{"--pace", "fast", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: --pace must be one of "time","client" but got "fast"`}},
		{name: "ErrEnd", args: []string{"--end", "never", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: --end must be one of "close","hold" but got "never"`}},
		{name: "ErrSSLOnly", args: []string{"--ssl-only", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{"wsreplay: error: --ssl-only needs a certificate: give --cert FILE"}},
		{name: "ErrKey", args: []string{"--key", "k.pem", "6080", rec}, wantCode: cli.ExitUsage, wantStderr: []string{"wsreplay: error: --key needs --cert"}},
		{name: "ErrUnixListenMode", args: []string{"--unix-listen", "s.sock", "--unix-listen-mode", "rw", rec}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: --unix-listen-mode: "rw" is not an octal file mode such as 0600`}},
		{name: "ErrNotRecording", args: []string{"127.0.0.1:0", notRec}, wantCode: cli.ExitFailure, wantErr: recfile.ErrUnknownFormat, wantStderr: []string{"wsreplay: error: replay: " + notRec + ": recfile: not a recording (neither wsrec nor websockify)\n"}},
		{name: "ErrNotExist", args: []string{"127.0.0.1:0", filepath.Join(dir, "missing.wsrec")}, wantCode: cli.ExitFailure, wantErr: os.ErrNotExist, wantStderr: []string{"wsreplay: error: replay: stat " + filepath.Join(dir, "missing.wsrec") + ": no such file or directory\n"}},
		{name: "ErrCert", args: []string{"--cert", notRec, "127.0.0.1:0", rec}, wantCode: cli.ExitFailure, wantStderr: []string{"wsreplay: error: --cert " + notRec + ", --key " + notRec + ": tls: failed to find any PEM data in certificate input\n"}},
		{name: "ErrListen", args: []string{"256.0.0.1:0", rec}, wantCode: cli.ExitFailure, wantStderr: []string{"wsreplay: error: listen: listen tcp: lookup 256.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := cli.ExitCode(err); got != tt.wantCode {
				t.Errorf("got exit code %d (err %v), want %d", got, err, tt.wantCode)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			clitest.AssertContains(t, "stdout", stdout.String(), tt.wantStdout)
			if tt.wantStderr == nil {
				clitest.AssertContains(t, "stderr", stderr.String(), nil)
				return
			}
			clitest.AssertContains(t, "stderr", stderr.String(), tt.wantStderr)
		})
	}
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	clitest.AssertVersion(t, "wsreplay", run)
}

// TestExamples parses each example command line of --help: all must be
// accepted (running them would listen on their fixed ports).
func TestExamples(t *testing.T) {
	t.Parallel()
	examples := clitest.Examples(description, "wsreplay")
	if len(examples) < 3 {
		t.Fatalf("got examples %q, want at least 3", examples)
	}
	for _, args := range examples {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			for i, a := range args {
				if a == "--web" {
					if _, err := os.Stat(args[i+1]); err != nil {
						t.Skipf("--web %s: %v", args[i+1], err)
					}
				}
			}
			var stdout bytes.Buffer
			parser, err := kong.New(&rootCmd{}, kong.Name("wsreplay"), kong.Writers(&stdout, &stdout),
				kong.Exit(func(int) {}), kong.Vars{"version": "test"})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(args, "--version") {
				return // the flag of cli.Run
			}
			if _, err := parser.Parse(args); err != nil {
				t.Errorf("got error %v, want nil", err)
			}
		})
	}
}
