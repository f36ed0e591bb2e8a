package main

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantErr    error    // errors.Is target, if any
		wantStdout []string // substrings; nil means empty
		wantStderr []string // substrings; nil means empty
	}{
		{name: "Help", args: []string{"--help"}, wantStdout: []string{
			"Usage: wsreplay <source> <recording> ... [flags]",
			"wsreplay [options] [source_addr:]source_port RECORDING|DIR...",
			"not implemented yet",
			"Examples:",
			"    wsreplay --version\n",
			"    wsreplay 6080 ./recordings\n",
			"--version    Print the program's version and exit.",
		}},
		{name: "HelpShort", args: []string{"-h"}, wantStdout: []string{"Usage: wsreplay", "Examples:"}},
		{name: "ErrUnknownFlag", args: []string{"--bogus", "6080", "a.wsrec"}, wantCode: cli.ExitUsage, wantStderr: []string{
			"wsreplay: error: unknown flag --bogus\n",
			"Usage: wsreplay <source> <recording> ... [flags]\n",
			`Run "wsreplay --help" for more information.`,
		}},
		{name: "ErrMissingSource", wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: expected "<source> <recording> ..."`, `Run "wsreplay --help"`}},
		{name: "ErrMissingRecording", args: []string{"6080"}, wantCode: cli.ExitUsage, wantStderr: []string{`wsreplay: error: expected "<recording> ..."`, `Run "wsreplay --help"`}},
		{name: "NotImplemented", args: []string{"127.0.0.1:6080", "a.wsrec", "recordings/"}, wantCode: cli.ExitFailure, wantErr: errNotImplemented, wantStderr: []string{"wsreplay: error: the replay server is not implemented yet"}},
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
			clitest.AssertContains(t, "stderr", stderr.String(), tt.wantStderr)
		})
	}
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, &stdout, &stderr); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	// wsreplay v1.2.0 go1.26.8, or wsreplay (devel) d9eed70c1f2a-dirty go1.26.8
	got := stdout.String()
	fields := strings.Fields(got)
	if len(fields) < 3 || len(fields) > 4 || fields[0] != "wsreplay" || fields[len(fields)-1] != runtime.Version() || strings.Count(got, "\n") != 1 {
		t.Errorf("got version %q, want one line %q", got, "wsreplay VERSION [REVISION] "+runtime.Version())
	}
	clitest.AssertContains(t, "stderr", stderr.String(), nil)
}

// TestExamples runs each example command line of --help: all must parse, and
// exit 0 or, while the server is not built, 1 for "not implemented yet".
func TestExamples(t *testing.T) {
	t.Parallel()
	examples := clitest.Examples(description, "wsreplay")
	if len(examples) < 2 {
		t.Fatalf("got examples %q, want at least 2", examples)
	}
	for _, args := range examples {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), args, &stdout, &stderr)
			if err != nil && !errors.Is(err, errNotImplemented) {
				t.Errorf("got error %v (exit code %d), want nil or errNotImplemented", err, cli.ExitCode(err))
			}
		})
	}
}
