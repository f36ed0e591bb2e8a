package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// logger returns the command's logger: text lines on stderr and, with
// --log-file, appended to that file too; debug lines with -v. close closes
// the file.
func (c *rootCmd) logger(stderr io.Writer) (log *slog.Logger, close func(), err error) {
	level := slog.LevelInfo
	if c.Verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	text := slog.NewTextHandler(stderr, opts)
	if c.LogFile == "" {
		return slog.New(text), func() {}, nil
	}
	f, err := os.OpenFile(c.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	return slog.New(slog.NewMultiHandler(text, slog.NewTextHandler(f, opts))), func() { f.Close() }, nil
}
