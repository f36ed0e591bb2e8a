package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(cli.ExitCode(err))
	}
}

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
