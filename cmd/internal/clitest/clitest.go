package clitest

import (
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
