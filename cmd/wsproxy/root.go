package main

import (
	"context"
	"errors"
)

const description = `
wsproxy will relay WebSocket connections to a TCP server, as websockify does,
and record each session. It is meant as a drop-in replacement for websockify
and takes websockify's command line:

  wsproxy [options] [source_addr:]source_port [target_addr:target_port]
  wsproxy [options] [source_addr:]source_port -- WRAP_COMMAND_LINE

The proxy is being built. This version only checks that command line, then
exits with status 1 and a "not implemented yet" error. Its only options are
--help and --version.

Examples:

  # Print the version.
  wsproxy --version

  # The command line the proxy will take to serve port 6080 and relay to
  # the VNC server on localhost:5900. Today it exits with status 1.
  wsproxy 6080 localhost:5900
`

// errNotImplemented is returned by every command line that parses.
var errNotImplemented = errors.New("the proxy is not implemented yet: this version only checks its command line")

// rootCmd is wsproxy's command line.
type rootCmd struct {
	Source string `arg:"" help:"Where to accept WebSocket connections: [source_addr:]source_port."`
	Target string `arg:"" optional:"" help:"The TCP server to relay to: target_addr:target_port. Left out when WRAP_COMMAND_LINE follows."`

	// Wrap is the command line after "--", set by run before parsing; nil
	// when there was no "--".
	Wrap []string `kong:"-"`
}

// Validate requires a target or a command to wrap, but not both.
func (c *rootCmd) Validate() error {
	switch {
	case c.Source == "":
		return nil // kong calls Validate before it checks required arguments: let it report this
	case c.Wrap == nil && c.Target == "":
		return errors.New("missing target: give target_addr:target_port, or -- WRAP_COMMAND_LINE")
	case c.Wrap != nil && c.Target != "":
		return errors.New("give a target or -- WRAP_COMMAND_LINE, not both")
	case c.Wrap != nil && len(c.Wrap) == 0:
		return errors.New("missing WRAP_COMMAND_LINE after --")
	}
	return nil
}

// Run is where the proxy will start.
func (c *rootCmd) Run(ctx context.Context) error {
	return errNotImplemented
}
