package main

import (
	"context"
	"io"
	"slices"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

func main() { cli.Main(run) }

// run is the whole program but for the process: it parses args, runs the
// command, reports errors on stderr and returns the error whose cli.ExitCode
// is the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := rootCmd{args: args}
	// As in websockify, everything after the first "--" is the command to
	// wrap; kong would otherwise take it for more positional arguments.
	if i := slices.Index(args, "--"); i >= 0 {
		args, root.Wrap = args[:i], slices.Clone(args[i+1:])
	}
	return cli.Run(ctx, program(&root), args, stdout, stderr)
}

// program is wsproxy's command line, with root as its grammar.
func program(root *rootCmd) cli.Program {
	return cli.Program{Name: "wsproxy", Summary: "relay WebSocket connections to a TCP server, as websockify does", Description: description, Grammar: root}
}
