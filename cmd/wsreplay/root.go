package main

import (
	"context"
	"errors"
)

const description = `
wsreplay will serve recordings made by wsproxy to WebSocket clients such as
noVNC, as if they came from the live server, so that a recorded session can be
watched again. Its command line:

  wsreplay [options] [source_addr:]source_port RECORDING|DIR...

The server is being built. This version only checks that command line, then
exits with status 1 and a "not implemented yet" error. Its only options are
--help and --version.

Examples:

  # Print the version.
  wsreplay --version

  # The command line the server will take to serve the recordings in
  # ./recordings on port 6080. Today it exits with status 1.
  wsreplay 6080 ./recordings
`

// errNotImplemented is returned by every command line that parses.
var errNotImplemented = errors.New("the replay server is not implemented yet: this version only checks its command line")

// rootCmd is wsreplay's command line.
type rootCmd struct {
	Source     string   `arg:"" help:"Where to accept WebSocket connections: [source_addr:]source_port."`
	Recordings []string `arg:"" name:"recording" help:"Recording files, or directories of recordings, to serve."`
}

// Run is where the replay server will start.
func (c *rootCmd) Run(ctx context.Context) error {
	return errNotImplemented
}
