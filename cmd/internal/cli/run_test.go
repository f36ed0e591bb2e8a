package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCmd is a grammar with a root argument and one subcommand whose Run
// does what its argument says.
type testCmd struct {
	Do doCmd `cmd:"" help:"Do something."`
}

type doCmd struct {
	What string `arg:"" enum:"print,ctx,fail,exit4,silent3,usage" help:"What to do."`
}

type ctxKey struct{}

func (c *doCmd) Run(ctx context.Context, kctx *kong.Context) error {
	switch c.What {
	case "print":
		fmt.Fprintln(kctx.Stdout, "printed")
	case "ctx":
		fmt.Fprintln(kctx.Stdout, ctx.Value(ctxKey{}))
	case "fail":
		return errors.New("it failed")
	case "exit4":
		return fmt.Errorf("wrapped: %w", &ExitError{Code: 4, Err: errors.New("status four")})
	case "silent3":
		return &ExitError{Code: 3}
	case "usage":
		return Usagef("not like %s", "that")
	}
	return nil
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings, in order
		wantStderr []string // substrings, in order; nil means empty
	}{
		{"Help", []string{"--help"}, ExitOK, []string{"Usage: test <command>", "A test program.", "--version", "do <what>"}, nil},
		{"HelpSubcommand", []string{"do", "--help"}, ExitOK, []string{"Usage: test do <what>", "What to do."}, nil},
		{"HelpStopsParsing", []string{"--help", "--version"}, ExitOK, []string{"Usage: test <command>"}, nil},
		{"Version", []string{"--version"}, ExitOK, []string{"test "}, nil},
		{"OK", []string{"do", "print"}, ExitOK, []string{"printed\n"}, nil},
		{"Context", []string{"do", "ctx"}, ExitOK, []string{"from the caller\n"}, nil},
		{"Failure", []string{"do", "fail"}, ExitFailure, nil, []string{"test: error: it failed\n"}},
		{"ExitError", []string{"do", "exit4"}, 4, nil, []string{"test: error: wrapped: status four\n"}},
		{"ExitErrorSilent", []string{"do", "silent3"}, 3, nil, nil},
		{"ErrUnknownFlag", []string{"--bogus"}, ExitUsage, nil, []string{
			"test: error: unknown flag --bogus\n",
			"Usage: test <command>",
			`Run "test --help" for more information.`,
		}},
		{"ErrMissingCommand", nil, ExitUsage, nil, []string{`test: error: expected "do"`, `Run "test --help"`}},
		{"ErrMissingArgument", []string{"do"}, ExitUsage, nil, []string{
			`test: error: expected "<what>"`,
			"Usage: test do <what>",
			`Run "test do --help" for more information.`,
		}},
		{"ErrBadArgument", []string{"do", "dance"}, ExitUsage, nil, []string{"test: error: <what> must be one of", `Run "test do --help"`}},
		{"ErrUsageFromRun", []string{"do", "usage"}, ExitUsage, nil, []string{"test: error: not like that\n", "Usage: test do <what>", `Run "test do --help"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.WithValue(t.Context(), ctxKey{}, "from the caller")
			var stdout, stderr bytes.Buffer
			p := Program{Name: "test", Description: "A test program.", Grammar: &testCmd{}}
			err := Run(ctx, p, tt.args, &stdout, &stderr)
			if got := ExitCode(err); got != tt.wantCode {
				t.Errorf("got exit code %d (err %v), want %d", got, err, tt.wantCode)
			}
			assertContainsInOrder(t, "stdout", stdout.String(), tt.wantStdout)
			assertContainsInOrder(t, "stderr", stderr.String(), tt.wantStderr)
		})
	}
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	p := Program{Name: "test", Grammar: &testCmd{}}
	if err := Run(t.Context(), p, []string{"--version"}, &stdout, new(bytes.Buffer)); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if got, want := stdout.String(), Version("test")+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRunBadGrammar(t *testing.T) {
	t.Parallel()
	bad := &struct {
		A string `arg:"" optional:""`
		B string `arg:""`
	}{}
	err := Run(t.Context(), Program{Name: "test", Grammar: bad}, nil, new(bytes.Buffer), new(bytes.Buffer))
	if got := ExitCode(err); got != ExitFailure {
		t.Errorf("got exit code %d (err %v), want %d", got, err, ExitFailure)
	}
}

// assertContainsInOrder checks that got contains each of want, in order, or
// that got is empty when want is nil.
func assertContainsInOrder(t *testing.T, what, got string, want []string) {
	t.Helper()
	if want == nil {
		if got != "" {
			t.Errorf("got %s %q, want it empty", what, got)
		}
		return
	}
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("got %s:\n%s\nwant it to contain %q (in order)", what, got, w)
			return
		}
		rest = rest[i+len(w):]
	}
}
