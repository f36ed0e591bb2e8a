package main

import (
	"bytes"
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
		wantStdout []string // substrings; nil means empty
		wantStderr []string // substrings; nil means empty
	}{
		{name: "Help", args: []string{"--help"}, wantStdout: []string{
			"Usage: wsrecord-inspect [flags]",
			"This version has none",
			"Examples:",
			"    wsrecord-inspect --version\n",
			"--version    Print the program's version and exit.",
		}},
		{name: "HelpShort", args: []string{"-h"}, wantStdout: []string{"Usage: wsrecord-inspect", "Examples:"}},
		{name: "ErrUnknownFlag", args: []string{"--bogus"}, wantCode: cli.ExitUsage, wantStderr: []string{
			"wsrecord-inspect: error: unknown flag --bogus\n",
			"Usage: wsrecord-inspect [flags]\n",
			`Run "wsrecord-inspect --help" for more information.`,
		}},
		{name: "ErrMissingCommand", wantCode: cli.ExitUsage, wantStderr: []string{"wsrecord-inspect: error: expected a command", `Run "wsrecord-inspect --help"`}},
		{name: "ErrUnknownCommand", args: []string{"info", "a.wsrec"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsrecord-inspect: error: unexpected argument info", `Run "wsrecord-inspect --help"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := cli.ExitCode(err); got != tt.wantCode {
				t.Errorf("got exit code %d (err %v), want %d", got, err, tt.wantCode)
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
	// wsrecord-inspect v1.2.0 go1.26.8, or wsrecord-inspect (devel) d9eed70c1f2a-dirty go1.26.8
	got := stdout.String()
	fields := strings.Fields(got)
	if len(fields) < 3 || len(fields) > 4 || fields[0] != "wsrecord-inspect" || fields[len(fields)-1] != runtime.Version() || strings.Count(got, "\n") != 1 {
		t.Errorf("got version %q, want one line %q", got, "wsrecord-inspect VERSION [REVISION] "+runtime.Version())
	}
	clitest.AssertContains(t, "stderr", stderr.String(), nil)
}

// TestExamples runs each example command line of --help: all must parse, and
// exit 0.
func TestExamples(t *testing.T) {
	t.Parallel()
	examples := clitest.Examples(description, "wsrecord-inspect")
	if len(examples) < 1 {
		t.Fatalf("got examples %q, want at least 1", examples)
	}
	for _, args := range examples {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), args, &stdout, &stderr)
			if err != nil {
				t.Errorf("got error %v (exit code %d), want nil", err, cli.ExitCode(err))
			}
		})
	}
}
