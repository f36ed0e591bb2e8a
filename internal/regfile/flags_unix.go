//go:build unix

package regfile

import (
	"os"
	"syscall"
)

// openFlags opens without waiting for a writer should the file be a named
// pipe after all, and without making a terminal the controlling one.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
