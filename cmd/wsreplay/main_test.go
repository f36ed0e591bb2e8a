package main

import (
	"bytes"
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
	tests := []clitest.Case{
		{Name: "Help", Args: []string{"--help"}, WantStdout: []string{
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
		{Name: "HelpShort", Args: []string{"-h"}, WantStdout: []string{"Usage: wsreplay", "Examples:"}},
		{Name: "ErrUnknownFlag", Args: []string{"--bogus", "6080", "a.wsrec"}, WantCode: cli.ExitUsage, WantStderr: []string{
			"wsreplay: error: unknown flag --bogus\n",
			"Usage: wsreplay [<source> [<recording> ...]] [flags]\n",
			`Run "wsreplay --help" for more information.`,
		}},
		{Name: "ErrMissingSource", WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: missing source: give [source_addr:]source_port", `Run "wsreplay --help"`}},
		{Name: "ErrMissingRecording", Args: []string{"6080"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: missing recording: give one or more RECORDING files or DIRs"}},
		{Name: "ErrMissingRecordingUnix", Args: []string{"--unix-listen", "s.sock"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: missing recording"}},
		{Name: "ErrSource", Args: []string{"localhost:http", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: source "localhost:http": want [source_addr:]source_port with a port from 0 to 65535`}},
		{Name: "ErrSpeed", Args: []string{"--speed", "1000", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: --speed "1000": want a speed from 0.1 to 100, or max`}},
		{Name: "ErrStart", Args: []string{"--start", "soon", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: --start "soon": want seconds (90, 1.5) or a duration (1m30s, 500ms) >= 0`}},
		{Name: "ErrIdleLimit", Args: []string{"--idle-limit=-2", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: --idle-limit "-2": want a number of seconds >= 0`}},
		{Name: "ErrPace", Args: []string{"--pace", "fast", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: --pace must be one of "time","client" but got "fast"`}},
		{Name: "ErrEnd", Args: []string{"--end", "never", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: --end must be one of "close","hold" but got "never"`}},
		{Name: "ErrSSLOnly", Args: []string{"--ssl-only", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --ssl-only needs a certificate: give --cert FILE (self.pem not found)"}},
		{Name: "ErrKey", Args: []string{"--key", "k.pem", "6080", rec}, WantCode: cli.ExitUsage, WantStderr: []string{"wsreplay: error: --key needs a certificate: give --cert FILE (self.pem not found)"}},
		{Name: "ErrUnixListenMode", Args: []string{"--unix-listen", "s.sock", "--unix-listen-mode", "rw", rec}, WantCode: cli.ExitUsage, WantStderr: []string{`wsreplay: error: --unix-listen-mode: "rw" is not an octal file mode such as 0600`}},
		{Name: "ErrNotRecording", Args: []string{"127.0.0.1:0", notRec}, WantCode: cli.ExitFailure, WantErr: recfile.ErrUnknownFormat, WantStderr: []string{"wsreplay: error: replay: " + notRec + ": recfile: not a recording (neither wsrec nor websockify)\n"}},
		{Name: "ErrNotExist", Args: []string{"127.0.0.1:0", filepath.Join(dir, "missing.wsrec")}, WantCode: cli.ExitFailure, WantErr: os.ErrNotExist, WantStderr: []string{"wsreplay: error: replay: stat " + filepath.Join(dir, "missing.wsrec") + ": no such file or directory\n"}},
		{Name: "ErrCert", Args: []string{"--cert", notRec, "127.0.0.1:0", rec}, WantCode: cli.ExitFailure, WantStderr: []string{"wsreplay: error: cert " + notRec + ": no PEM private key found\n"}},
		{Name: "ErrListen", Args: []string{"256.0.0.1:0", rec}, WantCode: cli.ExitFailure, WantStderr: []string{"wsreplay: error: listen: listen tcp: lookup 256.0.0.1"}},
	}
	clitest.RunCases(t, run, tests)
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
