package clitest

import (
	"reflect"
	"testing"
)

func TestExamples(t *testing.T) {
	t.Parallel()
	const help = `
prog does things: prog 1 2 is not an example.

Examples:

  # First.
  prog --version

  prog 6080   localhost:5900
  other 1
`
	got := Examples(help, "prog")
	want := [][]string{{"--version"}, {"6080", "localhost:5900"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Examples("no examples here", "prog"); got != nil {
		t.Errorf("got %q, want nil", got)
	}
}
