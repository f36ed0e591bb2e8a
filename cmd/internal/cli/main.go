package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is the main function of each of the module's programs: it calls run
// with the command-line arguments (without the program name) and the
// process's standard output and error, under a context that SIGINT and
// SIGTERM cancel, and exits with ExitCode of run's error, or returns when
// run returns nil. run reports its errors itself, as Run does.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(ExitCode(err))
	}
}
