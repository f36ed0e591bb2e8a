package main

import (
	"context"
	"io"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

func main() { cli.Main(run) }

// run is the whole program but for the process: it parses args, runs the
// command, reports errors on stderr and returns the error whose cli.ExitCode
// is the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return cli.Run(ctx, program(&rootCmd{}), args, stdout, stderr)
}

// program is wsreplay's command line, with root as its grammar.
func program(root *rootCmd) cli.Program {
	return cli.Program{Name: "wsreplay", Summary: "serve session recordings to WebSocket clients as if they were live", Description: description, Grammar: root}
}
