package clitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// Examples returns the arguments of each command line of program in the
// "Examples:" section of help, a program's --help description: every line
// whose first word is program.
func Examples(help, program string) [][]string {
	_, section, _ := strings.Cut(help, "\nExamples:\n")
	var out [][]string
	for line := range strings.Lines(section) {
		if fields := strings.Fields(line); len(fields) > 0 && fields[0] == program {
			out = append(out, fields[1:])
		}
	}
	return out
}

// AssertContains checks that got, the output named what, contains each of
// want, or is empty when want is nil.
func AssertContains(t testing.TB, what, got string, want []string) {
	t.Helper()
	if want == nil && got != "" {
		t.Errorf("got %s %q, want it empty", what, got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("got %s:\n%s\nwant it to contain %q", what, got, w)
		}
	}
}

// RunFunc is a program's testable entry point, run(ctx, args, stdout, stderr).
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// AssertVersion checks that program's --version prints one line,
// "PROGRAM VERSION [REVISION] GOVERSION" (wsproxy v1.2.0 go1.26.8, or
// wsproxy (devel) d9eed70c1f2a-dirty go1.26.8), and nothing on stderr.
func AssertVersion(t *testing.T, program string, run RunFunc) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, &stdout, &stderr); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	got := stdout.String()
	fields := strings.Fields(got)
	if len(fields) < 3 || len(fields) > 4 || fields[0] != program || fields[len(fields)-1] != runtime.Version() || strings.Count(got, "\n") != 1 {
		t.Errorf("got version %q, want one line %q", got, program+" VERSION [REVISION] "+runtime.Version())
	}
	AssertContains(t, "stderr", stderr.String(), nil)
}

// Case is a row of a program's table of command lines.
type Case struct {
	Name       string   // the subtest's name
	Args       []string // the command line, without the program's name
	WantCode   int      // the exit status, cli.ExitCode of run's error
	WantErr    error    // an errors.Is target of run's error; nil checks nothing
	WantStdout []string // substrings; nil means empty
	WantStderr []string // substrings; nil means empty
}

// RunCases runs each case in a parallel subtest named for it: run with its
// Args must return an error whose cli.ExitCode is WantCode (and which is
// WantErr, if set), and print what WantStdout and WantStderr say.
func RunCases(t *testing.T, run RunFunc, cases []Case) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.Args, &stdout, &stderr)
			if got := cli.ExitCode(err); got != tt.WantCode {
				t.Errorf("got exit code %d (err %v), want %d", got, err, tt.WantCode)
			}
			if tt.WantErr != nil && !errors.Is(err, tt.WantErr) {
				t.Errorf("got error %v, want %v", err, tt.WantErr)
			}
			AssertContains(t, "stdout", stdout.String(), tt.WantStdout)
			AssertContains(t, "stderr", stderr.String(), tt.WantStderr)
		})
	}
}
