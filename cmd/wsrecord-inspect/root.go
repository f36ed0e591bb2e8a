package main

import (
	"context"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

const description = `
wsrecord-inspect will read the recordings that wsproxy makes: show their
header, list, dump and verify their frames, and convert them. Its subcommands
are being built together with the recording format. This version has none: it
only prints this help (--help) and its version (--version).

Examples:

  # Print the version.
  wsrecord-inspect --version
`

// rootCmd is wsrecord-inspect's command line. Each subcommand is a field
// tagged cmd:"" whose type, defined in a file of its own (info.go: infoCmd),
// has a Run method.
type rootCmd struct{}

// Run stands in for the subcommands until the first one exists; then kong
// itself rejects a command line without one, and Run must go.
func (c *rootCmd) Run(ctx context.Context) error {
	return cli.Usagef("expected a command, and none is implemented yet")
}
