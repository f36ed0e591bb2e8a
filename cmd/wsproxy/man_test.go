package main

import (
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
)

//go:generate go test -run ^TestManPage$ -update-man .

// TestManPage checks that wsproxy.1 is the manual page of the current command
// line; go generate rewrites it.
func TestManPage(t *testing.T) {
	t.Parallel()
	clitest.AssertManPage(t, program(&rootCmd{}), "wsproxy.1", "wsreplay(1)", "wsrecord-inspect(1)", "websockify(1)")
}
