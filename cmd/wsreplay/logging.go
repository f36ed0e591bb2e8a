package main

import (
	"io"
	"log/slog"

	"github.com/wsproxy/wsproxy/cmd/internal/logging"
)

// logger returns the command's logger: lines on stderr and, with
// --log-file, appended to that file too; JSON lines with --log-format json;
// debug lines with -v. close closes the file.
func (c *rootCmd) logger(stderr io.Writer) (log *slog.Logger, close func(), err error) {
	handlers, close, err := logging.Handlers(stderr, logging.Options{Format: c.LogFormat, File: c.LogFile, Verbose: c.Verbose})
	if err != nil {
		return nil, nil, err
	}
	return logging.New(handlers...), close, nil
}
