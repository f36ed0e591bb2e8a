package clitest

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
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
