package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/alecthomas/kong"
	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

func main() { cli.Main(run) }

// run is the whole program but for the process: it parses args, runs the
// selected subcommand, reports errors on stderr and returns the error whose
// cli.ExitCode is the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, stdout, stderr, &env{now: time.Now})
}

// env is what commands take from the environment rather than the command
// line, so that tests can fix it.
type env struct {
	now func() time.Time // the clock, for the import time a converted file records
}

// runEnv is run with env.
func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, e *env) error {
	root := &rootCmd{Convert: convertCmd{env: e}, Cut: cutCmd{env: e}}
	for _, read := range []**readFlags{&root.Info.read, &root.Frames.read, &root.Dump.read, &root.Verify.read,
		&root.Convert.read, &root.Cut.read, &root.Stats.read, &root.RFB.read, &root.Keys.read,
		&root.Snapshot.read, &root.ContactSheet.read, &root.Video.read, &root.Index.read} {
		*read = &root.Read
	}
	err := cli.Run(ctx, program(root), args, stdout, stderr)
	root.Read.closeStores()
	// verify's statuses 0 to 4 are its verdicts: a command line it cannot
	// use must not look like one of them (2 is "unsealed").
	if pe, ok := errors.AsType[*kong.ParseError](err); ok && cli.ExitCode(err) == cli.ExitUsage &&
		pe.Context != nil && pe.Context.Selected() != nil && pe.Context.Selected().Name == "verify" {
		return &cli.ExitError{Code: exitVerifyUsage, Err: err}
	}
	return err
}

// program is wsrecord-inspect's command line, with root as its grammar.
func program(root *rootCmd) cli.Program {
	return cli.Program{Name: "wsrecord-inspect", Summary: "summarise, check, convert and show session recordings", Description: description, Grammar: root}
}
