// Package logging builds the log handlers that wsproxy and wsreplay share:
// text or JSON lines (log/slog's formats) on standard error and, with a log
// file, appended to that file too.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Formats are the values of the programs' --log-format.
const (
	Text = "text" // slog's key=value lines, as websockify's log reads
	JSON = "json" // one JSON object per line, for log shippers
)

// Options says what Handlers builds. The zero value means text lines at
// the Info level on standard error only.
type Options struct {
	// Format is Text or JSON. Empty means Text.
	Format string
	// File, if not empty, is a file the lines are appended to as well
	// (created with mode 0666 before the umask, as websockify does).
	File string
	// Verbose adds the Debug level.
	Verbose bool
}

// Handlers returns the handlers of opts: one for stderr and one for the
// file, and the function that closes the file. It returns the error of
// opening the file, or one for an unknown format.
func Handlers(stderr io.Writer, opts Options) (handlers []slog.Handler, close func(), err error) {
	hopts := &slog.HandlerOptions{Level: Level(opts.Verbose)}
	newHandler := func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, hopts) }
	switch opts.Format {
	case "", Text:
	case JSON:
		newHandler = func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, hopts) }
	default:
		return nil, nil, fmt.Errorf("log format %q: want %s or %s", opts.Format, Text, JSON)
	}
	handlers = []slog.Handler{newHandler(stderr)}
	close = func() {}
	if opts.File != "" {
		f, err := os.OpenFile(opts.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		handlers = append(handlers, newHandler(f))
		close = func() { f.Close() }
	}
	return handlers, close, nil
}

// Level is the lowest level logged: Debug when verbose, else Info.
func Level(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// New joins handlers into one logger.
func New(handlers ...slog.Handler) *slog.Logger {
	if len(handlers) == 1 {
		return slog.New(handlers[0])
	}
	return slog.New(slog.NewMultiHandler(handlers...))
}
